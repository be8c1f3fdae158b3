/* Assessment result page: the place, Gi* hot cells and perceived-safety cells on a Leaflet map,
   and Chart.js charts of the monthly trend and harm categories. Data comes from the JSON
   block rendered by the server (the CSP forbids inline scripts). */
(function () {
  "use strict";
  var el = document.getElementById("assessment-data");
  if (!el) { return; }
  var data = JSON.parse(el.textContent);
  var snap = data.indicators || {};
  var RATING = { red: "#c62828", amber: "#ef8f00", green: "#2e7d32" };

  function drawMap() {
    var box = document.getElementById("assessment-map");
    if (!box || !data.place.geometry) { return; }
    var map = LocmapMap.create(box, {});
    // Leaflet needs a view before vector layers are added to the map.
    var ringM = (snap.settings && snap.settings.ring_m) || 500;
    var c = L.geoJSON(data.place.geometry).getBounds().getCenter();
    map.fitBounds(L.latLng(c).toBounds(ringM * 2.6));
    var group = L.featureGroup().addTo(map);
    // Perceived safety: the combined surface of the latest period (grid cells, withheld
    // for partners below the threshold), not single maps.
    var perceived = data.perceived || { cells: [] };
    perceived.cells.forEach(function (cell) {
      if (!cell.geometry) { return; }
      var colour = "#9e9e9e", tip = "Perceived safety: withheld (fewer maps than the threshold)";
      if (!cell.withheld && cell.shares && cell.mostly) {
        colour = RATING[cell.mostly];  // the server's rule (perceived_safety.mostly)
        tip = "Perceived safety " + perceived.period + ": " + cell.maps + " maps, red " + Math.round(cell.shares.red) +
          "%, amber " + Math.round(cell.shares.amber) + "%, green " + Math.round(cell.shares.green) + "%";
      }
      L.geoJSON(cell.geometry, { style: { color: colour, weight: 1, fillColor: colour, fillOpacity: 0.3 } })
        .bindTooltip(locmap.text(tip)).addTo(group);
    });
    ((snap.hotspots && snap.hotspots.hot_cells) || []).forEach(function (c) {
      L.geoJSON(c.geometry, { style: { color: "#b71c1c", weight: 1, fillColor: "#e53935", fillOpacity: 0.45 } })
        .bindTooltip(locmap.text("Gi* hot cell")).addTo(group);
    });
    var place = L.geoJSON(data.place.geometry, {
      style: { color: "#0d47a1", weight: 3, fillOpacity: 0.3 },
      pointToLayer: function (f, latlng) { return L.circleMarker(latlng, { radius: 9, color: "#0d47a1", fillColor: "#1565c0", fillOpacity: 0.9 }); }
    }).addTo(group);
    place.bindTooltip(locmap.text(data.place.name));  // text, never HTML: names are user input
    L.circle(c, { radius: ringM, color: "#0d47a1", weight: 1, dashArray: "4 4", fill: false, interactive: false }).addTo(map);
  }

  function drawCharts() {
    if (typeof Chart === "undefined" || !snap.indicators) { return; }
    var m = snap.indicators.monthly;
    var line = document.getElementById("monthly-chart");
    if (line) {
      new Chart(line, {
        type: "line",
        data: { labels: m.months, datasets: [{ label: "incidents at the place", data: m.counts, borderColor: "#1565c0", backgroundColor: "rgba(21,101,192,.15)", fill: true, tension: 0.2 }] },
        options: { maintainAspectRatio: false, animation: false, scales: { y: { beginAtZero: true } }, plugins: { legend: { display: false } } }
      });
    }
    var bar = document.getElementById("category-chart");
    if (bar) {
      var cats = snap.indicators.by_category.map(function (g) {
        return { name: g.value, n: g.rates[0].count };
      }).filter(function (g) { return g.n > 0; }).sort(function (a, b) { return b.n - a.n; });
      new Chart(bar, {
        type: "bar",
        data: { labels: cats.map(function (g) { return g.name.replace(/_/g, " "); }), datasets: [{ label: "incidents at the place", data: cats.map(function (g) { return g.n; }), backgroundColor: "#6a1b9a" }] },
        options: { indexAxis: "y", maintainAspectRatio: false, animation: false, plugins: { legend: { display: false } } }
      });
    }
  }

  drawMap();
  drawCharts();
})();
