// brum's browser telemetry (served by brum's proxy at /__brum__/t.js).
// Reports uncaught errors, unhandled rejections, console.error/warn,
// failed fetch/XHR (network error or status >= 500), failed resources and
// page loads to brum, batched, with navigator.sendBeacon. No dependencies;
// it changes nothing a page sees (wrappers call the originals).
(function () {
  "use strict";
  if (window.__brum__) return;
  window.__brum__ = true;
  var BEACON = "/__brum__/telemetry";
  var SELF = "/__brum__/t.js";
  var FLUSH_MS = 500, MAX_BATCH = 20, MAX_BYTES = 48000, MAX_PER_PAGE = 500;
  var queue = [], bytes = 0, timer = 0, dropped = 0, sent = 0;
  var origFetch = window.fetch;
  var con = window.console || {};

  function cap(s, n) {
    s = String(s);
    return s.length > n ? s.slice(0, n) + "\u2026" : s;
  }

  // A value as text: errors as "Name: message", objects as JSON.
  function str(x, withStack) {
    try {
      if (x && typeof x === "object" && "message" in x && "name" in x) {
        return withStack && x.stack ? String(x.stack) : x.name + ": " + x.message;
      }
      if (typeof x === "string") return x;
      var j = JSON.stringify(x);
      return j === undefined ? String(x) : j;
    } catch (e) {
      return String(x);
    }
  }

  // The stack of the caller, without the "Error" line.
  function here() {
    var s = new Error().stack || "";
    return s.replace(/^Error\n/, "");
  }

  function flush() {
    if (timer) clearTimeout(timer);
    timer = 0;
    if (!queue.length && !dropped) return;
    var body = JSON.stringify({ v: 1, dropped: dropped, events: queue });
    var n = queue.length, d = dropped;
    queue = [];
    bytes = 0;
    dropped = 0;
    var ok = false;
    try {
      ok = navigator.sendBeacon(BEACON, body);
    } catch (e) {}
    if (!ok && origFetch) {
      try {
        origFetch.call(window, BEACON, { method: "POST", body: body, keepalive: true }).catch(function () {});
        ok = true;
      } catch (e) {}
    }
    if (!ok) dropped = d + n;
  }

  function push(ev) {
    if (sent >= MAX_PER_PAGE) {
      dropped++;
      return;
    }
    sent++;
    ev.page = cap(location.href, 1000);
    if (ev.message !== undefined) ev.message = cap(ev.message, 1000);
    if (ev.stack) ev.stack = cap(ev.stack, 4000);
    else delete ev.stack;
    if (ev.url) ev.url = cap(ev.url, 1000);
    else delete ev.url;
    var size = JSON.stringify(ev).length;
    if (queue.length && (queue.length >= MAX_BATCH || bytes + size > MAX_BYTES)) flush();
    queue.push(ev);
    bytes += size;
    if (!timer) timer = setTimeout(flush, FLUSH_MS);
  }

  function report(ev) {
    try {
      push(ev);
    } catch (e) {}
  }

  window.addEventListener(
    "error",
    function (e) {
      var t = e.target;
      if (t && t !== window && t.nodeType === 1) {
        var src = t.src || t.href || "";
        if (String(src).indexOf(SELF) < 0) {
          report({ kind: "resource", message: "failed to load <" + t.tagName.toLowerCase() + "> " + src, url: src });
        }
        return;
      }
      var err = e.error;
      report({
        kind: "error",
        message: e.message || str(err),
        stack: err && err.stack ? String(err.stack) : "",
        url: e.filename || "",
        line: e.lineno > 0 ? Math.floor(e.lineno) : undefined,
        col: e.colno > 0 ? Math.floor(e.colno) : undefined,
      });
    },
    true
  );

  window.addEventListener("unhandledrejection", function (e) {
    var r = e.reason;
    report({
      kind: "rejection",
      message: "Unhandled rejection: " + str(r),
      stack: r && r.stack ? String(r.stack) : "",
    });
  });

  ["error", "warn"].forEach(function (level) {
    var orig = con[level];
    if (typeof orig !== "function") return;
    con[level] = function () {
      var parts = [];
      for (var i = 0; i < arguments.length; i++) parts.push(str(arguments[i], true));
      report({ kind: "console", level: level, message: parts.join(" ") });
      return orig.apply(this, arguments);
    };
  });

  if (origFetch) {
    window.fetch = function (input, init) {
      var method = String((init && init.method) || (input && input.method) || "GET").toUpperCase();
      var url = typeof input === "string" ? input : (input && input.url) || String(input);
      var stack = here();
      var what = "fetch " + method + " " + url + " failed: ";
      return origFetch.apply(this, arguments).then(
        function (r) {
          if (r.status >= 500) {
            report({ kind: "fetch", message: what + r.status + (r.statusText ? " " + r.statusText : ""), stack: stack });
          }
          return r;
        },
        function (err) {
          if (!(err && err.name === "AbortError")) report({ kind: "fetch", message: what + str(err), stack: stack });
          throw err;
        }
      );
    };
  }

  var X = window.XMLHttpRequest;
  if (X && X.prototype) {
    var open = X.prototype.open, send = X.prototype.send;
    X.prototype.open = function (method, url) {
      this.__brum__ = { m: String(method).toUpperCase(), u: String(url), aborted: false };
      return open.apply(this, arguments);
    };
    X.prototype.send = function () {
      var x = this, info = x.__brum__;
      if (info) {
        var stack = here(), what = "XHR " + info.m + " " + info.u + " failed: ";
        x.addEventListener("abort", function () {
          info.aborted = true;
        });
        x.addEventListener("loadend", function () {
          if (x.status >= 500) {
            report({ kind: "xhr", message: what + x.status + (x.statusText ? " " + x.statusText : ""), stack: stack });
          } else if (x.status === 0 && !info.aborted) {
            report({ kind: "xhr", message: what + "network error", stack: stack });
          }
        });
      }
      return send.apply(this, arguments);
    };
  }

  function loaded() {
    setTimeout(function () {
      var nav = performance.getEntriesByType ? performance.getEntriesByType("navigation")[0] : null;
      var ms = nav && nav.loadEventEnd > 0 ? nav.loadEventEnd : performance.now();
      report({ kind: "page", title: document.title, load_ms: Math.round(ms) });
    }, 0);
  }
  if (document.readyState === "complete") loaded();
  else window.addEventListener("load", loaded);

  window.addEventListener("pagehide", flush);
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "hidden") flush();
  });
})();
