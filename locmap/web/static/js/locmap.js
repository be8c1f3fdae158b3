/* Shared by every page (base.html loads it after Leaflet, before the page's own script).
   locmap.text(s): user text (place names, labels, pseudonyms) for a Leaflet tooltip or
   popup as a text node in a span, never a string, because Leaflet puts a string in with
   innerHTML and a place named "<img src=x onerror=…>" would become a live element.
   Sizes that depend on data (bar widths, heat-map shades) come as data-* attributes and
   are set here through the CSSOM: the CSP refuses inline style attributes. */
(function () {
  "use strict";

  function text(s) {
    var span = document.createElement("span");
    span.textContent = s === null || s === undefined ? "" : String(s);
    return span;
  }

  function applySizes(root) {
    root.querySelectorAll("[data-width]").forEach(function (el) {
      var w = parseFloat(el.getAttribute("data-width"));
      if (isFinite(w)) { el.style.width = Math.max(0, Math.min(100, w)) + "%"; }
    });
    // A cell of the hour × weekday heat map: red at the given strength (0–1).
    root.querySelectorAll("[data-heat]").forEach(function (el) {
      var h = parseFloat(el.getAttribute("data-heat"));
      if (!isFinite(h)) { return; }
      h = Math.max(0, Math.min(1, h));
      el.style.background = "rgba(183,28,28," + h.toFixed(2) + ")";
      el.style.color = h > 0.5 ? "#fff" : "#333";
    });
  }

  window.locmap = { text: text };
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { applySizes(document); });
  } else {
    applySizes(document);
  }
})();
