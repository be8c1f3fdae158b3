/* Impact and displacement pages: Chart.js monthly series with the intervention month
   marked by a dashed vertical line, and a Leaflet map of the target, buffer and control.
   Data come from the JSON blocks the server renders (the CSP forbids inline scripts). */
(function () {
  "use strict";
  var COLOURS = { target: "#1565c0", buffer: "#c62828", control: "#757575" };

  // Draws a dashed line at the intervention month (options.plugins.interventionLine.month).
  var interventionLine = {
    id: "interventionLine",
    afterDatasetsDraw: function (chart, args, opts) {
      if (!opts || !opts.month) { return; }
      var i = chart.data.labels.indexOf(opts.month);
      if (i < 0) { return; }
      var x = chart.scales.x.getPixelForValue(i);
      var area = chart.chartArea, ctx = chart.ctx;
      ctx.save();
      ctx.strokeStyle = "#2e7d32";
      ctx.lineWidth = 2;
      ctx.setLineDash([6, 4]);
      ctx.beginPath();
      ctx.moveTo(x, area.top);
      ctx.lineTo(x, area.bottom);
      ctx.stroke();
      ctx.setLineDash([]);
      ctx.fillStyle = "#2e7d32";
      ctx.font = "12px sans-serif";
      ctx.fillText(opts.text || "intervention", x + 4, area.top + 12);
      ctx.restore();
    }
  };

  function lineChart(canvas, labels, sets, month) {
    if (!canvas || typeof Chart === "undefined") { return; }
    new Chart(canvas, {
      type: "line",
      data: {
        labels: labels,
        datasets: sets.map(function (s) {
          return { label: s.label, data: s.data, borderColor: s.colour, backgroundColor: s.colour,
                   borderWidth: 2, pointRadius: 2, tension: 0.15, fill: false };
        })
      },
      options: {
        maintainAspectRatio: false, animation: false,
        scales: { y: { beginAtZero: true, title: { display: true, text: "incidents per month" } } },
        plugins: { interventionLine: { month: month, text: "change " + month } }
      },
      plugins: [interventionLine]
    });
  }

  function impactPage(data) {
    var d = data.impact;
    lineChart(document.getElementById("impact-chart"), d.months, [
      { label: "target: " + d.place.name, data: d.months.map(function (m) { return d.series.target[m]; }), colour: COLOURS.target },
      { label: "buffer", data: d.months.map(function (m) { return d.series.buffer[m]; }), colour: COLOURS.buffer },
      { label: "control", data: d.months.map(function (m) { return d.series.control[m]; }), colour: COLOURS.control }
    ], d.intervention.month);

    var box = document.getElementById("impact-map");
    if (!box || !d.place.geometry || typeof L === "undefined") { return; }
    var map = LocmapMap.create(box, { noteId: "impact-map-note" });
    var centre = L.geoJSON(d.place.geometry).getBounds().getCenter();
    var ring = d.settings.buffer_m || 0;
    map.fitBounds(L.latLng(centre).toBounds(Math.max(ring, 200) * 2.4));
    if (d.settings.control_geometry) {
      L.geoJSON(d.settings.control_geometry, { style: { color: COLOURS.control, weight: 1, dashArray: "3 3", fillOpacity: 0.08 } })
        .bindTooltip(locmap.text("control")).addTo(map);
    }
    if (ring > 0) {
      L.circle(centre, { radius: ring, color: COLOURS.buffer, weight: 2, dashArray: "6 4", fillOpacity: 0.05 })
        .bindTooltip(locmap.text("buffer ring " + ring + " m")).addTo(map);
    }
    d.settings.buffer_places.forEach(function (p) {
      L.geoJSON(p.geometry, {
        style: { color: COLOURS.buffer, weight: 3, fillOpacity: 0.25 },
        pointToLayer: function (f, ll) { return L.circle(ll, { radius: d.settings.place_m, color: COLOURS.buffer, fillOpacity: 0.3 }); }
      }).bindTooltip(locmap.text("buffer: " + p.name)).addTo(map);  // text, never HTML
    });
    L.geoJSON(d.place.geometry, {
      style: { color: COLOURS.target, weight: 3, fillOpacity: 0.3 },
      pointToLayer: function (f, ll) { return L.circle(ll, { radius: d.settings.place_m, color: COLOURS.target, fillOpacity: 0.35 }); }
    }).bindTooltip(locmap.text("target: " + d.place.name)).addTo(map);
  }

  function displacementPage(data) {
    data.flags.forEach(function (f, i) {
      lineChart(document.getElementById("flag-chart-" + i), f.months, [
        { label: f.source.name, data: f.source_series, colour: COLOURS.target },
        { label: f.dest.name, data: f.dest_series, colour: COLOURS.buffer }
      ], f.month);
    });
  }

  var el = document.getElementById("impact-data");
  if (el) { impactPage(JSON.parse(el.textContent)); }
  el = document.getElementById("displacement-data");
  if (el) { displacementPage(JSON.parse(el.textContent)); }
}());
