/* Plan page: one Chart.js chart per KPI — measurements per quarter against the baseline
   and target lines, with the plan start and each review point marked. Data comes from the
   JSON block rendered by the server (the CSP forbids inline scripts); text is drawn on the
   canvas, never inserted as HTML. */
(function () {
  "use strict";
  var el = document.getElementById("plan-data");
  if (!el || typeof Chart === "undefined") { return; }
  var data = JSON.parse(el.textContent);
  var DAY = 86400000;

  function ms(iso) { return Date.parse(iso + "T00:00:00Z"); }
  function fmt(v) { return new Date(v).toISOString().slice(0, 10); }

  var marks = [{ x: ms(data.starts_on), text: "plan starts", color: "#1565c0" }];
  (data.review_points || []).forEach(function (r) {
    marks.push({ x: ms(r.due_on), text: "review " + r.number, color: "#6a1b9a" });
  });

  // Vertical lines for the plan start and review points, drawn on the chart area.
  var markers = {
    id: "planMarkers",
    afterDatasetsDraw: function (chart) {
      var x = chart.scales.x, area = chart.chartArea, ctx = chart.ctx;
      ctx.save();
      marks.forEach(function (m, i) {
        if (m.x < x.min || m.x > x.max) { return; }
        var px = x.getPixelForValue(m.x);
        ctx.strokeStyle = m.color; ctx.setLineDash([4, 3]); ctx.lineWidth = 1;
        ctx.beginPath(); ctx.moveTo(px, area.top); ctx.lineTo(px, area.bottom); ctx.stroke();
        ctx.setLineDash([]); ctx.fillStyle = m.color; ctx.font = "10px sans-serif";
        ctx.fillText(m.text, px + 3, area.top + 10 + (i % 2) * 11);  // stagger close labels
      });
      ctx.restore();
    }
  };

  function draw(k) {
    var canvas = document.getElementById("kpi-chart-" + k.id);
    if (!canvas) { return; }
    var points = k.measurements.map(function (m) {
      var a = ms(m.period_start), b = ms(m.period_end) + DAY;
      return { x: (a + b) / 2, y: m.value };
    });
    var xs = points.map(function (p) { return p.x; }).concat(marks.map(function (m) { return m.x; }));
    var lo = Math.min.apply(null, xs) - 20 * DAY, hi = Math.max.apply(null, xs) + 20 * DAY;
    var sets = [{ label: "measured", data: points, borderColor: "#c62828",
                  backgroundColor: "#c62828", showLine: true, tension: 0, pointRadius: 4 }];
    if (k.baseline !== null) {
      sets.push({ label: "baseline", data: [{ x: lo, y: k.baseline }, { x: hi, y: k.baseline }],
                  borderColor: "#78909c", borderDash: [6, 4], pointRadius: 0, showLine: true });
    }
    if (k.target !== null) {
      sets.push({ label: "target", data: [{ x: lo, y: k.target }, { x: hi, y: k.target }],
                  borderColor: "#2e7d32", borderDash: [2, 3], pointRadius: 0, showLine: true });
    }
    new Chart(canvas, {
      type: "scatter",
      data: { datasets: sets },
      plugins: [markers],
      options: {
        responsive: true, maintainAspectRatio: false, animation: false,
        scales: {
          x: { type: "linear", min: lo, max: hi,
               ticks: { maxTicksLimit: 6, callback: function (v) { return fmt(v); } } },
          y: { beginAtZero: true, title: { display: !!k.unit, text: k.unit } }
        },
        plugins: {
          legend: { labels: { boxWidth: 12 } },
          tooltip: { callbacks: { label: function (c) {
            return c.dataset.label + ": " + (+c.parsed.y).toFixed(2) + " (" + fmt(c.parsed.x) + ")";
          } } }
        }
      }
    });
  }

  (data.kpis || []).forEach(draw);
}());
