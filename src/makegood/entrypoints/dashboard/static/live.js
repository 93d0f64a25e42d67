// Live updates without reloading: a page with data-live="/live/..." asks that marker every
// second with its ETag (304: nothing changed). When the ETag changes, the page is fetched again
// and each [data-live-region] is replaced by its new version, except one the person is typing
// in (it is refreshed on the next change). A status line tells screen readers.
(function () {
  "use strict";
  if (!window.fetch) return;
  var url = null; // the marker of the page showing now (htmx navigations change the page)
  var etag = null;
  var busy = false;

  function current() {
    var main = document.querySelector("main[data-live]");
    if (!main) return null;
    var marker = main.getAttribute("data-live");
    if (marker !== url) {
      url = marker;
      var rendered = main.getAttribute("data-live-etag");
      etag = rendered ? '"' + rendered + '"' : null;
    }
    return url;
  }

  function refresh() {
    return fetch(window.location.href, { credentials: "same-origin", headers: { "X-Live": "1" } })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        if (!html) return;
        var fresh = new DOMParser().parseFromString(html, "text/html");
        var changed = 0;
        document.querySelectorAll("[data-live-region]").forEach(function (old) {
          var name = old.getAttribute("data-live-region");
          var next = fresh.querySelector('[data-live-region="' + name + '"]');
          if (!next || old.contains(document.activeElement) || old.outerHTML === next.outerHTML) return;
          var node = document.importNode(next, true);
          old.replaceWith(node);
          if (window.htmx) window.htmx.process(node);
          changed += 1;
        });
        if (changed) {
          var status = document.getElementById("live-status");
          if (status) status.textContent = "Updated " + new Date().toLocaleTimeString();
          document.body.setAttribute("data-live-updated", String(Date.now()));
        }
      });
  }

  function poll() {
    if (busy || document.hidden || !current()) return;
    busy = true;
    var asked = url;
    var headers = etag ? { "If-None-Match": etag } : {};
    fetch(asked, { credentials: "same-origin", headers: headers, cache: "no-store" })
      .then(function (r) {
        var tag = r.headers.get("ETag");
        if (r.status === 200 && tag && asked === url) {
          var first = etag === null;
          etag = tag;
          if (!first) return refresh();
        }
      })
      .catch(function () {})
      .then(function () { busy = false; });
  }

  poll();
  window.setInterval(poll, 1000);
})();

// "Select all" for bulk actions: a checkbox data-select-all="CLASS" ticks every .CLASS.
document.addEventListener("change", function (event) {
  var box = event.target;
  if (!box || !box.getAttribute || !box.getAttribute("data-select-all")) return;
  document.querySelectorAll("input." + box.getAttribute("data-select-all")).forEach(function (c) {
    c.checked = box.checked;
  });
});
