/* The place page: a small map of the place's own geometry. Data comes from the
   #place-data JSON block (the CSP forbids inline scripts). The base map
   comes from the shared module (static/js/basemap.js). */
(function () {
  "use strict";

  var KIND_COLOURS = {
    park: "#2e7d32", street: "#6d4c41", fast_food: "#e65100", library: "#1565c0",
    school: "#6a1b9a", transport_hub: "#37474f", shopping_centre: "#ad1457",
    housing_estate: "#827717", other: "#455a64", online: "#00838f"
  };

  function placeMap(el, data) {
    var map = LocmapMap.create(el, { noteText: "No base map yet: the place's own shape only." });
    var colour = KIND_COLOURS[data.kind] || "#455a64";
    var layer = L.geoJSON(data.geometry, {
      style: { color: colour, weight: 3, fillColor: colour, fillOpacity: 0.25 },
      pointToLayer: function (feature, latlng) {
        return L.circleMarker(latlng, { radius: 9, color: colour, weight: 2, fillColor: colour, fillOpacity: 0.8 });
      }
    }).addTo(map);
    if (data.geometry.type === "Point") {
      map.setView(layer.getBounds().getCenter(), 17);
    } else {
      map.fitBounds(layer.getBounds(), { padding: [20, 20], maxZoom: 18 });
    }
    perceivedLayer(map, data.perceived, layer);
    el.setAttribute("data-rendered", "1");
  }

  // Perceived safety: the combined surface's grid cells (latest period with maps), coloured
  // by the rating the server says each cell mostly is; grey where withheld for partners.
  // The "Perceived safety" checkbox under the map shows and hides the layer; the table on
  // the page is the same figures for the place itself.
  var RATING = { red: "#c62828", amber: "#ef8f00", green: "#2e7d32" };

  function perceivedLayer(map, perceived, placeLayer) {
    var el = map.getContainer();
    var cells = (perceived && perceived.cells) || [];
    var group = L.featureGroup();
    cells.forEach(function (c) {
      if (!c.geometry) { return; }
      var colour = (!c.withheld && c.mostly && RATING[c.mostly]) || "#9e9e9e";
      var tip = c.withheld ? "Perceived safety: withheld (fewer maps than the threshold)" :
        "Perceived safety " + perceived.period + ": " + c.maps + " maps, red " + Math.round(c.shares.red) +
        "%, amber " + Math.round(c.shares.amber) + "%, green " + Math.round(c.shares.green) + "%";
      L.geoJSON(c.geometry, { style: { color: colour, weight: 1, fillColor: colour, fillOpacity: 0.35 } })
        .bindTooltip(locmap.text(tip)).addTo(group);  // text, never HTML
    });
    el.setAttribute("data-perceived-cells", String(group.getLayers().length));
    if (!group.getLayers().length) { return; }
    group.addTo(map);
    placeLayer.bringToFront();
    var toggle = document.getElementById("perceived-toggle");
    function sync() {
      if (toggle.checked) { group.addTo(map); placeLayer.bringToFront(); } else { map.removeLayer(group); }
      el.setAttribute("data-perceived-shown", toggle.checked ? "1" : "0");
    }
    if (toggle) { toggle.addEventListener("change", sync); sync(); }
  }

  // A refused form comes back open with a message at the top of the page; repeat the
  // message inside the form and bring it into view so what was typed can be corrected.
  function showRefusedForm() {
    var err = document.getElementById("form-error");
    var open = document.querySelector("details.form-box[open], details.factor-edit[open]");
    if (!err || !open) { return; }
    var copy = document.createElement("p");
    copy.className = "form-error";
    copy.textContent = err.textContent;
    open.insertBefore(copy, open.children[1] || null);
    open.scrollIntoView({ block: "start" });
  }

  document.addEventListener("DOMContentLoaded", function () {
    showRefusedForm();
    var holder = document.getElementById("place-data");
    var el = document.getElementById("place-map");
    if (!holder || !el || typeof L === "undefined") { return; }
    var data = JSON.parse(holder.textContent);
    if (data.geometry) { placeMap(el, data); }
  });
})();
