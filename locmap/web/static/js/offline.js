/* The offline page (static/offline.html), what the service worker (sw.js) answers a page
   that cannot be fetched and was not kept: it lists the field pages that were kept, the
   ones that work offline, by their titles. No inline script (CSP). */
(function () {
  "use strict";

  var FIELD_PAGE = /^\/pilots\/\d+\/field$/;

  function titleOf(response) {
    return response.text().then(function (html) {
      var doc = new DOMParser().parseFromString(html, "text/html");
      return (doc.title || "Field visit").replace(/ · locmap$/, "");
    });
  }

  if (!window.caches) { return; }
  caches.keys().then(function (names) {
    var pages = names.filter(function (n) { return /-pages$/.test(n); });
    return Promise.all(pages.map(function (name) {
      return caches.open(name).then(function (c) {
        return c.keys().then(function (requests) {
          return Promise.all(requests.filter(function (r) {
            return FIELD_PAGE.test(new URL(r.url).pathname);
          }).map(function (r) {
            return c.match(r).then(titleOf).then(function (t) { return { url: r.url, title: t }; });
          }));
        });
      });
    }));
  }).then(function (lists) {
    var found = [].concat.apply([], lists);
    if (!found.length) { return; }
    var ul = document.getElementById("offline-field-list");
    found.forEach(function (p) {
      var li = document.createElement("li"), a = document.createElement("a");
      a.href = p.url;
      a.textContent = p.title;
      li.appendChild(a);
      ul.appendChild(li);
    });
    document.getElementById("offline-field").hidden = false;
    document.getElementById("offline-none").hidden = true;
  }).catch(function () { /* nothing kept */ });
})();
