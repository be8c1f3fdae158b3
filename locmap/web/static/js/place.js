/* The place page: a small map of the place's own geometry. Data comes from the
   #place-data JSON block (the CSP forbids inline scripts). Tiles only when
   LOCMAP_TILE_URL is configured; otherwise the shape is drawn on a plain background. */
(function () {
  "use strict";

  var KIND_COLOURS = {
    park: "#2e7d32", street: "#6d4c41", fast_food: "#e65100", library: "#1565c0",
    school: "#6a1b9a", transport_hub: "#37474f", shopping_centre: "#ad1457",
    housing_estate: "#827717", other: "#455a64", online: "#00838f"
  };

  function placeMap(el, data) {
    var map = L.map(el, { zoomControl: true, attributionControl: !!data.tile_url });
    if (data.tile_url) {
      L.tileLayer(data.tile_url, { maxZoom: 20, attribution: data.tile_attribution || "" }).addTo(map);
    } else {
      el.classList.add("no-tiles");
      var note = document.getElementById("map-note");
      if (note) {
        note.textContent = "No base map configured: the place's own shape only.";
        note.hidden = false;
      }
    }
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
    L.control.scale({ imperial: false }).addTo(map);
    el.setAttribute("data-rendered", "1");
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
