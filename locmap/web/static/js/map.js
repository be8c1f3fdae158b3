/* locmap maps: the pilots overview and a pilot's places. Data comes from JSON script
   blocks rendered by the server (no inline scripts: the CSP forbids them). The base map
   (locmap's own vector tiles, LOCMAP_TILE_URL, or a plain background) and the search box
   come from the shared module, static/js/basemap.js. */
(function () {
  "use strict";

  var KIND_COLOURS = {
    park: "#2e7d32", street: "#6d4c41", fast_food: "#e65100", library: "#1565c0",
    school: "#6a1b9a", transport_hub: "#37474f", shopping_centre: "#ad1457",
    housing_estate: "#827717", other: "#455a64", online: "#00838f"
  };

  function readJSON(id) {
    var el = document.getElementById(id);
    return el ? JSON.parse(el.textContent) : null;
  }

  function placeStyle(feature) {
    var c = KIND_COLOURS[feature.properties.kind] || "#455a64";
    return { color: c, weight: 3, fillColor: c, fillOpacity: 0.25 };
  }

  function placeLayer(collection) {
    var byId = {};
    var layer = L.geoJSON(
      { type: "FeatureCollection", features: collection.features.filter(function (f) { return f.geometry; }) },
      {
        style: placeStyle,
        pointToLayer: function (feature, latlng) {
          var s = placeStyle(feature);
          return L.circleMarker(latlng, { radius: 8, color: s.color, weight: 2, fillColor: s.color, fillOpacity: 0.8 });
        },
        onEachFeature: function (feature, lyr) {
          var p = feature.properties;
          var box = document.createElement("div");
          var title = document.createElement("strong");
          title.textContent = p.name;  // textContent: names are user input, never HTML
          var meta = document.createElement("div");
          meta.textContent = p.kind_label + " · " + p.incidents + " incidents";
          box.appendChild(title); box.appendChild(meta);
          lyr.bindPopup(box);
          lyr.feature = feature;
          byId[p.id] = lyr;
          if (lyr.getElement) { lyr.on("add", function () { var e = lyr.getElement(); if (e) { e.setAttribute("data-place-id", p.id); e.classList.add("place-shape"); } }); }
        }
      }
    );
    return { layer: layer, byId: byId };
  }

  function pilotMap(el) {
    var data = readJSON("pilot-data");
    var map = LocmapMap.create(el, { search: true, pilotId: data.pilot.id });
    var locality = L.geoJSON(data.pilot.locality, {
      style: { color: "#263238", weight: 2, dashArray: "6 4", fill: true, fillColor: "#eceff1", fillOpacity: 0.35 },
      interactive: false
    }).addTo(map);
    var places = placeLayer(data.places);
    places.layer.addTo(map);
    map.fitBounds(locality.getBounds(), { padding: [20, 20] });
    // "Show on map" in the place list (a button per mapped place; the workspace adds items
    // later, hence one listener on the list).
    var list = document.getElementById("place-list");
    if (list) {
      list.addEventListener("click", function (ev) {
        var button = ev.target.closest && ev.target.closest("button.place-show");
        if (!button) { return; }
        var lyr = places.byId[button.closest(".place").getAttribute("data-place-id")];
        if (!lyr) { return; }
        if (lyr.getBounds) { map.fitBounds(lyr.getBounds(), { maxZoom: 18 }); } else { map.setView(lyr.getLatLng(), 18); }
        lyr.openPopup();
      });
    }
    el.setAttribute("data-places-rendered", String(Object.keys(places.byId).length));
    window.locmapMap = map;
    // The workspace (static/js/workspace.js) draws, edits and records on this map.
    window.locmapWorkspace = { map: map, places: places, data: data, colours: KIND_COLOURS };
  }

  function pilotsMap(el) {
    var pilots = readJSON("pilots-data") || [];
    var map = LocmapMap.create(el, {});
    var group = L.featureGroup().addTo(map);
    pilots.forEach(function (p) {
      if (!p.locality) { return; }
      var lyr = L.geoJSON(p.locality, { style: { color: "#1565c0", weight: 2, fillOpacity: 0.2 } });
      var link = document.createElement("a");
      link.href = "/pilots/" + p.id;
      link.textContent = p.name;
      lyr.bindPopup(link);
      lyr.addTo(group);
    });
    if (group.getLayers().length) { map.fitBounds(group.getBounds(), { padding: [30, 30] }); } else { map.setView([52.5, -1.5], 6); }
    el.setAttribute("data-pilots-rendered", String(group.getLayers().length));
  }

  document.addEventListener("DOMContentLoaded", function () {
    var el = document.getElementById("map");
    if (!el || typeof L === "undefined" || typeof LocmapMap === "undefined") { return; }
    if (el.getAttribute("data-role") === "pilot-map") { pilotMap(el); }
    if (el.getAttribute("data-role") === "pilots-map") { pilotsMap(el); }
  });
})();
