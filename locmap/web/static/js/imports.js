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
    var progress = document.getElementById("import-progress");
    var delay = 500;
    function poll() {
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
        .then(function (d) {
          if (label.textContent !== d.status) {
            label.textContent = d.status;
            label.className = "status status-" + d.status;
            if (d.status === "running" && progress) {
              progress.textContent = "The import is running; this page updates by itself.";
            }
          }
          if (d.status !== "pending" && d.status !== "running") { window.location.reload(); return; }
          delay = Math.min(delay * 1.5, 5000);
          window.setTimeout(poll, delay);
        })
        .catch(function () { window.setTimeout(poll, 5000); });
    }
    window.setTimeout(poll, delay);
  });
})();

/* The OSM preview: filter the named features by name, and tick a feature's layer when the
   feature is picked as a place (a place is only made from a layer being imported). */
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    var table = document.getElementById("osm-named");
    if (!table) { return; }
    var filter = document.getElementById("osm-filter");
    if (filter) {
      filter.addEventListener("input", function () {
        var q = filter.value.trim().toLowerCase();
        Array.prototype.forEach.call(table.tBodies[0].rows, function (row) {
          row.hidden = q !== "" && row.cells[1].textContent.toLowerCase().indexOf(q) === -1;
        });
      });
    }
    table.addEventListener("change", function (ev) {
      var box = ev.target;
      if (!box.checked || box.name !== "place") { return; }
      var preset = document.querySelector('#osm-presets input[value="' + box.getAttribute("data-preset") + '"]');
      if (preset) { preset.checked = true; }
    });
  });
})();
