/* kubegate client-side shim (docs/browser.md, "The shim").
 *
 * Inlined by kubegate at the top of proxied HTML pages. It makes URLs that the page's own
 * JavaScript builds land under the service proxy prefix, as the server-side rewriting does
 * for URLs written in HTML and CSS: a root-relative "/x" or a same-host absolute URL becomes
 * "<prefix>/x". URLs already under the prefix, relative URLs and other hosts are left alone.
 *
 * The prefix (e.g. "/api/v1/namespaces/ns/services/web:http/proxy", no trailing slash) comes
 * from the injecting <script data-kubegate-prefix="...">, else from window.__kubegatePrefix.
 * Plain ES2017, no dependencies; running it twice is harmless. kubegate minifies this text
 * when it loads it (proxy/rewrite.py, load_shim), so it is written for readers; every byte
 * of the minified form is inlined into every rewritten page, so keep it small.
 */
(function () {
  'use strict';
  var w = window;
  if (w.__kubegateShim) return;
  var me = document.currentScript;
  var prefix = (me && me.getAttribute('data-kubegate-prefix')) || w.__kubegatePrefix || '';
  prefix = String(prefix).replace(/\/+$/, '');
  if (prefix.charAt(0) !== '/') return;  // no prefix (e.g. per-service origins): nothing to do
  var loc = w.location;
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
    try { u = new URL(t, loc.href); } catch (e) { return input; }
    if (!WEB[u.protocol] || u.host !== loc.host || under(u.pathname)) return input;
    u.pathname = prefix + u.pathname;  // u.pathname is normalised: no "..", so no escape
    return rootRelative ? u.pathname + u.search + u.hash : u.href;
  }

  function fixSrcset(value) {
    if (typeof value !== 'string') return value;
    return value.split(',').map(function (part) {
      var m = /^(\s*)(\S+)(.*)$/.exec(part);
      return m ? m[1] + fix(m[2]) + m[3] : part;
    }).join(',');
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
  wrap(w, 'open', at(0, fix));
  wrap(w.Worklet && Worklet.prototype, 'addModule', at(0, fix));  // audio and paint worklets

  // Constructors taking a URL first. The replacement shares the original's prototype, so
  // instanceof also holds for objects the browser makes itself (Request.clone(), a cache's
  // keys), and inherits its static members (WebSocket.OPEN); subclasses of it still work.
  ['Request', 'WebSocket', 'EventSource', 'Worker', 'SharedWorker', 'Audio'].forEach(function (name) {
    var Orig = w[name];
    if (typeof Orig !== 'function') return;
    var Shim = function () {
      var a = Array.prototype.slice.call(arguments);
      if (a.length) a[0] = fix(a[0]);
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

  // --- the address bar: client-side routers, and navigations ------------------------------
  ['pushState', 'replaceState'].forEach(function (name) {
    wrap(w.History && History.prototype, name, at(2, fix));
  });
  // location.assign/replace and the href setter cannot be patched ([LegacyUnforgeable]);
  // where the Navigation API exists, a navigation leaving the prefix is redone inside it.
  if (w.navigation && typeof w.navigation.addEventListener === 'function') {
    w.navigation.addEventListener('navigate', function (event) {
      var type = event.navigationType;
      if (!event.cancelable || event.hashChange || event.formData) return;
      if (event.downloadRequest != null || (type !== 'push' && type !== 'replace')) return;
      var dest = event.destination.url;
      var fixed = fix(dest);
      if (fixed === dest) return;
      event.preventDefault();
      if (type === 'replace') loc.replace(fixed); else loc.assign(fixed);
    });
  }

  // --- elements created or changed by script -------------------------------------------
  var URL_ATTRS = {
    src: ['SCRIPT', 'IMG', 'IFRAME', 'SOURCE', 'AUDIO', 'VIDEO', 'TRACK', 'EMBED', 'INPUT'],
    href: ['LINK', 'A', 'AREA', 'BASE'],
    action: ['FORM'],
    formaction: ['BUTTON', 'INPUT'],
    poster: ['VIDEO'],
    data: ['OBJECT'],
    srcset: ['IMG', 'SOURCE'],
  };
  function fixAttr(el, name, value) {
    // SVG: <use href="/sprite.svg#i">, <image>, <a>, <script> (xlink:href too); "#i" stays.
    if (el instanceof SVGElement) return /^(xlink:)?href$/.test(name) ? fix(value) : value;
    var tags = URL_ATTRS[name];
    if (!tags || !(el instanceof HTMLElement) || tags.indexOf(el.tagName) < 0) return value;
    return name === 'srcset' ? fixSrcset(value) : fix(value);
  }
  var E = w.Element && Element.prototype;
  wrap(E, 'setAttribute', at(1, function (value, el, a) {
    return fixAttr(el, String(a[0]).toLowerCase(), value);
  }));
  wrap(E, 'setAttributeNS', at(2, function (value, el, a) {
    return a[0] == null || el instanceof SVGElement ? fixAttr(el, String(a[1]).toLowerCase(), value) : value;
  }));
  function patchProperty(Ctor, prop, fixer) {
    var proto = Ctor && Ctor.prototype;
    var d = proto && Object.getOwnPropertyDescriptor(proto, prop);
    if (!d || !d.set || !d.configurable) return;
    Object.defineProperty(proto, prop, {
      configurable: true,
      enumerable: d.enumerable,
      get: d.get,
      set: function (value) { d.set.call(this, fixer(value, this)); },
    });
  }
  [
    [w.HTMLScriptElement, 'src'], [w.HTMLImageElement, 'src'], [w.HTMLIFrameElement, 'src'],
    [w.HTMLSourceElement, 'src'], [w.HTMLMediaElement, 'src'], [w.HTMLTrackElement, 'src'],
    [w.HTMLEmbedElement, 'src'], [w.HTMLInputElement, 'src'], [w.HTMLLinkElement, 'href'],
    [w.HTMLAnchorElement, 'href'], [w.HTMLAreaElement, 'href'], [w.HTMLBaseElement, 'href'],
    [w.HTMLFormElement, 'action'], [w.HTMLButtonElement, 'formAction'],
    [w.HTMLInputElement, 'formAction'], [w.HTMLVideoElement, 'poster'],
    [w.HTMLObjectElement, 'data'],
  ].forEach(function (p) { patchProperty(p[0], p[1], fix); });
  patchProperty(w.HTMLImageElement, 'srcset', fixSrcset);
  patchProperty(w.HTMLSourceElement, 'srcset', fixSrcset);

  // HTML strings: fix URL attributes in an inert <template> before the real insertion.
  var MAY_HOLD_URL = /\s(xlink:)?(src|href|action|formaction|poster|data|srcset)\s*=\s*["']?\s*([\/\\]|[a-z]+:)/i;
  var RAW_TEXT = /^(SCRIPT|STYLE|TEXTAREA|TITLE|XMP|IFRAME|NOEMBED|NOFRAMES|NOSCRIPT|PLAINTEXT)$/;
  var innerHTML = Object.getOwnPropertyDescriptor(Element.prototype, 'innerHTML');
  function fixHTML(html) {
    if (typeof html !== 'string' || !MAY_HOLD_URL.test(html) || !innerHTML) return html;
    var t = document.createElement('template');
    innerHTML.set.call(t, html);
    var els = t.content.querySelectorAll('*');
    for (var i = 0; i < els.length; i++) {
      var attrs = els[i].attributes;
      for (var j = 0; j < attrs.length; j++) {
        var fixed = fixAttr(els[i], attrs[j].name, attrs[j].value);
        if (fixed !== attrs[j].value) attrs[j].value = fixed;
      }
    }
    return innerHTML.get.call(t);
  }
  function fixInner(html, el) { return RAW_TEXT.test(el.tagName) ? html : fixHTML(html); }
  patchProperty(w.Element, 'innerHTML', fixInner);
  patchProperty(w.ShadowRoot, 'innerHTML', fixInner);  // web components
  patchProperty(w.Element, 'outerHTML', fixHTML);
  wrap(E, 'insertAdjacentHTML', at(1, fixHTML));
  wrap(E, 'setHTMLUnsafe', at(0, fixHTML));
  wrap(w.ShadowRoot && ShadowRoot.prototype, 'setHTMLUnsafe', at(0, fixHTML));
  wrap(w.Range && Range.prototype, 'createContextualFragment', at(0, fixHTML));

  // Forms: a submission reads the action after the submit event, so fix it there; submit()
  // fires no event, so it is fixed on the way in.
  function fixForm(form, submitter) {
    if (submitter && submitter.hasAttribute && submitter.hasAttribute('formaction')) {
      submitter.setAttribute('formaction', submitter.getAttribute('formaction'));
    }
    if (form.hasAttribute('action')) form.setAttribute('action', form.getAttribute('action'));
  }
  document.addEventListener('submit', function (event) {
    if (event.target instanceof HTMLFormElement) fixForm(event.target, event.submitter);
  }, true);
  wrap(w.HTMLFormElement && HTMLFormElement.prototype, 'submit', function (orig) {
    return function submit() { fixForm(this, null); return orig.call(this); };
  });

  // --- cookies set by script: scoped to the prefix, as Set-Cookie is by the server ----------
  var cookie = Object.getOwnPropertyDescriptor(Document.prototype, 'cookie');
  if (cookie && cookie.set && cookie.configurable) {
    Object.defineProperty(Document.prototype, 'cookie', {
      configurable: true,
      enumerable: cookie.enumerable,
      get: cookie.get,
      set: function (value) {
        var parts = String(value).split(';');
        var kept = [parts[0]];
        for (var i = 1; i < parts.length; i++) {
          var m = /^\s*(path|domain)\s*=\s*(.*?)\s*$/i.exec(parts[i]);
          if (!m) { kept.push(parts[i]); continue; }
          if (m[1].toLowerCase() === 'path' && m[2].charAt(0) === '/') kept.push(' Path=' + fix(m[2]));
        }  // Domain dropped: the cookie stays host-only
        cookie.set.call(this, kept.join(';'));
      },
    });
  }
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

  Object.defineProperty(w, '__kubegateShim', {
    value: Object.freeze({ prefix: prefix, fix: fix }),
  });
})();
