/* kubegate client-side shim, core: the URL rule and the requests built by script
 * (docs/browser.md, "The shim").
 *
 * It makes URLs that JavaScript builds land under the service proxy prefix, as the
 * server-side rewriting does for URLs written in HTML and CSS: a root-relative "/x" or a
 * same-host absolute URL becomes "<prefix>/x". URLs already under the prefix, relative URLs
 * and other hosts are left alone.
 *
 * This part runs in any global scope: kubegate inlines it, followed by the page part
 * (shim.js), at the top of proxied HTML pages, and prepends it alone to worker scripts
 * (dedicated, shared and service workers; proxy/shim_text.py, worker_shim_prelude). So it
 * touches no DOM and wraps only what exists where it runs; it is valid at the top of a
 * classic script and of a module, in strict mode.
 *
 * The prefix (e.g. "/api/v1/namespaces/ns/services/web:http/proxy", no trailing slash) comes
 * from the injecting <script data-kubegate-prefix="...">, else from self.__kubegatePrefix
 * (set just before this text). Plain ES2017, no dependencies; running it twice is harmless.
 * kubegate minifies this text when it loads it (proxy/shim_text.py), so it is
 * written for readers; every byte of the minified form goes into every rewritten page and
 * worker script, so keep it small. End every statement with a semicolon: the copy for
 * workers is put on one line, with no automatic semicolon insertion to rely on.
 */
