/* Shared by every page (base.html loads it after Leaflet, before the page's own script).
   locmap.text(s): user text (place names, labels, pseudonyms) for a Leaflet tooltip or
   popup as a text node in a span, never a string, because Leaflet puts a string in with
   innerHTML and a place named "<img src=x onerror=…>" would become a live element.
   Sizes that depend on data (bar widths, heat-map shades) come as data-* attributes and
   are set here through the CSSOM: the CSP refuses inline style attributes.
   locmap.queue(mode, work): a transaction on the field page's offline queue (IndexedDB
   "locmap-field", see field.js). It lives here because logging out empties it on any page:
   a shared phone must not keep, nor send under the next person's session, what one
   practitioner recorded (each item also carries its author, body[data-user]). */
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

  // --- the offline queue, and what logging out clears -----------------------------------
  var QUEUE_DB = "locmap-field", QUEUE_STORE = "queue";

  function queue(mode, work) {
    return new Promise(function (resolve, reject) {
      var req = indexedDB.open(QUEUE_DB, 1);
      req.onupgradeneeded = function () {
        req.result.createObjectStore(QUEUE_STORE, { keyPath: "id", autoIncrement: true });
      };
      req.onerror = function () { reject(req.error); };
      req.onsuccess = function () {
        var db = req.result, t = db.transaction(QUEUE_STORE, mode);
        var out = work(t.objectStore(QUEUE_STORE));
        // Closed at once: an open connection would block the deletion at logout elsewhere.
        t.oncomplete = function () {
          db.close();
          resolve(out && out.result !== undefined ? out.result : out);
        };
        t.onerror = function () { db.close(); reject(t.error); };
      };
    });
  }

  function currentUser() {
    var u = document.body && document.body.getAttribute("data-user");
    return u ? parseInt(u, 10) : null;
  }

  // Empty the queue and the service worker's page cache (sw.js, "<version>-pages").
  function forget() {
    var waits = [];
    if (window.indexedDB) {
      waits.push(queue("readwrite", function (s) { s.clear(); }).catch(function () { return null; }));
    }
    if (window.caches) {
      waits.push(caches.keys().then(function (names) {
        return Promise.all(names.filter(function (n) { return /-pages$/.test(n); })
          .map(function (n) { return caches.delete(n); }));
      }).catch(function () { return null; }));
    }
    return Promise.all(waits);
  }

  // Log out: say what is not sent yet (it is deleted with the rest), then forget, then post.
  function wireLogout() {
    // The top bar's Log out, and the account page's (the one a phone shows).
    document.querySelectorAll('form[action$="/logout"]').forEach(function (form) {
      form.addEventListener("submit", function (ev) {
        ev.preventDefault();
        var me = currentUser();
        var mine = window.indexedDB ? queue("readonly", function (s) { return s.getAll(); })
          .then(function (items) {
            return items.filter(function (i) { return i.user === me; }).length;
          }, function () { return 0; }) : Promise.resolve(0);
        mine.then(function (n) {
          if (n && !window.confirm(n + (n === 1 ? " record" : " records") + " made on the " +
              "field page are not sent yet. Logging out deletes them from this device. " +
              "Log out anyway?")) { return; }
          forget().then(function () { form.submit(); });
        });
      });
    });
  }

  window.locmap = { text: text, queue: queue, currentUser: currentUser };
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", wireLogout);
  } else {
    wireLogout();
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { applySizes(document); });
  } else {
    applySizes(document);
  }
})();
