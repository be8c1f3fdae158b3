/* The incident layer of the GL map (issue 17): incidents drawn from the app's vector tiles
   (/pilots/N/tiles/incidents/{z}/{x}/{y}.pbf) inside the MapLibre base map, so they sit
   under everything Leaflet draws (the places and their labels). Cells and points coloured
   by harm category with a legend, a heat-map view, and a time slider (month by month,
   with play) that changes the tiles' filter. Without WebGL the workspace keeps its GeoJSON
   clusters (workspace.js) and this file does nothing.

   LocmapIncidents.attach(map, opts) → a controller or null. opts: pilotId, categories
   ([{value, label}]), months (["YYYY-MM", …]), query() (the filter form's other fields as
   "category=…&from=…"), slider (the element to build the slider in), onChange(state). */
(function () {
  "use strict";

  // One colour per harm category: distinct, colour-blind-safer hues (Okabe–Ito first).
  var PALETTE = ["#d55e00", "#0072b2", "#cc79a7", "#009e73", "#e69f00", "#56b4e9",
    "#7b3294", "#a6611a", "#1b7837", "#b2182b", "#5e3c99", "#666666", "#8c510a", "#01665e"];
  var MIXED = "#555555";
  var LAYERS = ["incident-heat", "incident-cells", "incident-count"];

  function reducedMotion() {
    return window.matchMedia && window.matchMedia("(prefers-reduced-motion: reduce)").matches;
  }

  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    if (text !== undefined) { e.textContent = text; }
    return e;
  }

  function monthLabel(ym) {
    var d = new Date(Number(ym.slice(0, 4)), Number(ym.slice(5, 7)) - 1, 1);
    return d.toLocaleDateString("en-GB", { month: "long", year: "numeric" });
  }

  function lastDay(ym) {
    var y = Number(ym.slice(0, 4)), m = Number(ym.slice(5, 7));
    return ym + "-" + String(new Date(y, m, 0).getDate()).padStart(2, "0");
  }

  function attach(map, opts) {
    if (typeof LocmapMap === "undefined" || !LocmapMap.gl(map)) { return null; }
    var colours = {};
    opts.categories.forEach(function (c, i) { colours[c.value] = PALETTE[i % PALETTE.length]; });
    var colourExpr = ["match", ["get", "category"]];
    Object.keys(colours).forEach(function (k) { colourExpr.push(k, colours[k]); });
    colourExpr.push(MIXED);
    var state = { month: null, heat: false, playing: null };
    var container = map.getContainer();
    var gl = null;

    function tileUrl() {
      var q = [];
      var extra = opts.query();
      if (extra) { q.push(extra); }
      if (state.month) { q.push("from=" + state.month + "-01", "to=" + lastDay(state.month)); }
      // After a change to the incidents (one recorded here): past the browser's cached tiles.
      if (version) { q.push("v=" + version); }
      return window.location.origin + "/pilots/" + opts.pilotId + "/tiles/incidents/{z}/{x}/{y}.pbf" +
        (q.length ? "?" + q.join("&") : "");
    }

    function firstSymbol() {
      var layers = gl.getStyle().layers || [];
      for (var i = 0; i < layers.length; i++) { if (layers[i].type === "symbol") { return layers[i].id; } }
      return undefined;
    }

    function addLayers() {
      var instant = reducedMotion() ? { duration: 0, delay: 0 } : { duration: 300, delay: 0 };
      lastUrl = tileUrl();
      gl.addSource("incidents", { type: "vector", tiles: [lastUrl], minzoom: 0, maxzoom: 17 });
      // Under the base map's labels (street names stay legible), above its fills and roads.
      var before = firstSymbol();
      var n = ["coalesce", ["get", "n"], 1];
      gl.addLayer({
        id: "incident-heat", type: "heatmap", source: "incidents", "source-layer": "incidents",
        layout: { visibility: "none" },
        paint: {
          "heatmap-weight": ["interpolate", ["linear"], n, 1, 0.15, 50, 1],
          "heatmap-intensity": ["interpolate", ["linear"], ["zoom"], 10, 0.8, 16, 2],
          "heatmap-radius": ["interpolate", ["linear"], ["zoom"], 10, 25, 17, 40],
          "heatmap-opacity": 0.75, "heatmap-opacity-transition": instant
        }
      }, before);
      gl.addLayer({
        id: "incident-cells", type: "circle", source: "incidents", "source-layer": "incidents",
        paint: {
          "circle-color": colourExpr,
          "circle-radius": ["interpolate", ["linear"], ["sqrt", n], 1, 5, 10, 18, 40, 30],
          "circle-opacity": 0.8, "circle-stroke-color": "#ffffff", "circle-stroke-width": 1.2,
          "circle-radius-transition": instant, "circle-opacity-transition": instant
        }
      }, before);
      if (gl.getStyle().glyphs) {
        gl.addLayer({
          id: "incident-count", type: "symbol", source: "incidents", "source-layer": "incidents",
          filter: [">", n, 1],
          layout: { "text-field": ["to-string", n], "text-font": ["DejaVu Sans"], "text-size": 11,
                    "text-allow-overlap": true },
          paint: { "text-color": "#ffffff", "text-halo-color": "rgba(0,0,0,.45)", "text-halo-width": 1 }
        }, before);
      }
      // Report once the source has loaded what the current filter asked for (after a
      // filter change, only after its new tiles started and finished loading).
      gl.on("sourcedataloading", function (e) { if (e.sourceId === "incidents") { sawLoading = true; } });
      gl.on("sourcedata", function (e) {
        if (e.sourceId === "incidents" && (!pending || sawLoading) && gl.isSourceLoaded("incidents")) { schedule(); }
      });
      gl.on("moveend", schedule);
      schedule();
    }

    var pending = false, sawLoading = false, timer = null, lastUrl = null, version = 0;
    function schedule() {
      clearTimeout(timer);
      timer = setTimeout(function () {
        if (!gl.isSourceLoaded("incidents")) { schedule(); return; }
        pending = false;
        gl.once("render", report);
        gl.triggerRepaint();
      }, 120);
    }

    /* What is drawn, for the page (and the tests): the month and the incidents rendered. */
    function report() {
      if (!gl.getLayer("incident-cells") || pending) { return; }
      var feats = gl.queryRenderedFeatures({ layers: ["incident-cells"] });
      var total = feats.reduce(function (s, f) { return s + (f.properties.n || 1); }, 0);
      // The legend lists the harms on screen (all of them when none is).
      var present = {};
      feats.forEach(function (f) { present[f.properties.category] = true; });
      var any = Object.keys(present).length > 0;
      container.parentNode.querySelectorAll("#incident-legend li[data-category]").forEach(function (li) {
        li.hidden = any && !present[li.getAttribute("data-category")];
      });
      container.setAttribute("data-incident-tiles", "ready");
      container.setAttribute("data-incident-month", state.month || "all");
      container.setAttribute("data-incidents-drawn", String(total));
      if (opts.onChange) { opts.onChange({ month: state.month, drawn: total }); }
    }

    function refresh() {
      if (!gl) { return; }
      var url = tileUrl();
      if (url === lastUrl) { return; }
      lastUrl = url;
      pending = true; sawLoading = false;
      container.setAttribute("data-incident-tiles", "loading");
      gl.getSource("incidents").setTiles([url]);
    }

    function setHeat(on) {
      state.heat = on;
      if (!gl) { return; }
      gl.setLayoutProperty("incident-heat", "visibility", on ? "visible" : "none");
      ["incident-cells", "incident-count"].forEach(function (id) {
        if (gl.getLayer(id)) { gl.setLayoutProperty(id, "visibility", on ? "none" : "visible"); }
      });
    }

    /* ---- legend (a Leaflet control: above the map, keyboard reachable) -------------- */
    var Legend = L.Control.extend({
      options: { position: "bottomleft" },
      onAdd: function () {
        var box = L.DomUtil.create("div", "incident-legend");
        box.id = "incident-legend";
        // Folded on a phone (the map is small), open elsewhere.
        var fold = el("details", {});
        if (!(window.matchMedia && window.matchMedia("(max-width: 700px)").matches)) { fold.open = true; }
        fold.appendChild(el("summary", {}, "Incidents by harm"));
        var list = el("ul", {});
        opts.categories.forEach(function (c) {
          var li = el("li", { "data-category": c.value });
          var sw = el("span", { "class": "legend-swatch", "aria-hidden": "true" });
          sw.style.background = colours[c.value];
          li.appendChild(sw);
          li.appendChild(document.createTextNode(c.label));
          list.appendChild(li);
        });
        if (opts.partner) {
          var li = el("li", { "data-category": "mixed" });
          var sw = el("span", { "class": "legend-swatch", "aria-hidden": "true" });
          sw.style.background = MIXED;
          li.appendChild(sw); li.appendChild(document.createTextNode("several (none alone 5 or more)"));
          list.appendChild(li);
        }
        fold.appendChild(list);
        fold.appendChild(el("p", { "class": "legend-note" }, "A circle is one incident, or a cell of several (the number; its colour is the commonest harm)."));
        box.appendChild(fold);
        var heat = el("button", { type: "button", id: "heat-toggle", "class": "secondary", "aria-pressed": "false" }, "Heat map");
        heat.addEventListener("click", function () {
          setHeat(!state.heat);
          heat.setAttribute("aria-pressed", state.heat ? "true" : "false");
        });
        box.appendChild(heat);
        L.DomEvent.disableClickPropagation(box);
        L.DomEvent.disableScrollPropagation(box);
        return box;
      }
    });
    map.addControl(new Legend());

    /* ---- time slider (in the panel) ------------------------------------------------ */
    function buildSlider(host) {
      if (!host || !opts.months.length) { return; }
      host.replaceChildren();
      host.hidden = false;
      var label = el("label", { "for": "month-range" }, "Month");
      var range = el("input", { type: "range", id: "month-range", min: "0",
        max: String(opts.months.length - 1), step: "1", value: String(opts.months.length - 1),
        "aria-valuetext": "all months" });
      var shown = el("output", { id: "month-shown", "for": "month-range", "aria-live": "polite" }, "All months");
      var all = el("label", { "class": "month-all" });
      var allBox = el("input", { type: "checkbox", id: "month-all", checked: "checked" });
      all.appendChild(allBox); all.appendChild(document.createTextNode(" every month"));
      var play = el("button", { type: "button", id: "month-play", "class": "secondary", "aria-pressed": "false" }, "▶ Play");
      var row = el("div", { "class": "month-row" });
      row.appendChild(range); row.appendChild(play);
      host.appendChild(label); host.appendChild(row); host.appendChild(shown); host.appendChild(all);

      function show(i) {
        state.month = opts.months[i];
        allBox.checked = false;
        range.value = String(i);
        shown.textContent = monthLabel(state.month);
        shown.setAttribute("data-month", state.month);
        range.setAttribute("aria-valuetext", monthLabel(state.month));
        refresh();
      }
      function stop() {
        if (state.playing) { clearInterval(state.playing); state.playing = null; }
        play.textContent = "▶ Play"; play.setAttribute("aria-pressed", "false");
      }
      range.addEventListener("input", function () { stop(); show(Number(range.value)); });
      allBox.addEventListener("change", function () {
        stop();
        if (allBox.checked) { state.month = null; shown.textContent = "All months"; range.setAttribute("aria-valuetext", "all months"); refresh(); }
        else { show(Number(range.value)); }
      });
      play.addEventListener("click", function () {
        if (state.playing) { stop(); return; }
        var i = state.month ? opts.months.indexOf(state.month) : -1;
        if (i >= opts.months.length - 1) { i = -1; }
        show(i + 1);
        // Reduced motion: slower steps and no transitions (set when the layers were added).
        var step = reducedMotion() ? 3000 : 1200;
        play.textContent = "❚❚ Pause"; play.setAttribute("aria-pressed", "true");
        state.playing = setInterval(function () {
          var j = opts.months.indexOf(state.month) + 1;
          if (j >= opts.months.length) { stop(); return; }
          show(j);
        }, step);
      });
    }
    buildSlider(opts.slider);

    LocmapMap.whenGl(map, function (m) { gl = m; addLayers(); setHeat(state.heat); });
    function reload() { version += 1; refresh(); }
    return { refresh: refresh, reload: reload, setHeat: setHeat, state: state, colours: colours };
  }

  window.LocmapIncidents = { attach: attach };
})();
