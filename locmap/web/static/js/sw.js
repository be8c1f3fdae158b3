/* locmap's service worker (issue 18), served at /sw.js so its scope is the whole site.

   - Static files (CSS, JS, Leaflet, MapLibre, the base map's label glyphs under
     /static/glyphs/): from the cache, refreshed in the background.
   - The field page of a pilot (/pilots/<id>/field, with its places' names, kinds and
     shapes): from the network, and from the cache when offline.
   - Base map tiles under /tiles/basemap/ (the shared base map, static/js/basemap.js): from
     the cache once fetched — every tile a page drew, and those the field page's "keep the
     map" button fetched; a tile URL carries the base map's version, so a rebuilt base map
     is fetched afresh.
   - Any other page (a navigation, the installed app's start page "/" too): from the
     network; offline, the offline page (static/offline.html, kept at install), which
     links the field pages kept on the device.
   - Everything else, the API above all, goes to the network only: what the practitioner
     records waits in IndexedDB (static/js/field.js), never in this cache.
   Signing in or out empties the page cache, so a shared phone does not keep pages. */
"use strict";

var VERSION = "locmap-v2";  // a new version drops the old caches (activate)
var STATIC = VERSION + "-static", PAGES = VERSION + "-pages", TILES = VERSION + "-tiles";
var SHELL = [
  "/static/css/locmap.css", "/static/js/locmap.js", "/static/js/field.js",
  "/static/vendor/leaflet/leaflet.js", "/static/vendor/leaflet/leaflet.css",
  "/static/icons/locmap.svg", "/static/js/basemap.js",
  "/static/vendor/maplibre-gl/maplibre-gl.css", "/static/vendor/maplibre-gl/maplibre-gl-csp.js",
  "/static/vendor/maplibre-gl/maplibre-gl-csp-worker.js",
  "/static/vendor/maplibre-gl-leaflet/leaflet-maplibre-gl.js",
  "/static/offline.html", "/static/js/offline.js"
];
var OFFLINE = "/static/offline.html";
var FIELD_PAGE = /^\/pilots\/\d+\/field$/;

self.addEventListener("install", function (event) {
  event.waitUntil(caches.open(STATIC).then(function (c) {
    return Promise.all(SHELL.map(function (u) { return c.add(u).catch(function () { return null; }); }));
  }).then(function () { return self.skipWaiting(); }));
});

self.addEventListener("activate", function (event) {
  event.waitUntil(caches.keys().then(function (names) {
    return Promise.all(names.filter(function (n) { return n.indexOf(VERSION) !== 0; })
      .map(function (n) { return caches.delete(n); }));
  }).then(function () { return self.clients.claim(); }));
});

function networkFirst(request) {
  return fetch(request).then(function (response) {
    if (response.ok && !response.redirected) {
      var copy = response.clone();
      caches.open(PAGES).then(function (c) { c.put(request, copy); });
    }
    return response;
  }, function () {
    return caches.open(PAGES).then(function (c) { return c.match(request); }).then(function (hit) {
      return hit || offlinePage();
    });
  });
}

function offlinePage() {
  return caches.open(STATIC).then(function (c) { return c.match(OFFLINE); }).then(function (hit) {
    return hit || new Response("<!doctype html><title>Offline</title><p>You are offline.</p>",
      { status: 503, headers: { "Content-Type": "text/html; charset=utf-8" } });
  });
}

function cacheFirst(name, request) {
  return caches.open(name).then(function (c) {
    return c.match(request).then(function (hit) {
      var fresh = fetch(request).then(function (response) {
        if (response.ok) { c.put(request, response.clone()); }
        return response;
      });
      if (hit) { fresh.catch(function () { return null; }); return hit; }
      return fresh;
    });
  });
}

self.addEventListener("fetch", function (event) {
  var request = event.request;
  var url = new URL(request.url);
  if (url.origin !== self.location.origin) { return; }
  if (url.pathname === "/login" || url.pathname === "/logout") {
    caches.delete(PAGES);
    return;
  }
  if (request.method !== "GET") { return; }
  if (url.pathname.indexOf("/static/") === 0) {
    event.respondWith(cacheFirst(STATIC, request));
  } else if (url.pathname.indexOf("/tiles/basemap/") === 0) {
    event.respondWith(cacheFirst(TILES, request));
  } else if (request.mode === "navigate" && FIELD_PAGE.test(url.pathname)) {
    event.respondWith(networkFirst(request));
  } else if (request.mode === "navigate") {
    event.respondWith(fetch(request).catch(offlinePage));
  }
});
