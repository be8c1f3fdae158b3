/* locmap: draw a pilot's locality (admin/pilot_new.html). One polygon drawn with
   Leaflet.draw goes into the form's hidden "locality" field as GeoJSON; an uploaded
   boundary file takes its place on the server. After a refused self-intersecting shape,
   the repaired shape the server offers is drawn in orange and can be taken with a click.
   Data comes from a JSON script block (the CSP forbids inline scripts). */
(function () {
  "use strict";
  var dataEl = document.getElementById("locality-data");
  var el = document.getElementById("locality-map");
  if (!dataEl || !el || !window.L) { return; }
  var data = JSON.parse(dataEl.textContent);
  var input = document.getElementById("locality-input");
  var status = document.getElementById("locality-status");

  var map = LocmapMap.create(el, {
    search: true,
    noteText: "No base map yet (an administrator builds one from an OpenStreetMap extract): draw on a plain background, or upload a boundary file."
  });
  map.setView([52.5, -1.49], 14);

  var drawn = new L.FeatureGroup().addTo(map);
  function say(msg) { if (status) { status.textContent = msg; } }
  function setShape(layer) {
    drawn.clearLayers();
    drawn.addLayer(layer);
    input.value = JSON.stringify(layer.toGeoJSON().geometry);
    say("Locality drawn.");
    el.setAttribute("data-locality-drawn", "1");
  }

  if (input.value) {
    try {
      var g = L.geoJSON(JSON.parse(input.value));
      g.eachLayer(function (l) { drawn.addLayer(l); });
      if (drawn.getLayers().length) { map.fitBounds(drawn.getBounds(), { padding: [20, 20] }); }
    } catch (e) { input.value = ""; }
  }
  if (data.repaired) {
    var fixed = L.geoJSON(data.repaired, { style: { color: "#e65100", weight: 3, dashArray: "6 4" } }).addTo(map);
    map.fitBounds(fixed.getBounds(), { padding: [20, 20] });
    var use = document.getElementById("use-repaired");
    if (use) {
      use.addEventListener("click", function () {
        drawn.clearLayers();
        map.removeLayer(fixed);
        L.geoJSON(data.repaired).eachLayer(function (l) { drawn.addLayer(l); });
        input.value = JSON.stringify(data.repaired);
        say("Using the repaired shape; create the pilot to save it.");
      });
    }
  }

  if (data.editable && L.Control.Draw) {
    map.addControl(new L.Control.Draw({
      position: "topleft",
      draw: { polygon: { allowIntersection: true, showArea: false }, polyline: false, marker: false,
              rectangle: { showArea: false }, circle: false, circlemarker: false },
      edit: { featureGroup: drawn, remove: true }
    }));
    map.on(L.Draw.Event.CREATED, function (ev) { setShape(ev.layer); });
    map.on(L.Draw.Event.EDITED, function () {
      var layers = drawn.getLayers();
      if (layers.length) { input.value = JSON.stringify(layers[0].toGeoJSON().geometry); say("Locality changed."); }
    });
    map.on(L.Draw.Event.DELETED, function () { input.value = ""; say("No locality drawn."); });
  }
  el.setAttribute("data-locality-ready", "1");
})();