(function kubegateCore() {
  'use strict';
  var w = self;  // the window, or the worker's global scope
  if (w.__kubegateShim) return;
  var me = typeof document === 'object' && document.currentScript;
  var prefix = (me && me.getAttribute('data-kubegate-prefix')) || w.__kubegatePrefix || '';
  prefix = String(prefix).replace(/\/+$/, '');
  if (prefix.charAt(0) !== '/') return;  // no prefix (e.g. per-service origins): nothing to do
  var loc = w.location;
  // A worker made from a blob: URL resolves nothing against it (fetch('/x') fails there):
  // its URLs are fixed against its origin, and come out absolute. A srcdoc frame's URLs
  // resolve against its parent's address, its base URL.
  var blobbed = loc.protocol === 'blob:', base, host;
  try {
    base = blobbed ? loc.origin + '/' : loc.protocol === 'about:' && me ? document.baseURI : loc.href;
    host = new URL(base).host;
  } catch (e) { return; }  // an opaque origin: nothing here is the proxy's
  var WEB = { 'http:': 1, 'https:': 1, 'ws:': 1, 'wss:': 1 };

  function under(path) {
    return path === prefix || path.lastIndexOf(prefix + '/', 0) === 0;
  }

  // The URL the page meant, under the prefix; the input itself when nothing is to change.
  function fix(input) {
    var s = typeof input === 'string' ? input : (input instanceof URL ? input.href : null);
    if (s === null) return input;  // Request objects, Trusted Types values...: not ours to touch
    var t = s.replace(/^[\u0000-\u0020]+/, '');
    var rootRelative = /^[\/\\](?![\/\\])/.test(t);
    if (!rootRelative && !/^([a-z][a-z0-9+.\-]*:|[\/\\]{2})/i.test(t)) return input;  // relative
    var u;
    try { u = new URL(t, base); } catch (e) { return input; }
    if (!WEB[u.protocol] || u.host !== host || under(u.pathname)) return input;
    u.pathname = prefix + u.pathname;  // u.pathname is normalised: no "..", so no escape
    return rootRelative && !blobbed ? u.pathname + u.search + u.hash : u.href;
  }

  function wrap(obj, name, make) {
    var orig = obj && obj[name];
    if (typeof orig !== 'function') return;
    var f = make(orig);
    Object.defineProperty(f, 'name', { value: name });
    obj[name] = f;
  }
  // A make() for wrap: argument i goes through fixer(value, this, arguments); the call
  // otherwise, including how many arguments it had, is passed on as it came.
  function at(i, fixer) {
    return function (orig) {
      return function () {
        var a = arguments;
        if (a.length > i) {
          var v = fixer(a[i], this, a);
          if (v !== a[i]) { a = Array.prototype.slice.call(a); a[i] = v; }
        }
        return orig.apply(this, a);
      };
    };
  }

  // --- requests built by script ----------------------------------------------------------
  // A Request arrives fixed by the Request constructor below (only one from another frame,
  // or a cache's keys, could still leave the prefix; such are passed on as they are).
  wrap(w, 'fetch', at(0, fix));
  wrap(w.XMLHttpRequest && XMLHttpRequest.prototype, 'open', at(1, fix));
  wrap(w.Navigator && Navigator.prototype, 'sendBeacon', at(0, fix));
  wrap(w, 'open', at(0, fix));  // window.open
  wrap(w.Worklet && Worklet.prototype, 'addModule', at(0, fix));  // audio and paint worklets
  // Classic workers only (a module worker's importScripts throws whatever it is given).
  wrap(w, 'importScripts', function (orig) {
    return function importScripts() {
      return orig.apply(this, Array.prototype.map.call(arguments, fix));
    };
  });

  // Constructors taking a URL first. The replacement shares the original's prototype, so
  // instanceof also holds for objects the browser makes itself (Request.clone(), a cache's
  // keys), and inherits its static members (WebSocket.OPEN); subclasses of it still work.
  // A worker's script URL also goes through hooks.worker (the page part's, for blob: URLs).
  var hooks = {};
  ['Request', 'WebSocket', 'EventSource', 'Worker', 'SharedWorker', 'Audio'].forEach(function (name) {
    var Orig = w[name];
    if (typeof Orig !== 'function') return;
    var Shim = function () {
      var a = Array.prototype.slice.call(arguments);
      if (a.length) a[0] = fix(a[0]);
      if (a.length && hooks.worker && /Worker$/.test(name)) a[0] = hooks.worker(a[0], a[1]);
      if (!new.target) return Orig.apply(this, a);  // throws, as the original does
      return Reflect.construct(Orig, a, new.target === Shim ? Orig : new.target);
    };
    Object.setPrototypeOf(Shim, Orig);
    Shim.prototype = Orig.prototype;
    // Audio's prototype is HTMLAudioElement's, whose constructor stays.
    if (Orig.prototype.constructor === Orig) Orig.prototype.constructor = Shim;
    Object.defineProperty(Shim, 'name', { value: name });
    Object.defineProperty(Shim, 'length', { value: Orig.length });
    w[name] = Shim;
  });
  var SW = w.ServiceWorkerContainer && ServiceWorkerContainer.prototype;
  wrap(SW, 'register', function (orig) {
    return function () {
      var a = Array.prototype.slice.call(arguments);
      if (a.length) a[0] = fix(a[0]);
      var scope = a[1] && a[1].scope;
      if (scope != null && fix(scope) !== scope) a[1] = Object.assign({}, a[1], { scope: fix(scope) });
      return orig.apply(this, a);
    };
  });
  wrap(SW, 'getRegistration', at(0, fix));  // its argument is a page URL the scope covers

  // --- the Cache API (a service worker's precache list) and clients.openWindow ------------
  var C = w.Cache && Cache.prototype;
  ['add', 'match', 'matchAll', 'put', 'delete', 'keys'].forEach(function (name) {
    wrap(C, name, at(0, fix));
  });
  wrap(C, 'addAll', at(0, function (list) {
    return list != null && typeof list !== 'string' && typeof list[Symbol.iterator] === 'function'
      ? Array.from(list, function (item) { return fix(item); }) : list;
  }));
  wrap(w.CacheStorage && CacheStorage.prototype, 'match', at(0, fix));
  wrap(w.Clients && Clients.prototype, 'openWindow', at(0, fix));

  // --- cookies set by script: scoped to the prefix, as Set-Cookie is by the server ----------
  // (document.cookie, pages only, is in shim.js; cookieStore is in service workers too.)
  if (w.cookieStore && w.CookieStore) {
    ['set', 'delete'].forEach(function (name) {
      wrap(CookieStore.prototype, name, function (orig) {
        return function (first, value) {
          var opts = typeof first === 'string'
            ? (name === 'set' ? { name: first, value: value } : { name: first })
            : Object.assign({}, first);
          opts.path = typeof opts.path === 'string' ? fix(opts.path) : prefix + '/';
          delete opts.domain;
          return orig.call(this, opts);
        };
      });
    });
  }

  // The page part (shim.js) takes fix, wrap, at, hooks and this function (the text a blob
  // worker is started with) from here; apps may use prefix and fix.
  Object.defineProperty(w, '__kubegateShim', {
    value: Object.freeze({
      prefix: prefix, fix: fix, wrap: wrap, at: at, hooks: hooks, core: kubegateCore,
    }),
  });
})();
