/* locmap "network on the map": the pilot's places, and for each peer group a marker near
   the centre of the places it uses with a line to each, as wide as the number of its
   members who go there. Group markers sit at the centroid of their places, pushed out
   from the centre of all places so that groups using the same places do not overlap. */
(function () {
  "use strict";

  var PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2",
                 "#17becf", "#bcbd22", "#7f7f7f", "#393b79", "#637939", "#8c6d31"];

  function readJSON(id) {
    var el = document.getElementById(id);
    return el ? JSON.parse(el.textContent) : null;
  }

  function draw() {
    var el = document.getElementById("map");
    var data = readJSON("network-map-data");
    if (!el || !data || typeof L === "undefined") { return; }
    document.querySelectorAll(".group-swatch").forEach(function (s) {
      s.style.background = PALETTE[parseInt(s.getAttribute("data-group-index"), 10) % PALETTE.length];
    });
    var map = LocmapMap.create(el, { search: true, pilotId: data.pilot_id });
    var centres = {};
    var shared = {};
    data.usage.forEach(function (u) { shared[u.place_id] = u.shared; });
    var placeLayer = L.geoJSON(data.places, {
      style: function (f) {
        return { color: shared[f.id] ? "#c62828" : "#455a64", weight: shared[f.id] ? 4 : 2, fillOpacity: 0.15 };
      },
      pointToLayer: function (f, latlng) {
        return L.circleMarker(latlng, { radius: shared[f.id] ? 9 : 6 });
      },
      onEachFeature: function (f, layer) {
        var centre = layer.getBounds ? layer.getBounds().getCenter() : layer.getLatLng();
        centres[f.id] = centre;
        layer.bindTooltip(locmap.text(f.properties.name));
      }
    }).addTo(map);
    var bounds = placeLayer.getBounds();
    if (!bounds.isValid()) { map.setView([52.5, -1.5], 14); return; }
    map.fitBounds(bounds.pad(0.25));
    var middle = bounds.getCenter();
    var span = Math.max(bounds.getNorth() - bounds.getSouth(), bounds.getEast() - bounds.getWest(), 0.002);
    var lines = 0;
    var most = 1;
    data.usage.forEach(function (u) { u.groups.forEach(function (g) { most = Math.max(most, g.members); }); });
    data.groups.forEach(function (label, index) {
      var colour = PALETTE[index % PALETTE.length];
      var uses = [];
      data.usage.forEach(function (u) {
        u.groups.forEach(function (g) {
          if (g.label === label && centres[u.place_id]) { uses.push({ at: centres[u.place_id], n: g.members, name: u.name }); }
        });
      });
      if (!uses.length) { return; }
      var lat = 0, lng = 0, total = 0;
      uses.forEach(function (u) { lat += u.at.lat * u.n; lng += u.at.lng * u.n; total += u.n; });
      lat /= total; lng /= total;
      // Push each group out on its own bearing so markers of groups sharing places separate.
      var angle = 2 * Math.PI * index / Math.max(data.groups.length, 1);
      var centre = L.latLng(lat + Math.sin(angle) * span * 0.32 + (lat - middle.lat) * 0.3,
                            lng + Math.cos(angle) * span * 0.32 + (lng - middle.lng) * 0.3);
      uses.forEach(function (u) {
        var line = L.polyline([centre, u.at], { color: colour, weight: 2 + 8 * u.n / most, opacity: 0.75 });
        line.bindTooltip(locmap.text(label + " → " + u.name + ": " + u.n)).addTo(map);
        lines += 1;
      });
      var box = document.createElement("span");
      box.className = "group-label";
      box.style.borderColor = colour;
      box.textContent = label.replace("Group ", "");
      L.marker(centre, { icon: L.divIcon({ html: box, className: "", iconSize: null }), title: label }).addTo(map);
    });
    el.setAttribute("data-group-lines", String(lines));
  }

  draw();
}());
