/* kubegate client-side shim (docs/browser.md, "The shim").
 *
 * Inlined by kubegate at the top of proxied HTML pages. It makes URLs that the page's own
 * JavaScript builds land under the service proxy prefix, as the server-side rewriting does
 * for URLs written in HTML and CSS: a root-relative "/x" or a same-host absolute URL becomes
 * "<prefix>/x". URLs already under the prefix, relative URLs and other hosts are left alone.
 *
 * The prefix (e.g. "/api/v1/namespaces/ns/services/web:http/proxy", no trailing slash) comes
 * from the injecting <script data-kubegate-prefix="...">, else from window.__kubegatePrefix.
 * Plain ES2017, no dependencies; running it twice is harmless.
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
    if (typeof orig === 'function') obj[name] = make(orig);
  }

  // --- requests built by script ----------------------------------------------------------
  // A Request with a new URL. new Request(url, request) would turn a body into a stream,
  // which Chromium uploads only over HTTP/2, so a body is read first.
  function moved(req, url) {
    var init = {
      method: req.method, headers: req.headers, credentials: req.credentials,
      mode: req.mode === 'navigate' ? 'same-origin' : req.mode, cache: req.cache,
      redirect: req.redirect, referrer: req.referrer, referrerPolicy: req.referrerPolicy,
      integrity: req.integrity, keepalive: req.keepalive, signal: req.signal,
    };
    if (req.method === 'GET' || req.method === 'HEAD') return Promise.resolve(new Request(url, init));
    return req.blob().then(function (body) { init.body = body; return new Request(url, init); });
  }
  wrap(w, 'fetch', function (orig) {
    return function fetch(input, init) {
      var self = this;
      if (typeof Request !== 'undefined' && input instanceof Request) {
        var url = fix(input.url);
        if (url !== input.url) {
          return moved(input, url).then(function (req) { return orig.call(self, req, init); });
        }
        return orig.call(this, input, init);
      }
      return orig.call(this, fix(input), init);
    };
  });
  wrap(w.XMLHttpRequest && XMLHttpRequest.prototype, 'open', function (orig) {
    return function open(method, url) {
      var args = Array.prototype.slice.call(arguments);
      args[1] = fix(url);
      return orig.apply(this, args);
    };
  });
  wrap(w.navigator, 'sendBeacon', function (orig) {
    return function sendBeacon(url, data) { return orig.call(this, fix(url), data); };
  });
  wrap(w, 'open', function (orig) {
    return function open(url) {
      var args = Array.prototype.slice.call(arguments);
      if (args.length) args[0] = fix(url);
      return orig.apply(this, args);
    };
  });

  // Constructors keep their prototype, constants and instanceof through a subclass.
  function subclass(name) {
    var Orig = w[name];
    if (typeof Orig !== 'function') return;
    var Shimmed = class extends Orig {
      constructor(url, options) { super(fix(url), options); }
    };
    Object.defineProperty(Shimmed, 'name', { value: name });
    w[name] = Shimmed;
  }
  ['WebSocket', 'EventSource', 'Worker', 'SharedWorker'].forEach(subclass);
  if (w.navigator && navigator.serviceWorker) {
    wrap(navigator.serviceWorker, 'register', function (orig) {
      return function register(url, options) {
        if (options && typeof options.scope === 'string') {
          options = Object.assign({}, options, { scope: fix(options.scope) });
        }
        return orig.call(this, fix(url), options);
      };
    });
  }

  // --- the address bar: client-side routers, and navigations ------------------------------
  ['pushState', 'replaceState'].forEach(function (name) {
    wrap(w.History && History.prototype, name, function (orig) {
      return function (state, title, url) {
        if (arguments.length > 2 && url != null) return orig.call(this, state, title, fix(url));
        return orig.apply(this, arguments);
      };
    });
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
    var tags = URL_ATTRS[name];
    if (!tags || !(el instanceof HTMLElement) || tags.indexOf(el.tagName) < 0) return value;
    return name === 'srcset' ? fixSrcset(value) : fix(value);
  }
  wrap(w.Element && Element.prototype, 'setAttribute', function (orig) {
    return function setAttribute(name, value) {
      return orig.call(this, name, fixAttr(this, String(name).toLowerCase(), value));
    };
  });
  function patchProperty(Ctor, prop, fixer) {
    var proto = Ctor && Ctor.prototype;
    var d = proto && Object.getOwnPropertyDescriptor(proto, prop);
    if (!d || !d.set || !d.configurable) return;
    Object.defineProperty(proto, prop, {
      configurable: true,
      enumerable: d.enumerable,
      get: d.get,
      set: function (value) { d.set.call(this, fixer(value)); },
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
  var MAY_HOLD_URL = /\s(src|href|action|formaction|poster|data|srcset)\s*=\s*["']?\s*([\/\\]|[a-z]+:)/i;
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
  var outerHTML = Object.getOwnPropertyDescriptor(Element.prototype, 'outerHTML');
  [[innerHTML, 'innerHTML'], [outerHTML, 'outerHTML']].forEach(function (p) {
    var d = p[0];
    if (!d || !d.set || !d.configurable) return;
    Object.defineProperty(Element.prototype, p[1], {
      configurable: true,
      enumerable: d.enumerable,
      get: d.get,
      set: function (value) {
        var raw = p[1] === 'innerHTML' && RAW_TEXT.test(this.tagName);
        d.set.call(this, raw ? value : fixHTML(value));
      },
    });
  });
  wrap(w.Element && Element.prototype, 'insertAdjacentHTML', function (orig) {
    return function insertAdjacentHTML(position, html) {
      return orig.call(this, position, fixHTML(html));
    };
  });

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
