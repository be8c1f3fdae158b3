/* Field work on a phone (issue 18): +/- steppers on counts, the place where the
   practitioner stands, the walk (with consent, each time), and the offline queue.

   Everything recorded on the field page goes into a queue in IndexedDB first and is then
   sent in order through the JSON API, each request with an Idempotency-Key, so a resend
   after a dropped connection never creates twice. Offline, items wait and are sent when
   the browser says it is online again. An item the server refuses (422, 409, 413) stays
   in the queue with the reason and a way to fix it and send it again.
   The steppers also work on the place page's visit forms. No inline script (CSP). */
(function () {
  "use strict";

  var NEAR_M = 100;

  // --- steppers ------------------------------------------------------------------------
  function addSteppers(root) {
    root.querySelectorAll(".fld-count input[type=number]").forEach(function (input) {
      if (input.dataset.stepper) { return; }
      input.dataset.stepper = "1";
      var name = input.closest("label").firstChild.textContent.trim();
      var box = document.createElement("span");
      box.className = "stepper";
      function button(text, delta, what) {
        var b = document.createElement("button");
        b.type = "button";
        b.className = "step";
        b.textContent = text;
        b.setAttribute("aria-label", what + " " + name);
        b.addEventListener("click", function () {
          var n = Math.max(0, Math.min(10000, (parseInt(input.value, 10) || 0) + delta));
          input.value = String(n);
          input.dispatchEvent(new Event("change", { bubbles: true }));
        });
        return b;
      }
      input.parentNode.insertBefore(box, input);
      box.appendChild(button("−", -1, "One fewer:"));
      box.appendChild(input);
      box.appendChild(button("+", 1, "One more:"));
    });
  }

  // --- IndexedDB queue (opened through locmap.queue, static/js/locmap.js) -----------------
  // Each item carries the user who recorded it; only theirs are shown and sent, so on a
  // shared phone the next person's session never sends (nor sees) them. Logging out
  // empties the queue (locmap.js).
  var me = null;
  function mine(item) { return me !== null && item.user === me; }
  function allItems() {
    return locmap.queue("readonly", function (s) { return s.getAll(); })
      .then(function (items) { return items.filter(mine); });
  }
  function putItem(item) {
    item.user = me;
    return locmap.queue("readwrite", function (s) { return s.put(item); });
  }
  function dropItem(id) { return locmap.queue("readwrite", function (s) { return s.delete(id); }); }

  function newKey() {
    if (window.crypto && crypto.randomUUID) { return crypto.randomUUID(); }
    return String(Date.now()) + "-" + String(Math.random()).slice(2);
  }
  function csrf() {
    var m = document.querySelector('meta[name="csrf-token"]');
    return m ? m.getAttribute("content") : "";
  }

  // --- sending -------------------------------------------------------------------------
  var sending = false;

  function send(method, url, key, body, files) {
    var headers = { "X-CSRFToken": csrf(), "Idempotency-Key": key };
    var payload;
    if (files) {
      payload = new FormData();
      files.forEach(function (f, i) { payload.append("photos", f.blob, f.name || ("photo" + i + ".jpg")); });
    } else {
      headers["Content-Type"] = "application/json";
      payload = JSON.stringify(body);
    }
    return fetch(url, { method: method, headers: headers, body: payload, credentials: "same-origin" })
      .then(function (r) {
        return r.json().catch(function () { return {}; }).then(function (data) {
          return { status: r.status, data: data };
        });
      });
  }

  var newRefusal = false;

  function refused(item, answer) {
    newRefusal = true;  // bring the queue into view: the practitioner has something to decide
    item.status = "refused";
    item.code = answer.status;
    item.error = (answer.data && answer.data.message) || ("The server answered " + answer.status + ".");
    item.current = answer.data && answer.data.details ? answer.data.details.current : null;
    item.currentVersion = answer.data && answer.data.details ? answer.data.details.current_version : null;
    return putItem(item);
  }

  // One item: its record first (unless it was already created), then its photos.
  function sendItem(item) {
    var base = "/api/v1/pilots/" + item.pilot;
    var step;
    if (item.kind === "edit") {
      step = send("PATCH", base + "/observations/" + item.observation, item.key, item.body)
        .then(function (a) { return a.status === 200 ? { ok: true } : a; });
    } else if (item.createdId) {
      step = Promise.resolve({ ok: true });
    } else {
      var url = item.kind === "visit" ? base + "/places/" + item.place + "/observations"
        : base + "/incidents";
      step = send("POST", url, item.key, item.body).then(function (a) {
        if (a.status !== 201) { return a; }
        item.createdId = a.data.id;
        return putItem(item).then(function () { return { ok: true }; });
      });
    }
    return step.then(function (a) {
      if (!a.ok) { return refused(item, a).then(function () { return false; }); }
      if (!item.photos || !item.photos.length || item.kind === "edit") { return true; }
      return sendPhotos(item, base);
    }).then(function (ok) {
      if (!ok) { return false; }
      return dropItem(item.id).then(function () {
        done.push(item);
        return true;
      });
    });
  }

  // The photos one request each (twelve phone photos in one request would pass the
  // server's upload limit), each with its own idempotency key; item.photosSent counts
  // those stored, so a resend after a refusal or a dropped connection starts at the next.
  function sendPhotos(item, base) {
    var i = item.photosSent || 0;
    if (i >= item.photos.length) { return Promise.resolve(true); }
    var owner = item.kind === "visit" ? "/observations/" : "/incidents/";
    return send("POST", base + owner + item.createdId + "/photos", item.key + "-photo-" + i,
      null, [item.photos[i]]).then(function (p) {
      if (p.status !== 201) {
        return refused(item, p).then(function () {
          item.error = "photo " + (i + 1) + " of " + item.photos.length + ": " + item.error;
          return putItem(item);
        }).then(function () { return false; });
      }
      item.photosSent = i + 1;
      return putItem(item).then(function () { return sendPhotos(item, base); });
    });
  }

  var done = [];

  function flush() {
    if (sending || !navigator.onLine) { return Promise.resolve(); }
    sending = true;
    return allItems().then(function (items) {
      var waiting = items.filter(function (i) { return i.status === "waiting"; });
      // In order, one at a time; a network failure stops the round (still offline).
      return waiting.reduce(function (chain, item) {
        return chain.then(function (go) {
          if (!go) { return false; }
          return sendItem(item).then(function () { return true; }, function () { return false; });
        });
      }, Promise.resolve(true));
    }).then(function () { sending = false; render(); }, function () { sending = false; render(); });
  }

  // --- the queue on the page -----------------------------------------------------------
  function describe(item) {
    if (item.kind === "visit") { return "Site visit at " + item.label; }
    if (item.kind === "incident") { return "Incident: " + item.label; }
    return "Notes of your visit at " + item.label;
  }

  function render() {
    var box = document.getElementById("field-queue-box");
    var list = document.getElementById("field-queue");
    if (!box || !list) { return Promise.resolve(); }
    return allItems().then(function (items) {
      list.textContent = "";
      done.forEach(function (item) {
        var li = document.createElement("li");
        li.className = "queue-item sent";
        li.textContent = describe(item) + " — sent. ";
        var where = item.kind === "incident" ? "/pilots/" + item.pilot + "/incidents/" + item.createdId
          : item.kind === "visit" ? "/pilots/" + item.pilot + "/places/" + item.place + "#visit-" + item.createdId : null;
        if (where) {
          var a = document.createElement("a");
          a.href = where;
          a.textContent = "Open it";
          li.appendChild(a);
        }
        list.appendChild(li);
      });
      items.forEach(function (item) {
        var li = document.createElement("li");
        li.className = "queue-item " + item.status;
        li.dataset.kind = item.kind;
        var text = document.createElement("span");
        text.textContent = describe(item) + (item.photos && item.photos.length ? " (" + item.photos.length + " photos)" : "") +
          (item.status === "waiting" ? " — waiting to send." : " — not sent: " + item.error);
        li.appendChild(text);
        if (item.status === "refused") { li.appendChild(fixes(item)); }
        list.appendChild(li);
      });
      document.getElementById("field-queue-count").textContent = String(items.length);
      box.hidden = !items.length && !done.length;
      if (newRefusal) {
        newRefusal = false;
        box.scrollIntoView({ block: "start" });
      }
    });
  }

  function action(text, cls, fn) {
    var b = document.createElement("button");
    b.type = "button";
    b.className = cls;
    b.textContent = text;
    b.addEventListener("click", fn);
    return b;
  }

  // What the practitioner can do with a refused item.
  function fixes(item) {
    var span = document.createElement("span");
    span.className = "queue-fix";
    if (item.code === 409 && item.kind === "edit" && item.currentVersion) {
      var theirs = document.createElement("span");
      theirs.className = "muted small";
      theirs.textContent = " Saved meanwhile: “" + ((item.current && item.current.notes) || "") + "”. ";
      span.appendChild(theirs);
      span.appendChild(action("Keep mine", "primary", function () {
        item.body.version = item.currentVersion;
        item.key = newKey();
        item.status = "waiting";
        putItem(item).then(flush);
      }));
      span.appendChild(action("Keep theirs", "", function () { dropItem(item.id).then(render); }));
      return span;
    }
    if ((item.kind === "visit" || item.kind === "incident") && !item.createdId) {
      span.appendChild(action("Edit and send again", "primary", function () {
        (item.kind === "visit" ? refill(item) : refillIncident(item))
          .then(function () { return dropItem(item.id); }).then(render);
      }));
    } else {
      span.appendChild(action("Send again", "primary", function () {
        item.status = "waiting";
        item.key = item.createdId ? item.key : newKey();
        putItem(item).then(flush);
      }));
      if (item.createdId && item.photos && (item.photosSent || 0) < item.photos.length) {
        span.appendChild(action("Send the rest without this photo", "", function () {
          item.status = "waiting";
          item.photosSent = (item.photosSent || 0) + 1;
          putItem(item).then(flush);
        }));
      }
    }
    span.appendChild(action("Discard", "danger", function () { dropItem(item.id).then(render); }));
    return span;
  }

  // Put a refused visit back into the form to be corrected and saved again.
  function refill(item) {
    var form = document.getElementById("field-visit-form");
    if (!form) { return Promise.resolve(); }
    form.elements.place_id.value = String(item.place);
    Object.keys(item.body).forEach(function (name) {
      var el = form.elements[name];
      if (!el || name === "walk") { return; }
      if (el.type === "checkbox") { el.checked = !!item.body[name]; } else { el.value = item.body[name] === null ? "" : item.body[name]; }
    });
    refillPhotos(form.elements.photos, item.photos);
    form.scrollIntoView({ block: "start" });
    status("Correct the visit and save it again.");
    return Promise.resolve();
  }

  // The same for a refused incident: its fields back in the incident form. Where it was
  // placed is kept (the form places an incident where the practitioner stands, or at the
  // chosen place): a refill must not move it.
  var refilledAt = null;
  function refillIncident(item) {
    var form = document.getElementById("field-incident-form");
    if (!form) { return Promise.resolve(); }
    var b = item.body;
    form.elements.category.value = b.category;
    form.elements.severity.value = String(b.severity);
    form.elements.occurred_at.value = b.occurred_at || "";
    form.elements.description.value = b.description || "";
    refilledAt = b.location && b.location.coordinates;
    refillPhotos(form.elements.photos, item.photos);
    form.scrollIntoView({ block: "start" });
    form.elements.category.focus();
    status("Correct the incident and save it again.");
    return Promise.resolve();
  }

  // The item's photos back in the form's file input (kept as blobs in the queue).
  function refillPhotos(input, photos) {
    if (!input || !photos || !photos.length || typeof DataTransfer === "undefined") { return; }
    try {
      var dt = new DataTransfer();
      photos.forEach(function (p, i) {
        dt.items.add(new File([p.blob], p.name || ("photo" + i + ".jpg"), { type: p.blob.type }));
      });
      input.files = dt.files;
    } catch (e) { /* an older browser: the practitioner chooses them again */ }
  }

  function status(text) {
    var el = document.getElementById("field-status");
    if (el) { el.textContent = text; }
  }

  // --- position, nearest place, the walk -----------------------------------------------
  var here = null, walkWatch = null, walkPoints = [];

  function metres(a, b) {
    var r = 6371008.8, rad = Math.PI / 180;
    var dLat = (b[1] - a[1]) * rad, dLon = (b[0] - a[0]) * rad;
    var h = Math.sin(dLat / 2) * Math.sin(dLat / 2) +
      Math.cos(a[1] * rad) * Math.cos(b[1] * rad) * Math.sin(dLon / 2) * Math.sin(dLon / 2);
    return 2 * r * Math.asin(Math.sqrt(h));
  }
  function vertices(geom) {
    var out = [];
    (function walk(c) {
      if (typeof c[0] === "number") { out.push(c); } else { c.forEach(walk); }
    })(geom.coordinates);
    return out;
  }
  function centre(geom) {
    var v = vertices(geom), lon = 0, lat = 0;
    v.forEach(function (c) { lon += c[0]; lat += c[1]; });
    return [lon / v.length, lat / v.length];
  }

  function choosePlace(data, pos) {
    var select = document.getElementById("field-place");
    var note = document.getElementById("field-near");
    if (!select || select.value) { return; }  // never override a choice
    function pick(place) {
      if (!place) { note.textContent = "No place within " + NEAR_M + " m of where you stand: choose one."; return; }
      select.value = String(place.id);
      note.textContent = "You are at " + place.name + " (" + place.distance_m + " m).";
    }
    if (navigator.onLine) {
      fetch("/api/v1/pilots/" + data.pilot + "/places/nearest?lon=" + pos[0] + "&lat=" + pos[1], { credentials: "same-origin" })
        .then(function (r) { return r.json(); })
        .then(function (d) { pick(d.place); }, function () { pick(nearestOffline(data, pos)); });
    } else {
      pick(nearestOffline(data, pos));
    }
  }
  // Offline: the nearest vertex of each cached place shape (an approximation).
  function nearestOffline(data, pos) {
    var best = null;
    data.places.features.forEach(function (f) {
      if (!f.geometry) { return; }
      vertices(f.geometry).forEach(function (c) {
        var m = metres(pos, c);
        if (m <= NEAR_M && (!best || m < best.distance_m)) {
          best = { id: f.id, name: f.properties.name, distance_m: Math.round(m) };
        }
      });
    });
    return best;
  }

  function locate(data) {
    if (!navigator.geolocation) { return; }
    navigator.geolocation.getCurrentPosition(function (p) {
      here = [p.coords.longitude, p.coords.latitude];
      choosePlace(data, here);
    }, function () { /* no position: the practitioner chooses */ }, { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 });
  }

  function walkConsent(box) {
    var note = document.getElementById("field-walk-status");
    box.addEventListener("change", function () {
      if (box.checked && navigator.geolocation) {
        walkPoints = [];
        walkWatch = navigator.geolocation.watchPosition(function (p) {
          here = [p.coords.longitude, p.coords.latitude];
          walkPoints.push([p.coords.longitude, p.coords.latitude, Math.round(p.timestamp / 1000)]);
          note.textContent = "Recording your walk: " + walkPoints.length + " positions.";
        }, function () { note.textContent = "Your position is not available."; }, { enableHighAccuracy: true });
        note.textContent = "Recording your walk while this form is open.";
      } else {
        stopWalk();
        note.textContent = "";
      }
    });
  }
  function stopWalk() {
    if (walkWatch !== null) { navigator.geolocation.clearWatch(walkWatch); walkWatch = null; }
  }

  // --- the forms -----------------------------------------------------------------------
  var COUNTS = ["young_people_10_13", "young_people_14_15", "young_people_16_17",
    "young_people_18_24", "adults_present", "staff_guardians_present"];

  function files(input) {
    return Array.prototype.map.call(input.files || [], function (f) { return { blob: f, name: f.name }; });
  }

  function visitBody(form) {
    var body = {};
    ["started_at", "ended_at", "weather", "light", "guardianship", "lighting", "sight_lines",
      "cctv", "felt_safe", "felt_unsafe", "notes"].forEach(function (n) {
      var v = form.elements[n].value;
      if (v !== "" || n === "light") { body[n] = v === "" ? null : v; }
    });
    if (!body.ended_at) { delete body.ended_at; }
    COUNTS.forEach(function (n) { body[n] = parseInt(form.elements[n].value, 10) || 0; });
    body.signs_of_dealing = form.elements.signs_of_dealing.checked;
    body.signs_of_drug_use = form.elements.signs_of_drug_use.checked;
    if (document.getElementById("field-walk").checked && walkPoints.length >= 2) {
      body.walk = { points: walkPoints.slice() };
    }
    return body;
  }

  function queueThen(item, message) {
    item.status = "waiting";
    item.key = newKey();
    item.created = Date.now();
    return putItem(item).then(function () {
      status(navigator.onLine ? message + " Sending…" : message + " Kept on this phone: it is sent when you are back online.");
      return render();
    }).then(flush);
  }

  function wireVisit(form, data) {
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      if (!form.reportValidity()) { return; }
      var select = form.elements.place_id;
      var item = {
        kind: "visit", pilot: data.pilot, place: parseInt(select.value, 10),
        label: select.options[select.selectedIndex].text, body: visitBody(form),
        photos: files(form.elements.photos)
      };
      stopWalk();
      document.getElementById("field-walk").checked = false;  // consent is asked each time
      walkPoints = [];
      queueThen(item, "Site visit saved.").then(function () {
        var start = form.elements.started_at.value, place = select.value;
        form.reset();
        form.elements.started_at.value = start;
        select.value = place;  // the practitioner is still there
      });
    });
  }

  function wireIncident(form, data) {
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      if (!form.reportValidity()) { return; }
      var select = document.getElementById("field-place");
      var place = null;
      data.places.features.forEach(function (f) { if (String(f.id) === select.value) { place = f; } });
      var at = refilledAt || here || (place && place.geometry ? centre(place.geometry) : null);
      if (!at) { status("Choose the place above (or allow your location) to place the incident."); return; }
      var category = form.elements.category;
      var body = {
        location: { type: "Point", coordinates: at }, occurred_at: form.elements.occurred_at.value,
        category: category.value, severity: parseInt(form.elements.severity.value, 10),
        description: form.elements.description.value
      };
      queueThen({ kind: "incident", pilot: data.pilot, label: category.options[category.selectedIndex].text,
        body: body, photos: files(form.elements.photos) }, "Incident saved.").then(function () {
        refilledAt = null;
        form.elements.description.value = "";
        form.elements.photos.value = "";
      });
    });
  }

  function wireEdits(data) {
    document.querySelectorAll("form.field-edit").forEach(function (form) {
      form.addEventListener("submit", function (ev) {
        ev.preventDefault();
        var li = form.closest("li");
        queueThen({ kind: "edit", pilot: data.pilot, observation: parseInt(form.dataset.observation, 10),
          label: li.querySelector("strong").textContent,
          body: { version: parseInt(form.dataset.version, 10), notes: form.elements.notes.value } },
        "Notes saved.");
      });
    });
  }

  // The pilot's places on the shared base map (static/js/basemap.js): locmap's own vector
  // tiles, or LOCMAP_TILE_URL's raster tiles, or a plain background with a note.
  function fieldMap(data) {
    var el = document.getElementById("field-map");
    if (!el || typeof L === "undefined") { return; }
    var shapes = data.places.features.filter(function (f) { return f.geometry; });
    if (!shapes.length) { el.hidden = true; return; }
    var map = window.LocmapMap ? LocmapMap.create(el, { noteId: "field-map-note" }) : L.map(el);
    var layer = L.geoJSON({ type: "FeatureCollection", features: shapes }, {
      pointToLayer: function (f, ll) { return L.circleMarker(ll, { radius: 7 }); },
      onEachFeature: function (f, l) { l.bindTooltip(locmap.text(f.properties.name)); }
    }).addTo(map);
    map.fitBounds(layer.getBounds(), { padding: [10, 10], maxZoom: 17 });
    el.setAttribute("data-rendered", "1");
  }

  // The base map served by locmap itself (/tiles/basemap/...) is kept for offline use: the
  // service worker keeps every tile and glyph the page draws, and this button fetches the
  // tiles over the pilot's places at the zooms a walk needs, and the label glyphs, so that
  // the service worker has them before the walk. Another tile server (LOCMAP_TILE_URL) is
  // never bulk-fetched (its usage policy).
  var KEEP_ZOOMS = [13, 14, 15, 16], KEEP_MAX = 600;  // the base map stops at 16 (io/basemap.py MAX_ZOOM)
  var GLYPH_FONTS = ["DejaVu Sans", "DejaVu Sans Oblique"], GLYPH_RANGES = ["0-255", "256-511", "8192-8447"];

  function tileXY(lon, lat, z) {
    var n = Math.pow(2, z), rad = lat * Math.PI / 180;
    return [Math.floor((lon + 180) / 360 * n),
      Math.floor((1 - Math.log(Math.tan(rad) + 1 / Math.cos(rad)) / Math.PI) / 2 * n)];
  }

  function keepTiles(data, config, button) {
    var all = [];
    data.places.features.forEach(function (f) { if (f.geometry) { all = all.concat(vertices(f.geometry)); } });
    if (!all.length) { return; }
    var lons = all.map(function (c) { return c[0]; }), lats = all.map(function (c) { return c[1]; });
    var urls = [];
    KEEP_ZOOMS.forEach(function (z) {
      var a = tileXY(Math.min.apply(null, lons), Math.max.apply(null, lats), z);
      var b = tileXY(Math.max.apply(null, lons), Math.min.apply(null, lats), z);
      for (var x = a[0]; x <= b[0]; x++) {
        for (var y = a[1]; y <= b[1]; y++) {
          urls.push(config.tiles.replace("{z}", z).replace("{x}", x).replace("{y}", y));
        }
      }
    });
    urls = urls.slice(0, KEEP_MAX);
    var tiles = urls.length;
    if (config.glyphs) {
      GLYPH_FONTS.forEach(function (font) {
        GLYPH_RANGES.forEach(function (range) {
          urls.push(config.glyphs.replace("{fontstack}", encodeURIComponent(font)).replace("{range}", range));
        });
      });
    }
    button.disabled = true;
    var done = 0;
    return urls.reduce(function (chain, url) {
      return chain.then(function () {
        return fetch(url, { credentials: "same-origin" }).catch(function () { return null; }).then(function () {
          done += 1;
          button.textContent = "Keeping the map: " + done + " of " + urls.length + " files";
        });
      });
    }, Promise.resolve()).then(function () {
      button.textContent = "Map kept for offline use (" + tiles + " tiles and the labels' letters)";
      button.setAttribute("data-kept", String(tiles));
    });
  }

  function offerTiles(data) {
    var button = document.getElementById("field-keep-map");
    var config = window.LocmapMap ? LocmapMap.settings() : {};
    if (!button || !config.tiles || config.tiles.indexOf("/tiles/basemap/") !== 0) { return; }
    button.hidden = false;
    button.addEventListener("click", function () { keepTiles(data, config, button); });
  }

  function registerWorker() {
    if ("serviceWorker" in navigator) {
      navigator.serviceWorker.register("/sw.js", { scope: "/" }).catch(function () { /* no offline */ });
    }
  }

  // The walk of a visit on the place page: the route on a small map, over the shared base
  // map like every other map (static/js/basemap.js).
  function walkMaps() {
    if (typeof L === "undefined") { return; }
    document.querySelectorAll(".visit-walk[data-route]").forEach(function (el) {
      var route = JSON.parse(el.getAttribute("data-route"));
      var map = window.LocmapMap ? LocmapMap.create(el, { zoomControl: true, noteId: el.id + "-note" })
        : L.map(el, { attributionControl: false });
      var line = L.geoJSON(route, { style: { color: "#1d3557", weight: 4 } }).addTo(map);
      map.fitBounds(line.getBounds(), { padding: [10, 10], maxZoom: 18 });
      el.setAttribute("data-rendered", "1");
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    addSteppers(document);
    walkMaps();
    var holder = document.getElementById("field-data");
    if (!holder) { return; }
    var data = JSON.parse(holder.textContent);
    me = locmap.currentUser();
    registerWorker();
    wireVisit(document.getElementById("field-visit-form"), data);
    wireIncident(document.getElementById("field-incident-form"), data);
    wireEdits(data);
    walkConsent(document.getElementById("field-walk"));
    fieldMap(data);
    offerTiles(data);
    locate(data);
    window.addEventListener("online", function () { status("Back online: sending what waits."); flush(); });
    window.addEventListener("offline", function () { status("Offline: what you record is kept on this phone."); });
    render().then(flush);
  });
})();
