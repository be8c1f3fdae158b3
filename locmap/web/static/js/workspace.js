/* locmap pilot workspace: draw / edit / delete places (Leaflet.draw), record incidents by
   clicking the map, and show incidents in view as SQL-clustered counts that reload on
   moveend. Every write goes to /api/v1 with the CSRF header; the server checks roles.
   User text is only ever set with textContent. Runs after map.js (script order). */
(function () {
  "use strict";

  var ws, pilotId, canEdit, options = { place_kinds: [], harm_categories: [], time_precisions: [], agencies: [] };
  var incidentLayer, addingIncident = false;

  function csrf() { return document.querySelector("meta[name=csrf-token]").getAttribute("content"); }

  function api(method, path, body) {
    var init = { method: method, headers: { "Accept": "application/json" }, credentials: "same-origin" };
    if (method !== "GET") { init.headers["X-CSRFToken"] = csrf(); }
    if (body !== undefined) { init.headers["Content-Type"] = "application/json"; init.body = JSON.stringify(body); }
    return fetch("/api/v1/pilots/" + pilotId + path, init).then(function (r) {
      if (r.status === 204) { return { ok: true, status: 204, body: null }; }
      return r.json().then(function (b) { return { ok: r.ok, status: r.status, body: b }; },
                           function () { return { ok: r.ok, status: r.status, body: {} }; });
    });
  }

  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    if (text !== undefined && text !== null) { e.textContent = String(text); }
    return e;
  }

  function say(text, kind) {
    var box = document.getElementById("ws-message");
    box.textContent = text || "";
    box.className = "ws-message" + (kind ? " ws-" + kind : "");
    box.hidden = !text;
  }

  function editor() { return document.getElementById("ws-editor"); }

  /* Closing the editor with the keyboard focus inside it (Save, Cancel) puts the focus
     back on the control that opened it (remembered by openedFrom), else on the map, so a
     keyboard user goes on from where they were instead of from the top of the page. */
  var opener = null;

  function openedFrom(elt) { opener = elt; }

  function closeEditor() {
    var e = editor();
    var inside = e.contains(document.activeElement);
    e.replaceChildren(); e.hidden = true;
    if (!inside) { return; }
    var back = opener && document.body.contains(opener) && !opener.hidden ? opener : document.getElementById("map");
    if (back) { back.focus(); }
  }

  function field(form, labelText, input) {
    var l = el("label", {}, labelText);
    l.appendChild(input);
    form.appendChild(l);
    return input;
  }

  function select(name, items, value, blank) {
    var s = el("select", { name: name });
    if (blank) { s.appendChild(el("option", { value: "" }, blank)); }
    items.forEach(function (it) {
      var o = el("option", { value: String(it.value) }, it.label);
      if (String(it.value) === String(value)) { o.selected = true; }
      s.appendChild(o);
    });
    return s;
  }

  /* ---- places ---------------------------------------------------------------------- */

  function geometryKinds(gtype) {
    var polygon = gtype === "Polygon" || gtype === "MultiPolygon";
    return options.place_kinds.filter(function (k) {
      if (k.value === "peer_group") { return false; }  // seeded from the network, not drawn
      if (k.value === "online") { return gtype === null; }
      if (gtype === null) { return false; }
      if (k.value === "park" || k.value === "housing_estate") { return polygon; }
      if (k.value === "street") { return polygon || gtype === "LineString"; }
      return true;
    });
  }

  function placeForm(opts) {
    /* opts: {title, geometry, feature (when editing), onDone} */
    var e = editor(); e.replaceChildren(); e.hidden = false;
    var p = opts.feature ? opts.feature.properties : {};
    var form = el("form", { id: "place-form", novalidate: "novalidate" });
    form.appendChild(el("h2", {}, opts.title));
    var name = field(form, "Name", el("input", { name: "name", required: "required", maxlength: "200" }));
    name.value = p.name || opts.name || "";
    var gtype = opts.geometry ? opts.geometry.type : (opts.feature ? (opts.feature.geometry ? opts.feature.geometry.type : null) : null);
    var kind = field(form, "Kind", select("kind", geometryKinds(gtype), p.kind || (gtype === "Polygon" ? "park" : "other")));
    var agencies = options.agencies.map(function (a) { return { value: a.id, label: a.name }; });
    var managed = field(form, "Managed by", select("managed_by_id", agencies, p.managed_by_id, "— not recorded —"));
    var notes = field(form, "Notes", el("textarea", { name: "notes", rows: "3" }));
    notes.value = p.notes || "";
    var problem = el("div", { "class": "ws-problem", hidden: "hidden", role: "alert" });
    form.appendChild(problem);
    var buttons = el("div", { "class": "ws-buttons" });
    var save = el("button", { type: "submit", "class": "primary" }, "Save place");
    var cancel = el("button", { type: "button", "class": "secondary" }, "Cancel");
    buttons.appendChild(save); buttons.appendChild(cancel); form.appendChild(buttons);
    e.appendChild(form);
    name.focus();

    function body(geometry) {
      var b = { name: name.value, kind: kind.value, notes: notes.value,
                managed_by_id: managed.value ? Number(managed.value) : null };
      if (geometry !== undefined) { b.geometry = geometry; }
      if (opts.feature) { b.version = opts.feature.properties.version; }
      return b;
    }

    function submit(geometry) {
      problem.hidden = true; problem.replaceChildren();
      var req = opts.feature ? api("PATCH", "/places/" + opts.feature.id, body(geometry))
                             : api("POST", "/places", body(geometry));
      req.then(function (r) {
        if (r.ok) { closeEditor(); opts.onDone(r.body); return; }
        problem.hidden = false;
        problem.appendChild(el("p", {}, (r.body && r.body.message) || ("Could not save (" + r.status + ").")));
        var repaired = r.body && r.body.details && r.body.details.repaired;
        if (r.status === 422 && repaired) {
          var fix = el("button", { type: "button", "class": "primary", id: "repair-and-save" }, "Repair and save");
          problem.appendChild(el("p", { "class": "small" }, "locmap can repair the shape (the crossing is split into valid parts). Check the result on the map afterwards."));
          problem.appendChild(fix);
          fix.addEventListener("click", function () { submit(repaired); });
        }
      });
    }

    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      submit(opts.geometry !== undefined ? opts.geometry : undefined);
    });
    cancel.addEventListener("click", function () { closeEditor(); if (opts.onCancel) { opts.onCancel(); } });
  }

  /* A partner's per-place count is withheld or rounded: the server says so in a label. */
  function incidentBadge(p) {
    return p.incidents_label ? p.incidents_label.replace("fewer than ", "<").replace("about ", "~") : String(p.incidents);
  }

  /* A list item as pilot.html renders it: the place, "Show on map" (mapped places), "Start
     an assessment" (no assessment yet, for those who may assess); listActions adds the
     editors' "Edit details" and "Remove", the same actions as the place's popup. */
  function listItem(f) {
    var p = f.properties;
    var li = el("li", { "class": "place", "data-place-id": String(f.id), "data-kind": p.kind });
    li.appendChild(el("span", { "class": "swatch kind-" + p.kind }));
    li.appendChild(el("span", { "class": "place-name" }, p.name));
    var meta = el("span", { "class": "muted small" }, p.kind_label + (f.geometry ? "" : " · no map location") + " · ");
    var link = el("a", { "class": "place-evidence-link", href: "/pilots/" + pilotId + "/places/" + f.id }, "evidence");
    link.appendChild(el("span", { "class": "visually-hidden" }, " at " + p.name));
    meta.appendChild(link);
    li.appendChild(meta);
    li.appendChild(el("span", { "class": "badge", title: "incidents recorded at this place" }, incidentBadge(p)));
    var actions = el("span", { "class": "place-actions" });
    if (f.geometry) {
      var show = el("button", { type: "button", "class": "linkish-dark place-show" }, "Show on map");
      show.appendChild(el("span", { "class": "visually-hidden" }, " " + p.name));
      actions.appendChild(show);
    }
    if (ws.data.can_assess && !p.assessment_status) {
      var start = el("a", { "class": "start-assessment", href: "/pilots/" + pilotId + "/places/" + f.id + "/assessments/new" }, "Start an assessment");
      start.appendChild(el("span", { "class": "visually-hidden" }, " of " + p.name));
      actions.appendChild(start);
    }
    li.appendChild(actions);
    listActions(li);
    return li;
  }

  // The place as it stands (its layer's feature is kept current; online contexts have none).
  var known = {};
  function featureOf(id) {
    var lyr = ws.places.byId[id];
    return (lyr && lyr.feature) || known[id];
  }

  function editPlace(feature, then) {
    placeForm({ title: "Edit place", feature: feature, onDone: function (f) {
      upsertPlace(f); say("Saved “" + f.properties.name + "”.", "ok");
      if (then) { then(f); }
    } });
  }

  function confirmRemove(feature) {
    if (!window.confirm("Remove this place? Its incidents stay recorded.")) { return; }
    removePlace(feature);
  }

  function listActions(li) {
    if (!canEdit || !options.place_kinds.length || li.querySelector(".place-edit")) { return; }
    var id = li.getAttribute("data-place-id");
    var box = li.querySelector(".place-actions");
    var name = li.querySelector(".place-name").textContent;
    var edit = el("button", { type: "button", "class": "linkish-dark place-edit" }, "Edit details");
    edit.appendChild(el("span", { "class": "visually-hidden" }, " of " + name));
    var del = el("button", { type: "button", "class": "linkish-dark danger place-remove" }, "Remove");
    del.appendChild(el("span", { "class": "visually-hidden" }, " " + name));
    box.appendChild(edit); box.appendChild(del);
    edit.addEventListener("click", function () {
      openedFrom(edit);
      editPlace(featureOf(id), function (f) {
        // The item was rebuilt: the keyboard goes on from its new "Edit details".
        var again = document.querySelector('#place-list [data-place-id="' + f.id + '"] .place-edit');
        if (again) { again.focus(); }
      });
    });
    del.addEventListener("click", function () { confirmRemove(featureOf(id)); });
  }

  function upsertPlace(feature) {
    known[feature.id] = feature;
    var old = ws.places.byId[feature.id];
    if (old) { ws.places.layer.removeLayer(old); delete ws.places.byId[feature.id]; }
    if (feature.geometry) { ws.places.layer.addData(feature); decorate(feature.id); }
    var list = document.getElementById("place-list");
    var li = list.querySelector('[data-place-id="' + feature.id + '"]');
    var fresh = listItem(feature);
    if (li) { list.replaceChild(fresh, li); } else { list.appendChild(fresh); }
    updatePlaceCount();
  }

  function updatePlaceCount() {
    document.getElementById("place-count").textContent = String(document.querySelectorAll("#place-list .place").length);
    document.getElementById("map").setAttribute("data-places-rendered", String(Object.keys(ws.places.byId).length));
  }

  function decorate(id) {
    /* Every place carries its name on the map (a permanent label, from zoom 14: see
       labelZoom); editors also get popup actions: change the details, or remove it. */
    var lyr = ws.places.byId[id];
    if (lyr && !lyr.getTooltip()) {
      lyr.bindTooltip(locmap.text(lyr.feature.properties.name), { permanent: true, direction: "center", className: "place-label", interactive: false });
    }
    if (!lyr || !canEdit) { return; }
    var box = lyr.getPopup() && lyr.getPopup().getContent();
    if (!box || !box.appendChild || box.querySelector(".ws-popup-actions")) { return; }
    var row = el("div", { "class": "ws-popup-actions" });
    var edit = el("button", { type: "button", "class": "linkish-dark" }, "Edit details");
    var del = el("button", { type: "button", "class": "linkish-dark danger" }, "Remove");
    row.appendChild(edit); row.appendChild(del); box.appendChild(row);
    edit.addEventListener("click", function () {
      ws.map.closePopup();
      editPlace(lyr.feature);
    });
    del.addEventListener("click", function () { confirmRemove(lyr.feature); });
  }

  function removePlace(feature) {
    api("DELETE", "/places/" + feature.id + "?version=" + feature.properties.version).then(function (r) {
      if (!r.ok) { say((r.body && r.body.message) || "Could not remove the place.", "error"); return; }
      var lyr = ws.places.byId[feature.id];
      if (lyr) { ws.places.layer.removeLayer(lyr); delete ws.places.byId[feature.id]; }
      delete known[feature.id];
      var li = document.querySelector('#place-list [data-place-id="' + feature.id + '"]');
      if (li) {
        // The keyboard goes on from the next place (or the list's heading when none).
        var next = li.nextElementSibling || li.previousElementSibling;
        var inside = li.contains(document.activeElement);
        li.remove();
        if (inside && next) { next.querySelector("button, a").focus(); }
      }
      updatePlaceCount();
      say("Removed “" + feature.properties.name + "”.", "ok");
    });
  }

  function refreshCounts() {
    return api("GET", "/places").then(function (r) {
      if (!r.ok) { return; }
      r.body.features.forEach(function (f) {
        var badge = document.querySelector('#place-list [data-place-id="' + f.id + '"] .badge');
        if (badge) { badge.textContent = incidentBadge(f.properties); }
        var lyr = ws.places.byId[f.id];
        if (lyr && lyr.feature) { lyr.feature.properties.incidents = f.properties.incidents; lyr.feature.properties.version = f.properties.version; }
        if (known[f.id]) { known[f.id].properties.version = f.properties.version; }
      });
    });
  }

  function setupDraw() {
    if (!L.Control.Draw) { return; }
    var control = new L.Control.Draw({
      position: "topleft",
      draw: { polygon: { allowIntersection: true, showArea: false }, polyline: true, marker: true,
              rectangle: false, circle: false, circlemarker: false },
      edit: { featureGroup: ws.places.layer, remove: true }
    });
    ws.map.addControl(control);
    ws.map.on(L.Draw.Event.CREATED, function (ev) {
      var temp = ev.layer.addTo(ws.map);
      placeForm({
        title: "New place", geometry: temp.toGeoJSON().geometry,
        onDone: function (f) {
          ws.map.removeLayer(temp); upsertPlace(f);
          say(f.warnings && f.warnings.length ? f.warnings.join(" ") : "Saved “" + f.properties.name + "”.", f.warnings && f.warnings.length ? "warn" : "ok");
        },
        onCancel: function () { ws.map.removeLayer(temp); }
      });
    });
    ws.map.on(L.Draw.Event.EDITED, function (ev) {
      ev.layers.eachLayer(function (lyr) {
        var f = lyr.feature;
        api("PATCH", "/places/" + f.id, { geometry: lyr.toGeoJSON().geometry, version: f.properties.version }).then(function (r) {
          if (r.ok) { upsertPlace(r.body); say(r.body.warnings.length ? r.body.warnings.join(" ") : "Saved the new shape of “" + r.body.properties.name + "”.", r.body.warnings.length ? "warn" : "ok"); return; }
          if (r.status === 409) { upsertPlace(r.body.details.current); }
          else if (ws.places.byId[f.id]) { upsertPlace(f); }  // put the stored shape back
          say((r.body && r.body.message) || "Could not save the shape.", "error");
        });
      });
    });
    ws.map.on(L.Draw.Event.DELETED, function (ev) {
      ev.layers.eachLayer(function (lyr) { ws.places.byId[lyr.feature.id] = lyr; removePlace(lyr.feature); });
    });
  }

  /* ---- places without drawing: a base-map feature, typed coordinates, a search hit ---- */

  var pickingFeature = false;

  function newPlace(geometry, name, title) {
    var temp = L.geoJSON(geometry, { style: { color: "#1565c0", weight: 2, dashArray: "4 3" } }).addTo(ws.map);
    placeForm({
      title: title, geometry: geometry, name: name,
      onDone: function (f) {
        ws.map.removeLayer(temp); upsertPlace(f);
        say(f.warnings && f.warnings.length ? f.warnings.join(" ") : "Saved “" + f.properties.name + "”.", f.warnings && f.warnings.length ? "warn" : "ok");
      },
      onCancel: function () { ws.map.removeLayer(temp); }
    });
  }

  function setPicking(on) {
    pickingFeature = on;
    var b = document.getElementById("place-from-feature");
    b.setAttribute("aria-pressed", on ? "true" : "false");
    b.textContent = on ? "Click a building or park… (Esc to stop)" : "Place from the map";
    document.getElementById("map").classList.toggle("adding-incident", on);
  }

  /* The base map's building or green space under a click (MapLibre's rendered features:
     the outline as the tiles hold it, cut at a tile's edge for very large ones). */
  function pickFeature(ev) {
    if (!pickingFeature) { return; }
    setPicking(false);
    var gl = window.LocmapMap && LocmapMap.gl(ws.map);
    if (!gl) { say("The base map is not shown, so there is nothing to pick: type coordinates instead.", "warn"); return; }
    var pt = gl.project([ev.latlng.lng, ev.latlng.lat]);
    var layers = ["building", "green"].filter(function (id) { return gl.getLayer(id); });
    var hits = gl.queryRenderedFeatures([[pt.x - 2, pt.y - 2], [pt.x + 2, pt.y + 2]], { layers: layers }).filter(function (f) {
      return f.geometry && (f.geometry.type === "Polygon" || f.geometry.type === "MultiPolygon");
    });
    if (!hits.length) { say("No building or park outline there: zoom in and click inside one, or type coordinates.", "warn"); return; }
    var f = hits[0];
    newPlace(f.geometry, (f.properties && f.properties.name) || "", "New place from the map");
  }

  function coordinatesForm() {
    var e = editor(); e.replaceChildren(); e.hidden = false;
    var form = el("form", { id: "coords-form", novalidate: "novalidate" });
    form.appendChild(el("h2", {}, "New place from coordinates"));
    var system = field(form, "Coordinates", select("system", [
      { value: "wgs84", label: "latitude, longitude (WGS84, degrees)" },
      { value: "bng", label: "easting, northing (British National Grid, metres)" }], "wgs84"));
    var first = field(form, "Latitude", el("input", { name: "first", inputmode: "decimal", autocomplete: "off" }));
    var second = field(form, "Longitude", el("input", { name: "second", inputmode: "decimal", autocomplete: "off" }));
    function names() {
      var bng = system.value === "bng";
      first.previousSibling.textContent = bng ? "Easting" : "Latitude";
      second.previousSibling.textContent = bng ? "Northing" : "Longitude";
    }
    system.addEventListener("change", names);
    var problem = el("div", { "class": "ws-problem", hidden: "hidden", role: "alert" });
    form.appendChild(problem);
    var buttons = el("div", { "class": "ws-buttons" });
    buttons.appendChild(el("button", { type: "submit", "class": "primary" }, "Show on the map"));
    var cancel = el("button", { type: "button", "class": "secondary" }, "Cancel");
    buttons.appendChild(cancel); form.appendChild(buttons);
    e.appendChild(form);
    first.focus();
    cancel.addEventListener("click", closeEditor);
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      problem.hidden = true; problem.replaceChildren();
      var q = "/coordinates?system=" + system.value + "&first=" + encodeURIComponent(first.value.trim()) +
        "&second=" + encodeURIComponent(second.value.trim());
      api("GET", q).then(function (r) {
        if (!r.ok) {
          var msg = (r.body && r.body.message) || "Those coordinates could not be read.";
          var fields = r.body && r.body.details && r.body.details.fields;
          if (fields) { msg = "Type two numbers (e.g. 52.4862 and -1.8904, or 407000 and 286000)."; }
          problem.hidden = false; problem.appendChild(el("p", {}, msg)); return;
        }
        var c = r.body.geometry.coordinates;
        ws.map.setView([c[1], c[0]], Math.max(ws.map.getZoom(), 17));
        newPlace(r.body.geometry, "", "New place at " + c[1].toFixed(5) + ", " + c[0].toFixed(5));
        if (r.body.warnings.length) { say(r.body.warnings.join(" "), "warn"); }
      });
    });
  }

  function setupPlaceMaking() {
    var fromFeature = document.getElementById("place-from-feature");
    var fromCoords = document.getElementById("place-from-coords");
    if (!fromFeature || !fromCoords) { return; }
    fromCoords.hidden = false;
    fromCoords.addEventListener("click", function () { openedFrom(fromCoords); coordinatesForm(); });
    if (window.LocmapMap && LocmapMap.gl(ws.map)) {
      fromFeature.hidden = false;
      fromFeature.addEventListener("click", function () { setAdding(false); setPicking(!pickingFeature); });
      document.addEventListener("keydown", function (ev) { if (ev.key === "Escape") { setPicking(false); } });
    }
    // A search hit of the base map's gazetteer: offer to make a place there.
    ws.map.on("locmap:search", function (ev) {
      var hit = ev.hit;
      var chip = document.getElementById("search-place");
      if (!chip || !hit) { return; }
      chip.replaceChildren();
      var b = el("button", { type: "button", "class": "linkish-dark", id: "place-from-search" }, "Make a place at “" + hit.name + "”");
      b.addEventListener("click", function () {
        chip.hidden = true;
        newPlace({ type: "Point", coordinates: [hit.lon, hit.lat] }, hit.name, "New place from the search");
      });
      chip.appendChild(b); chip.hidden = false;
    });
  }

  /* ---- incidents ------------------------------------------------------------------- */

  function pad(n) { return (n < 10 ? "0" : "") + n; }

  function incidentForm(latlng) {
    var e = editor(); e.replaceChildren(); e.hidden = false;
    var form = el("form", { id: "incident-form", novalidate: "novalidate" });
    form.appendChild(el("h2", {}, "New incident"));
    form.appendChild(el("p", { "class": "muted small" }, "At " + latlng.lat.toFixed(5) + ", " + latlng.lng.toFixed(5) + " — the place is worked out from the location."));
    var cat = field(form, "Category", select("category", options.harm_categories, "asb"));
    var sev = field(form, "Severity (1 low – 5 high)", select("severity", [1, 2, 3, 4, 5].map(function (n) { return { value: n, label: String(n) }; }), 3));
    var now = new Date();
    var when = field(form, "When", el("input", { name: "occurred_at", type: "datetime-local", required: "required" }));
    when.value = now.getFullYear() + "-" + pad(now.getMonth() + 1) + "-" + pad(now.getDate()) + "T" + pad(now.getHours()) + ":" + pad(now.getMinutes());
    var prec = field(form, "Precision", select("time_precision", options.time_precisions.map(function (p) { return { value: p, label: p }; }), "exact"));
    var agency = field(form, "Source agency", select("source_agency_id", options.agencies.map(function (a) { return { value: a.id, label: a.name }; }), null, "— not recorded —"));
    var desc = field(form, "Description (restricted to the pilot team)", el("textarea", { name: "description", rows: "3" }));
    var problem = el("div", { "class": "ws-problem", hidden: "hidden", role: "alert" });
    form.appendChild(problem);
    var buttons = el("div", { "class": "ws-buttons" });
    buttons.appendChild(el("button", { type: "submit", "class": "primary" }, "Save incident"));
    var cancel = el("button", { type: "button", "class": "secondary" }, "Cancel");
    buttons.appendChild(cancel); form.appendChild(buttons); e.appendChild(form);
    var marker = L.circleMarker(latlng, { radius: 7, color: "#c62828", dashArray: "3 3" }).addTo(ws.map);
    cat.focus();
    cancel.addEventListener("click", function () { ws.map.removeLayer(marker); closeEditor(); });
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var body = { location: { type: "Point", coordinates: [latlng.lng, latlng.lat] }, category: cat.value,
                   severity: Number(sev.value), occurred_at: when.value, time_precision: prec.value,
                   source_agency_id: agency.value ? Number(agency.value) : null, description: desc.value };
      api("POST", "/incidents", body).then(function (r) {
        if (!r.ok) {
          problem.hidden = false;
          problem.textContent = (r.body && r.body.message ? r.body.message : "Could not save.") +
            (r.body && r.body.details ? " " + JSON.stringify(r.body.details) : "");
          return;
        }
        ws.map.removeLayer(marker); closeEditor();
        var placeName = r.body.place_id && ws.places.byId[r.body.place_id] ? ws.places.byId[r.body.place_id].feature.properties.name : null;
        say("Recorded " + r.body.category_label.toLowerCase() + (placeName ? " at “" + placeName + "”." : " (not at a known place)."), "ok");
        refreshCounts(); reloadIncidents();
      });
    });
  }

  function setAdding(on) {
    addingIncident = on;
    var b = document.getElementById("add-incident");
    b.setAttribute("aria-pressed", on ? "true" : "false");
    b.textContent = on ? "Click the map, or Enter for its centre… (Esc to stop)" : "Add incident";
    document.getElementById("map").classList.toggle("adding-incident", on);
  }

  /* The keyboard way to place an incident: in "Add incident" mode the map takes the focus;
     the arrow keys and + / - move it (Leaflet's keyboard navigation) under the cross in
     its centre, and Enter records the incident there. */
  function keyboardAdding() {
    var mapEl = document.getElementById("map");
    mapEl.setAttribute("aria-keyshortcuts", "Enter");
    mapEl.addEventListener("keydown", function (ev) {
      if (!addingIncident || ev.key !== "Enter" || ev.target !== mapEl) { return; }
      ev.preventDefault();
      pick({ latlng: ws.map.getCenter() });
    });
  }

  function filterQuery() {
    var f = document.getElementById("incident-filters");
    var q = [];
    ["category", "date_from", "date_to", "data_import_id"].forEach(function (n) {
      var v = f.elements[n].value; if (v) { q.push(n + "=" + encodeURIComponent(v)); }
    });
    return q.join("&");
  }

  // The coarsest zooms the server keeps per-cell counts for (queries.incidents.AGG_ZOOMS).
  var COUNTED_ZOOM = 13;

  function loadIncidents() {
    var b = ws.map.getBounds(), zoom = ws.map.getZoom();
    var edges = [Math.max(-180, b.getWest()), Math.max(-90, b.getSouth()), Math.min(180, b.getEast()), Math.min(90, b.getNorth())];
    var bbox = edges.map(function (v) { return v.toFixed(6); }).join(",");
    if (zoom <= COUNTED_ZOOM) {
      // Ask for whole grid cells (60 px at this zoom, as the server clusters): the server
      // then reads them from its per-cell counts instead of clustering every incident
      // under a cut edge. Cells just off screen cost nothing to draw.
      var cell = 360 / (256 * Math.pow(2, zoom)) * 60;
      bbox = edges.map(function (v, i) {
        var k = i < 2 ? Math.floor(v / cell) : Math.ceil(v / cell);
        var lim = i % 2 ? 90 : 180;
        var out = Math.max(-lim, Math.min(lim, k * cell));
        return (i < 2 ? Math.floor(out * 1e6) : Math.ceil(out * 1e6)) / 1e6;
      }).map(function (v) { return v.toFixed(6); }).join(",");
    }
    var q = "/incidents/map?bbox=" + bbox + "&zoom=" + zoom + (filterQuery() ? "&" + filterQuery() : "");
    return api("GET", q).then(function (r) {
      if (!r.ok) { return; }
      incidentLayer.clearLayers();
      r.body.features.forEach(function (f) {
        var ll = L.latLng(f.geometry.coordinates[1], f.geometry.coordinates[0]);
        var p = f.properties;
        if (r.body.mode === "clusters" && p.count > 1) {
          var icon = el("div", { "class": "ws-cluster sev-" + p.max_severity });
          icon.appendChild(el("span", {}, p.count));
          var size = 22 + Math.min(22, Math.round(Math.log(p.count) * 4));
          L.marker(ll, { icon: L.divIcon({ html: icon, className: "ws-cluster-icon", iconSize: [size, size] }), keyboard: false })
            .on("click", function (ev) {
              if (!addingIncident) { L.DomEvent.stop(ev); ws.map.setView(ll, Math.min(ws.map.getZoom() + 2, 19)); }
            })
            .addTo(incidentLayer);
        } else {
          var m = L.circleMarker(ll, { radius: 5, color: "#b71c1c", weight: 1, fillColor: "#e53935", fillOpacity: 0.85, className: "ws-incident" });
          var box = el("div", {});
          box.appendChild(el("strong", {}, p.category_label || "Incidents"));
          if (p.occurred_at) { box.appendChild(el("div", { "class": "small" }, p.occurred_at.slice(0, p.time_precision === "month" ? 7 : p.time_precision === "day" ? 10 : 16).replace("T", " ") + " · severity " + p.severity)); }
          m.bindPopup(box).addTo(incidentLayer);
        }
      });
      var total = document.getElementById("incidents-in-view");
      total.textContent = String(r.body.total);
      document.getElementById("map").setAttribute("data-incidents-mode", r.body.mode);
    });
  }

  function pick(ev) {
    /* In "Add incident" mode a click anywhere on the map is the incident's location. */
    if (!addingIncident) { return false; }
    setAdding(false);
    ws.map.closePopup();
    incidentForm(ev.latlng);
    return true;
  }

  /* The incident list links here with its filters (?category=…&date_from=…&import=N):
     the map opens showing the same incidents, and says so when it is one import's. */
  function applyUrlFilters(form) {
    var params = new URLSearchParams(window.location.search);
    ["category", "date_from", "date_to"].forEach(function (n) {
      var v = params.get(n);
      if (v && form.elements[n]) { form.elements[n].value = v.split(",")[0]; }
    });
    var imp = params.get("import");
    if (imp && /^[0-9]{1,9}$/.test(imp)) {
      form.elements.data_import_id.value = imp;
      document.getElementById("import-chip-text").textContent = "Only incidents from import #" + imp + ".";
      document.getElementById("import-chip").hidden = false;
    }
    document.getElementById("import-chip-clear").addEventListener("click", function () {
      form.elements.data_import_id.value = "";
      document.getElementById("import-chip").hidden = true;
      reloadIncidents();
    });
  }

  /* The filter form as the tile endpoint's query (its names: from, to, import). */
  function tileQuery() {
    var f = document.getElementById("incident-filters");
    var q = [];
    [["category", "category"], ["date_from", "from"], ["date_to", "to"], ["data_import_id", "import"]].forEach(function (n) {
      var v = f.elements[n[0]].value; if (v) { q.push(n[1] + "=" + encodeURIComponent(v)); }
    });
    return q.join("&");
  }

  var tiles = null;  // the GL incident layer's controller (incident_layer.js), if any

  function reloadIncidents() {
    if (tiles) { tiles.reload(); } else { loadIncidents(); }
  }

  function setupIncidents() {
    incidentLayer = L.featureGroup().addTo(ws.map);
    var catSel = document.getElementById("incident-filters").elements.category;
    options.harm_categories.forEach(function (c) { catSel.appendChild(el("option", { value: c.value }, c.label)); });
    applyUrlFilters(document.getElementById("incident-filters"));
    var roles = ws.data.pilot.roles || [];
    tiles = window.LocmapIncidents && LocmapIncidents.attach(ws.map, {
      pilotId: pilotId, categories: options.harm_categories, months: options.incident_months || [],
      query: tileQuery, slider: document.getElementById("time-slider"),
      partner: roles.length === 1 && roles[0] === "partner_reviewer",
      onChange: function (st) { document.getElementById("incidents-in-view").textContent = String(st.drawn); }
    });
    if (tiles) {
      // Incidents come as vector tiles drawn by the GL map (static/js/incident_layer.js).
      document.getElementById("map").setAttribute("data-incidents-mode", "tiles");
      document.getElementById("incident-filters").addEventListener("change", tiles.refresh);
    } else {
      document.getElementById("incident-filters").addEventListener("change", loadIncidents);
      ws.map.on("moveend", loadIncidents);
      loadIncidents();
    }
    var add = document.getElementById("add-incident");
    if (!add) { return; }
    add.hidden = !canEdit;
    add.addEventListener("click", function () {
      setAdding(!addingIncident);
      if (addingIncident) {
        openedFrom(add);
        document.getElementById("map").focus({ preventScroll: true });
        say("Click the map where it happened, or move the map with the arrow keys and press Enter to use the cross at its centre.");
      }
    });
    keyboardAdding();
    document.addEventListener("keydown", function (ev) { if (ev.key === "Escape") { setAdding(false); } });
    ws.map.on("click", pick);
    ws.map.on("click", pickFeature);
    // A click on a place or an incident opens its popup and stops the event before it
    // reaches the map, so those layers pick the location too.
    ws.places.layer.on("click", pick);
    incidentLayer.on("click", pick);
  }

  document.addEventListener("DOMContentLoaded", function () {
    ws = window.locmapWorkspace;
    if (!ws) { return; }
    pilotId = ws.data.pilot.id;
    var roles = ws.data.pilot.roles || [];
    canEdit = roles.indexOf("coordinator") >= 0 || roles.indexOf("practitioner") >= 0;
    (ws.data.places.features || []).forEach(function (f) { known[f.id] = f; });
    api("GET", "/workspace-options").then(function (r) {
      if (!r.ok) { say("Could not load the workspace options.", "error"); return; }
      options = r.body;
      Object.keys(ws.places.byId).forEach(decorate);
      document.querySelectorAll("#place-list .place").forEach(listActions);
      // Place names from zoom 14 (a town-wide view would be all labels).
      var labelZoom = function () { document.getElementById("map").classList.toggle("place-labels-off", ws.map.getZoom() < 14); };
      ws.map.on("zoomend", labelZoom); labelZoom();
      if (canEdit) { setupDraw(); setupPlaceMaking(); }
      setupIncidents();
      if (canEdit) {
        var online = document.getElementById("add-online");
        online.hidden = false;
        online.addEventListener("click", function () {
          placeForm({ title: "New online context", geometry: null, onDone: function (f) { upsertPlace(f); say("Saved “" + f.properties.name + "”.", "ok"); } });
        });
      }
      document.getElementById("map").setAttribute("data-workspace-ready", "true");
    });
  });
})();
