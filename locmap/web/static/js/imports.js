/* The import result page: while the import is pending or running, poll its status from
   the API and reload the page once it has finished (the server renders the result). */
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    var box = document.getElementById("import-result");
    if (!box) { return; }
    var status = box.getAttribute("data-status");
    if (status !== "pending" && status !== "running") { return; }
    var url = box.getAttribute("data-status-url");
    var label = document.getElementById("import-status");
    var delay = 500;
    function poll() {
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
        .then(function (d) {
          label.textContent = d.status;
          if (d.status !== "pending" && d.status !== "running") { window.location.reload(); return; }
          delay = Math.min(delay * 1.5, 5000);
          window.setTimeout(poll, delay);
        })
        .catch(function () { window.setTimeout(poll, 5000); });
    }
    window.setTimeout(poll, delay);
  });
})();
