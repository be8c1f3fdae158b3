/* Safety maps. Two pages: the combined perceived-safety surface (#surface-data: grid cells
   shaded by their mostly-red/amber/green share) and the drawing form (#safety-form-data:
   Leaflet.draw polygons and rectangles, each becoming a rated row of the form; "Add this
   place" is the keyboard alternative to drawing). The base map is set up by map.js
   (LocmapMap, static/js/basemap.js). Data comes from JSON script blocks (the CSP forbids inline scripts);
   user text goes into tooltips as text nodes (locmap.text). */
(function () {
  "use strict";
  var RATING = { red: "#c62828", amber: "#ef8f00", green: "#2e7d32" };

  function readJSON(id) {
    var el = document.getElementById(id);
    return el ? JSON.parse(el.textContent) : null;
  }

  function placesLayer(collection, map) {
    var layer = L.geoJSON({ type: "FeatureCollection", features: collection.features.filter(function (f) { return f.geometry; }) }, {
      style: { color: "#37474f", weight: 2, fill: false, dashArray: "4 4" },
      pointToLayer: function (f, latlng) { return L.circleMarker(latlng, { radius: 6, color: "#37474f", weight: 2, fillOpacity: 0.3 }); },
      interactive: false
    }).addTo(map);
    return layer;
  }

  function fit(map, layers) {
    var b = null;
    layers.forEach(function (l) {
      if (l && l.getLayers && l.getLayers().length) { b = b ? b.extend(l.getBounds()) : L.latLngBounds(l.getBounds().getSouthWest(), l.getBounds().getNorthEast()); }
    });
    if (b) { map.fitBounds(b, { padding: [20, 20], maxZoom: 17 }); } else { map.setView([52.5, -1.49], 14); }
  }

  // --- the surface --------------------------------------------------------------------
  // The server says which rating a cell mostly is (one rule: perceived_safety.mostly).
  function cellColour(c) {
    return (!c.withheld && c.mostly && RATING[c.mostly]) || "#9e9e9e";
  }

  function surfaceMap(el, data) {
    var map = LocmapMap.create(el, {});
    map.setView([52.5, -1.49], 14);
    var places = placesLayer(data.places, map);
    var cells = L.featureGroup().addTo(map);
    data.cells.forEach(function (c) {
      if (!c.geometry) { return; }
      var tip = c.withheld ? "Withheld: fewer maps than the threshold" :
        "Maps " + c.maps + " · red " + Math.round(c.shares.red) + "% · amber " + Math.round(c.shares.amber) +
        "% · green " + Math.round(c.shares.green) + "%" + (c.change !== undefined && c.change !== null ? " · change " + (c.change > 0 ? "+" : "") + c.change : "");
      var strength = c.shares ? Math.max(c.shares.red, c.shares.amber, c.shares.green) / 100 : 0.3;
      L.geoJSON(c.geometry, { style: { color: cellColour(c), weight: 1, fillColor: cellColour(c), fillOpacity: 0.2 + 0.45 * strength } })
        .bindTooltip(locmap.text(tip)).addTo(cells);
    });
    fit(map, [cells, places]);
    el.setAttribute("data-cells", String(data.cells.length));
    el.setAttribute("data-rendered", "1");
  }

  // --- the drawing form ---------------------------------------------------------------
  function formPage(el, data) {
    var map = LocmapMap.create(el, {});
    map.setView([52.5, -1.49], 14);
    var places = placesLayer(data.places, map);
    var list = document.getElementById("area-list");
    var template = document.getElementById("area-template");
    var status = document.getElementById("draw-status");
    var drawn = new L.FeatureGroup().addTo(map);
    var next = list.children.length + 1;
    function say(msg) { if (status) { status.textContent = msg; } }

    function renumber() {
      Array.prototype.forEach.call(list.children, function (row, i) {
        row.querySelector(".area-no").textContent = String(i + 1);
      });
      document.getElementById("area-count").textContent = String(list.children.length);
      el.setAttribute("data-areas", String(list.children.length));
    }

    function styleFor(rating) {
      var c = RATING[rating] || "#1565c0";
      return { color: c, weight: 3, fillColor: c, fillOpacity: 0.3 };
    }

    function wire(row, layer) {
      var hidden = row.querySelector(".area-rating");
      var radios = row.querySelectorAll(".area-rate");
      var name = "rate-" + (next++);
      radios.forEach(function (r) {
        r.name = name;
        r.addEventListener("change", function () {
          hidden.value = r.value;
          row.className = "area-row rating-" + r.value;
          if (layer && layer.setStyle) { layer.setStyle(styleFor(r.value)); }
        });
      });
      row.querySelector(".area-remove").addEventListener("click", function () {
        if (layer) { drawn.removeLayer(layer); }
        row.parentNode.removeChild(row);
        renumber();
        say("Area removed.");
      });
    }

    function addRow(fill) {
      var row = template.content.firstElementChild.cloneNode(true);
      list.appendChild(row);
      fill(row);
      renumber();
      return row;
    }

    // Rows rendered by the server (an existing map, or a refused form): show their shapes.
    Array.prototype.forEach.call(list.children, function (row) {
      var g = row.querySelector(".area-geometry").value;
      var layer = null;
      if (g) {
        try {
          var rating = row.querySelector(".area-rating").value;
          layer = L.geoJSON(JSON.parse(g), { style: styleFor(rating) });
          layer.eachLayer(function (l) { drawn.addLayer(l); layer = l; });
        } catch (e) { layer = null; }
      }
      wire(row, layer);
    });
    renumber();
    fit(map, [drawn.getLayers().length ? drawn : null, places]);

    if (data.editable && L.Control.Draw) {
      map.addControl(new L.Control.Draw({
        position: "topleft",
        draw: { polygon: { allowIntersection: false, showArea: false }, rectangle: { showArea: false },
                polyline: false, marker: false, circle: false, circlemarker: false },
        edit: false
      }));
      map.on(L.Draw.Event.CREATED, function (ev) {
        var layer = ev.layer;
        drawn.addLayer(layer);
        var row = addRow(function (r) {
          r.querySelector(".area-geometry").value = JSON.stringify(layer.toGeoJSON().geometry);
          r.querySelector(".area-label").textContent = "Drawn area";
          wire(r, layer);
        });
        say("Area drawn: choose red, amber or green and write why.");
        var first = row.querySelector(".area-rate");
        if (first) { first.focus(); }
      });
    }

    var add = document.getElementById("add-place-area");
    if (add) {
      add.addEventListener("click", function () {
        var pick = document.getElementById("pick-place");
        if (!pick || !pick.value) { return; }
        var name = pick.options[pick.selectedIndex].text;
        var row = addRow(function (r) {
          r.querySelector(".area-place").value = pick.value;
          r.querySelector(".area-label").textContent = "The whole of " + name;
          wire(r, null);
        });
        say("Added " + name + ": choose red, amber or green and write why.");
        row.querySelector(".area-rate").focus();
      });
    }

    var kindGroup = document.getElementById("kind-group");
    var kindBand = document.getElementById("kind-band");
    function respondent() {
      var band = kindBand && kindBand.checked;
      document.querySelector(".respondent-group").hidden = band;
      document.querySelector(".respondent-band").hidden = !band;
    }
    if (kindGroup && kindBand) {
      kindGroup.addEventListener("change", respondent);
      kindBand.addEventListener("change", respondent);
      respondent();
    }
    el.setAttribute("data-ready", "1");
  }

  document.addEventListener("DOMContentLoaded", function () {
    if (typeof L === "undefined" || typeof LocmapMap === "undefined") { return; }
    var s = readJSON("surface-data");
    var sEl = document.getElementById("surface-map");
    if (s && sEl) { surfaceMap(sEl, s); }
    var f = readJSON("safety-form-data");
    var fEl = document.getElementById("safety-draw-map");
    if (f && fEl) { formPage(fEl, f); }
  });
})();
