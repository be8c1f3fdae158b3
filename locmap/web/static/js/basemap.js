/* locmap's one map set-up (global LocmapMap), used by every map in the app.

   LocmapMap.create(el, options) returns a Leaflet map whose base map is, in this order:
   - the vector base map locmap serves itself (/tiles/basemap/{z}/{x}/{y}.pbf, built from an
     OpenStreetMap extract with `locmap basemap build`), drawn by MapLibre GL JS inside
     Leaflet as a layer (maplibre-gl-leaflet) in the tile pane, so everything Leaflet draws
     (place shapes, markers, drawing tools) stays above it;
   - else raster tiles from LOCMAP_TILE_URL, also drawn by MapLibre when WebGL works;
   - else a plain background, with a note saying so (air-gapped networks, no extract yet).
   LocmapMap.gl(map) gives the maplibregl.Map (or null), so other layers (the incident
   vector tiles) can be added to it; LocmapMap.whenGl(map, fn) calls fn once its style is
   loaded. Options: zoomControl, attributionControl, scale (default true), search (a
   gazetteer box; default false), pilotId (search that pilot's places too), noteId (the
   element that explains a missing base map), noteText.
   Settings come from the #basemap-config JSON block in base.html (no inline scripts). */
(function () {
  "use strict";

  var config = null;

  function settings() {
    if (config) { return config; }
    var el = document.getElementById("basemap-config");
    config = el ? JSON.parse(el.textContent) : {};
    if (typeof maplibregl !== "undefined" && config.worker) { maplibregl.setWorkerUrl(config.worker); }
    return config;
  }

  function webgl() {
    if (typeof maplibregl === "undefined" || typeof L.maplibreGL === "undefined") { return false; }
    try {
      var c = document.createElement("canvas");
      return !!(c.getContext("webgl2") || c.getContext("webgl"));
    } catch (e) { return false; }
  }

  /* An absolute URL for MapLibre (its workers need one), keeping {z}-style placeholders
     as they are (URL() would percent-encode the braces). */
  function absolute(url) {
    if (/^[a-z][a-z0-9+.-]*:/i.test(url)) { return url; }
    return window.location.origin + (url.charAt(0) === "/" ? "" : "/") + url;
  }

  /* Raster tile URLs may carry Leaflet's {s} subdomain placeholder; MapLibre wants a list. */
  function rasterTiles(url) {
    if (url.indexOf("{s}") < 0) { return [absolute(url)]; }
    return ["a", "b", "c"].map(function (s) { return absolute(url.replace("{s}", s)); });
  }

  var QUIET = {
    land: "#f3f1ec", water: "#c9dce8", waterLine: "#a9c6d8", green: "#dde8d3", building: "#e3ded6",
    buildingLine: "#d3ccc1", road: "#ffffff", roadCase: "#d5d0c8", major: "#fbf1d6",
    majorCase: "#dccfa9", rail: "#b9b4ad", label: "#5f5a54", halo: "#ffffff"
  };

  var MAJOR = ["in", ["get", "class"], ["literal", ["motorway", "trunk", "primary", "secondary"]]];
  var CLASS_WIDTH = ["match", ["get", "class"], ["motorway", "trunk", "primary", "secondary"], 1.6,
    ["tertiary"], 1.2, ["service", "path", "footway", "cycleway", "track", "pedestrian", "steps"], 0.45, 0.9];

  /* Line width by zoom (MapLibre allows zoom only in a top-level interpolate), scaled by
     the road's class. */
  function roadWidth(base) {
    return ["interpolate", ["exponential", 1.6], ["zoom"],
      12, ["*", CLASS_WIDTH, base * 0.5], 15, ["*", CLASS_WIDTH, base * 2.5], 18, ["*", CLASS_WIDTH, base * 12]];
  }

  /* A quiet style: pale land, soft water and green, thin white streets, grey labels, so
     that the app's own places and incidents are what the eye finds. */
  function vectorStyle(c) {
    var src = "basemap";
    // Towns, villages and suburbs (OSM place=*): labelled from zoom 10, no dot.
    var SETTLEMENT = ["in", ["get", "kind"], ["literal", c.settlements || []]];
    return {
      version: 8,
      glyphs: absolute(c.glyphs),
      sources: {
        basemap: {
          type: "vector", tiles: [absolute(c.tiles)], minzoom: 0, maxzoom: 16,
          attribution: c.attribution || ""
        }
      },
      layers: [
        { id: "land", type: "background", paint: { "background-color": QUIET.land } },
        { id: "green", type: "fill", source: src, "source-layer": "green", paint: { "fill-color": QUIET.green } },
        { id: "water", type: "fill", source: src, "source-layer": "water", filter: ["in", ["geometry-type"], ["literal", ["Polygon", "MultiPolygon"]]],
          paint: { "fill-color": QUIET.water } },
        { id: "waterway", type: "line", source: src, "source-layer": "water", filter: ["in", ["geometry-type"], ["literal", ["LineString", "MultiLineString"]]],
          paint: { "line-color": QUIET.waterLine, "line-width": ["interpolate", ["linear"], ["zoom"], 12, 0.5, 18, 4] } },
        { id: "building", type: "fill", source: src, "source-layer": "buildings", minzoom: 14,
          paint: { "fill-color": QUIET.building, "fill-outline-color": QUIET.buildingLine } },
        { id: "rail", type: "line", source: src, "source-layer": "railways",
          paint: { "line-color": QUIET.rail, "line-width": 1.5, "line-dasharray": [3, 2] } },
        { id: "road-case", type: "line", source: src, "source-layer": "roads", minzoom: 13,
          layout: { "line-cap": "round", "line-join": "round" },
          paint: { "line-color": ["case", MAJOR, QUIET.majorCase, QUIET.roadCase],
                   "line-width": roadWidth(1.25) } },
        { id: "road", type: "line", source: src, "source-layer": "roads",
          layout: { "line-cap": "round", "line-join": "round" },
          paint: { "line-color": ["case", MAJOR, QUIET.major, QUIET.road],
                   "line-width": roadWidth(1) } },
        { id: "water-label", type: "symbol", source: src, "source-layer": "water", minzoom: 14,
          filter: ["all", ["has", "name"], ["in", ["geometry-type"], ["literal", ["LineString", "MultiLineString"]]]],
          layout: { "text-field": ["get", "name"], "text-font": ["DejaVu Sans Oblique"], "text-size": 11,
                    "symbol-placement": "line" },
          paint: { "text-color": "#5b7f99", "text-halo-color": QUIET.halo, "text-halo-width": 1.2 } },
        { id: "road-label", type: "symbol", source: src, "source-layer": "roads", minzoom: 14,
          filter: ["has", "name"],
          layout: { "text-field": ["get", "name"], "text-font": ["DejaVu Sans"], "symbol-placement": "line",
                    "text-size": ["interpolate", ["linear"], ["zoom"], 14, 10, 18, 13], "text-max-angle": 35 },
          paint: { "text-color": QUIET.label, "text-halo-color": QUIET.halo, "text-halo-width": 1.5 } },
        { id: "settlement-label", type: "symbol", source: src, "source-layer": "pois", minzoom: 10,
          filter: ["all", ["has", "name"], SETTLEMENT],
          layout: { "text-field": ["get", "name"], "text-font": ["DejaVu Sans"], "text-max-width": 8,
                    "text-size": ["interpolate", ["linear"], ["zoom"], 10, 11, 16, 14] },
          paint: { "text-color": "#5f5950", "text-halo-color": QUIET.halo, "text-halo-width": 1.5 } },
        { id: "poi-label", type: "symbol", source: src, "source-layer": "pois", minzoom: 15,
          filter: ["all", ["has", "name"], ["!", SETTLEMENT]],
          layout: { "text-field": ["get", "name"], "text-font": ["DejaVu Sans"], "text-size": 10.5,
                    "text-max-width": 8, "text-anchor": "top", "text-offset": [0, 0.3] },
          paint: { "text-color": "#7a736b", "text-halo-color": QUIET.halo, "text-halo-width": 1.2 } },
        { id: "poi-dot", type: "circle", source: src, "source-layer": "pois", minzoom: 15,
          filter: ["!", SETTLEMENT],
          paint: { "circle-radius": 2.5, "circle-color": "#a49c91" } }
      ]
    };
  }

  function rasterStyle(c) {
    return {
      version: 8,
      sources: { raster: { type: "raster", tiles: rasterTiles(c.raster), tileSize: 256, maxzoom: 19,
                           attribution: c.raster_attribution || "" } },
      layers: [{ id: "raster", type: "raster", source: "raster" }]
    };
  }

  /* Say why the map has no base map in the page's note; link (optional: {href, text}) is
     added after the sentence. */
  function explain(options, el, text, link) {
    el.classList.add("no-tiles");
    var note = document.getElementById(options.noteId || "map-note");
    if (note) {
      note.textContent = options.noteText || text;
      if (link) {
        var a = document.createElement("a");
        a.href = link.href;
        a.textContent = link.text;
        a.className = "basemap-admin-link";
        note.appendChild(document.createTextNode(" "));
        note.appendChild(a);
      }
      note.hidden = false;
    }
  }

  /* The admin page's address when the signed-in user is an admin (_map.html says so in a
     data attribute of the config block); null for everyone else. */
  function adminUrl() {
    var el = document.getElementById("basemap-config");
    return (el && el.getAttribute("data-admin-url")) || null;
  }

  /* ---- gazetteer search ------------------------------------------------------------ */

  function searchControl(map, options) {
    var c = settings();
    var Control = L.Control.extend({
      options: { position: "topright" },
      onAdd: function () {
        var box = L.DomUtil.create("div", "leaflet-bar map-search");
        var form = L.DomUtil.create("form", "", box);
        form.setAttribute("role", "search");
        var input = L.DomUtil.create("input", "", form);
        input.type = "search";
        input.name = "q";
        input.placeholder = "Find a street or place";
        input.setAttribute("aria-label", "Find a street or place");
        input.autocomplete = "off";
        var list = L.DomUtil.create("ul", "map-search-results", box);
        list.hidden = true;
        L.DomEvent.disableClickPropagation(box);
        L.DomEvent.disableScrollPropagation(box);
        var timer = null, last = "";

        function go(hit) {
          list.hidden = true;
          input.value = hit.name;
          var b = hit.bbox;
          map.once("moveend", function () {
            map.getContainer().setAttribute("data-search-moved", hit.name);
            map.fire("locmap:search", { hit: hit });
          });
          if (b && (b[0] !== b[2] || b[1] !== b[3])) {
            map.fitBounds([[b[1], b[0]], [b[3], b[2]]], { maxZoom: 18, padding: [20, 20] });
          } else {
            map.setView([hit.lat, hit.lon], 18);
          }
        }

        function show(hits) {
          list.replaceChildren();
          hits.forEach(function (hit, i) {
            var li = document.createElement("li");
            var b = document.createElement("button");
            b.type = "button";
            b.textContent = hit.name;  // textContent: names are data, never HTML
            var kind = document.createElement("span");
            kind.className = "map-search-kind";
            kind.textContent = hit.kind_label;
            b.appendChild(kind);
            if (hit.area) {
              var area = document.createElement("span");
              area.className = "map-search-area";
              area.textContent = hit.area;  // same-named streets of different towns apart
              b.appendChild(area);
            }
            b.addEventListener("click", function () { go(hit); });
            if (i === 0) { b.setAttribute("data-first", "1"); }
            li.appendChild(b);
            list.appendChild(li);
          });
          if (!hits.length) {
            var none = document.createElement("li");
            none.className = "map-search-none";
            none.textContent = "Nothing found";
            list.appendChild(none);
          }
          list.hidden = false;
        }

        function lookup(q, then) {
          var url = c.search + "?q=" + encodeURIComponent(q) + (options.pilotId ? "&pilot=" + options.pilotId : "");
          fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
            .then(function (r) { return r.ok ? r.json() : { results: [] }; })
            .then(function (body) { if (input.value.trim() === q) { then(body.results || []); } })
            .catch(function () { show([]); });
        }

        input.addEventListener("input", function () {
          var q = input.value.trim();
          clearTimeout(timer);
          if (q.length < 2) { list.hidden = true; return; }
          if (q === last) { return; }
          timer = setTimeout(function () { last = q; lookup(q, show); }, 200);
        });
        form.addEventListener("submit", function (ev) {
          ev.preventDefault();
          var q = input.value.trim();
          if (q.length < 2) { return; }
          lookup(q, function (hits) { if (hits.length) { go(hits[0]); } else { show(hits); } });
        });
        input.addEventListener("keydown", function (ev) { if (ev.key === "Escape") { list.hidden = true; } });
        return box;
      }
    });
    return new Control().addTo(map);
  }

  /* ---- the map --------------------------------------------------------------------- */

  function create(el, options) {
    options = options || {};
    var c = settings();
    var map = L.map(el, {
      zoomControl: options.zoomControl !== false,
      attributionControl: options.attributionControl !== false,
      maxZoom: 19
    });
    var kind = c.tiles && c.version ? "vector" : (c.raster ? "raster" : "none");
    if (kind !== "none" && webgl()) {
      var style = kind === "vector" ? vectorStyle(c) : rasterStyle(c);
      var layer = L.maplibreGL({ style: style, interactive: false, attributionControl: false });
      layer.addTo(map);
      map._locmapGl = layer;
      // Leaflet adds the layer (and MapLibre makes its map) once the map has a view.
      map.whenReady(function () {
        var m = layer.getMaplibreMap();
        if (m.loaded()) { el.setAttribute("data-basemap-ready", "1"); return; }
        m.once("load", function () { el.setAttribute("data-basemap-ready", "1"); });
      });
      if (kind === "vector" && c.attribution) { map.attributionControl && map.attributionControl.addAttribution(c.attribution); }
      if (kind === "raster" && c.raster_attribution) { map.attributionControl && map.attributionControl.addAttribution(c.raster_attribution); }
    } else if (kind === "raster") {
      // No WebGL: Leaflet draws the raster tiles itself.
      L.tileLayer(c.raster, { maxZoom: 19, attribution: c.raster_attribution || "" }).addTo(map);
    } else if (kind === "vector") {
      kind = "none";
      explain(options, el, "This browser cannot draw the base map (no WebGL): showing locmap's own layers only.");
    } else {
      var admin = adminUrl();
      explain(options, el, "No base map yet: the map shows locmap's own layers on a plain background.",
              admin ? { href: admin, text: "Build the base map from an OpenStreetMap extract." } : null);
    }
    el.setAttribute("data-basemap", kind);
    if (options.scale !== false) { L.control.scale({ imperial: false }).addTo(map); }
    if (options.search && c.search) { searchControl(map, options); }
    return map;
  }

  /* The maplibregl.Map under a map made by create(); null without one, or before the
     Leaflet map has its first view (Leaflet adds layers then). */
  function gl(map) {
    return map && map._locmapGl ? (map._locmapGl.getMaplibreMap() || null) : null;
  }

  /* Call fn(maplibreMap) once the GL map exists and its style is loaded; false (and fn is
     never called) when this map draws no GL base map (no WebGL, or no base map). */
  function whenGl(map, fn) {
    if (!map || !map._locmapGl) { return false; }
    map.whenReady(function () {
      var m = gl(map);
      if (m.isStyleLoaded()) { fn(m); } else { m.once("load", function () { fn(m); }); }
    });
    return true;
  }

  window.LocmapMap = { create: create, gl: gl, whenGl: whenGl, settings: settings };
})();
