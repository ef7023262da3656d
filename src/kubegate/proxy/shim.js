/* kubegate client-side shim, page part (docs/browser.md, "The shim").
 *
 * Inlined by kubegate at the top of proxied HTML pages, right after the core
 * (shim_core.js: the URL rule, fix, and the requests built by script, which workers get
 * too). This part covers what only a page has: the address bar and navigations, elements
 * and HTML strings made by script, forms, document.cookie. It takes fix from
 * window.__kubegateShim, which the core sets; without it (no prefix) it does nothing.
 *
 * Plain ES2017, no dependencies; running it twice is harmless. kubegate minifies this text
 * when it loads it (proxy/shim_text.py), so it is written for readers; every byte
 * of the minified form is inlined into every rewritten page, so keep it small.
 */
(function () {
  'use strict';
  var w = window;
  var k = w.__kubegateShim;
  // Once per page, as the core is (it stops at its own __kubegateShim): a second copy of the
  // shim would otherwise wrap everything here twice.
  var DONE = Symbol.for('kubegate.shim.page');
  if (!k || w[DONE]) return;
  Object.defineProperty(w, DONE, { value: true });
  var fix = k.fix, wrap = k.wrap, at = k.at;
  var loc = w.location;
  var me = document.currentScript;
  var csp = me && me.getAttribute('data-kubegate-csp');  // null: the page has no policy

  function fixSrcset(value) {
    if (typeof value !== 'string') return value;
    return value.split(',').map(function (part) {
      var m = /^(\s*)(\S+)(.*)$/.exec(part);
      return m ? m[1] + fix(m[2]) + m[3] : part;
    }).join(',');
  }

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
    srcdoc: ['IFRAME'],
  };
  // CSS set by script: url(…) (quoted or not) and @import "…", as the server does in CSS.
  var CSS_URL = /(url\(\s*)(?:"([^"]*)"|'([^']*)'|([^'"()\s]*))(\s*\))|(@import\s+)(?:"([^"]*)"|'([^']*)')/gi;
  function fixCSS(css) {
    if (typeof css !== 'string' || !/url\(|@import/i.test(css)) return css;
    return css.replace(CSS_URL, function (m, open, d, s, bare, close, imp, id, is) {
      var url = open ? (d != null ? d : s != null ? s : bare) : (id != null ? id : is);
      var f = fix(url);
      if (f === url) return m;
      var q = (open ? (d != null ? '"' : s != null ? "'" : '') : (id != null ? '"' : "'"));
      return open ? open + q + f + q + close : imp + q + f + q;
    });
  }
  function fixAttr(el, name, value) {
    if (name === 'style') return fixCSS(value);
    // SVG: <use href="/sprite.svg#i">, <image>, <a>, <script> (xlink:href too); "#i" stays.
    if (el instanceof SVGElement) return /^(xlink:)?href$/.test(name) ? fix(value) : value;
    var tags = Object.prototype.hasOwnProperty.call(URL_ATTRS, name) && URL_ATTRS[name];
    if (!tags || !(el instanceof HTMLElement) || tags.indexOf(el.tagName) < 0) return value;
    if (name === 'srcdoc') return fixDocument(value);
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
  // a.pathname = '/x' rebuilds the link's href: fixed as an href is.
  [w.HTMLAnchorElement, w.HTMLAreaElement].forEach(function (C) {
    patchProperty(C, 'pathname', function (value, el) {
      var probe = new URL(el.href || loc.href);
      probe.pathname = value;
      return fix(probe.href) === probe.href ? value : new URL(fix(probe.href)).pathname;
    });
  });
  var CSSD = w.CSSStyleDeclaration;
  patchProperty(CSSD, 'cssText', fixCSS);
  wrap(CSSD && CSSD.prototype, 'setProperty', at(1, fixCSS));
  // el.style.backgroundImage = … has no setter to wrap (an interceptor in Chromium); it
  // changes the style attribute, which an observer fixes before the next style recalc.
  if (w.MutationObserver) {
    new MutationObserver(function (records) {
      records.forEach(function (r) {
        var css = r.target.getAttribute('style'), fixed = fixCSS(css);
        if (fixed !== css) r.target.setAttribute('style', fixed);
      });
    }).observe(document, { attributes: true, attributeFilter: ['style'], subtree: true });
  }
  var SHEET = w.CSSStyleSheet && CSSStyleSheet.prototype;
  ['insertRule', 'replace', 'replaceSync'].forEach(function (name) { wrap(SHEET, name, at(0, fixCSS)); });
  patchProperty(w.Node, 'textContent', function (value, node) {
    return node instanceof HTMLStyleElement ? fixCSS(value) : value;
  });
  patchProperty(w.HTMLSourceElement, 'srcset', fixSrcset);

  // HTML strings: fix URL attributes in an inert <template> before the real insertion.
  var MAY_HOLD_URL = /\s(xlink:)?(src|href|action|formaction|poster|data|srcset)\s*=\s*["']?\s*([\/\\]|[a-z]+:)|\ssrcdoc\s*=|url\(|@import/i;
  var RAW_TEXT = /^(SCRIPT|STYLE|TEXTAREA|TITLE|XMP|IFRAME|NOEMBED|NOFRAMES|NOSCRIPT|PLAINTEXT)$/;
  var TAG = /<\/?([a-z][^\s\/>]*|!doctype)/gi;
  var innerHTML = Object.getOwnPropertyDescriptor(Element.prototype, 'innerHTML');
  function fixTree(root) {
    var els = root.querySelectorAll('*');
    for (var i = 0; i < els.length; i++) {
      if (els[i].tagName === 'STYLE') els[i].textContent = els[i].textContent;  // (fixCSS)
      var attrs = els[i].attributes;
      for (var j = 0; j < attrs.length; j++) {
        var fixed = fixAttr(els[i], attrs[j].name, attrs[j].value);
        if (fixed !== attrs[j].value) attrs[j].value = fixed;
      }
    }
  }
  function fixHTML(html) {
    if (typeof html !== 'string' || !MAY_HOLD_URL.test(html) || !innerHTML) return html;
    var t = document.createElement('template');
    innerHTML.set.call(t, html);
    fixTree(t.content);
    return innerHTML.get.call(t);
  }
  // A piece of document.write, which later writes may continue (an element left open, a tag
  // cut in two), is fixed only if the template parsed it into exactly the tags it spells:
  // none closed, dropped or added.
  function tagsOf(html) { return (html.match(TAG) || []).join().toLowerCase(); }
  function fixWritten(html) {
    var out = fixHTML(html);
    return out === html || tagsOf(out) === tagsOf(html) ? out : html;
  }
  // iframe.srcdoc is a whole document: parsed as one (inert), so its doctype and the
  // attributes of <html>, <head> and <body> survive. One with scripts gets this shim at the
  // top of its head: the same text, which the page's CSP (a srcdoc frame's too) allows.
  function fixDocument(html) {
    if (typeof html !== 'string' || !w.DOMParser) return html;
    var scripted = me && /<script/i.test(html);
    if (!scripted && !MAY_HOLD_URL.test(html)) return html;
    var doc = new DOMParser().parseFromString(html, 'text/html');
    fixTree(doc);
    if (scripted && !doc.querySelector('script[data-kubegate-prefix]')) {
      var copy = doc.createElement('script');
      for (var i = 0; i < me.attributes.length; i++) {
        copy.setAttribute(me.attributes[i].name, me.attributes[i].value);
      }
      copy.textContent = me.textContent;
      doc.head.insertBefore(copy, doc.head.firstChild);
    }
    var doctype = doc.doctype ? new XMLSerializer().serializeToString(doc.doctype) : '';
    return doctype + doc.documentElement.outerHTML;
  }
  function fixInner(html, el) {
    return el.tagName === 'STYLE' ? fixCSS(html) : RAW_TEXT.test(el.tagName) ? html : fixHTML(html);
  }
  patchProperty(w.Element, 'innerHTML', fixInner);
  patchProperty(w.ShadowRoot, 'innerHTML', fixInner);  // web components
  patchProperty(w.Element, 'outerHTML', fixHTML);
  wrap(E, 'insertAdjacentHTML', at(1, fixHTML));
  wrap(E, 'setHTMLUnsafe', at(0, fixHTML));
  wrap(w.ShadowRoot && ShadowRoot.prototype, 'setHTMLUnsafe', at(0, fixHTML));
  wrap(w.Range && Range.prototype, 'createContextualFragment', at(0, fixHTML));
  ['write', 'writeln'].forEach(function (name) {
    wrap(w.Document && Document.prototype, name, function (orig) {
      return function () { return orig.apply(this, Array.prototype.map.call(arguments, fixWritten)); };
    });
  });
  patchProperty(w.HTMLIFrameElement, 'srcdoc', fixDocument);

  // --- the page's own import maps, before the browser reads them --------------------------
  // The parser runs microtasks before it prepares a script at its end tag, so an observer
  // sees a parsed <script type="importmap"> (its text complete) before the map is read:
  // addresses and scope and integrity URLs are fixed. Where kubegate put no import map of
  // its own before this script (browsers that do not merge import maps), the root-to-prefix
  // entries go into the page's map instead, unless that could break a CSP hash of its text
  // (data-kubegate-csp="inline": the policy restricts inline scripts; a nonce is safe). Maps
  // added by script, and after the document is parsed, are left alone.
  var strict = csp === 'inline';  // its policy restricts inline scripts
  var merged = !!document.querySelector('script[type="importmap"]');  // kubegate's own
  var seen = new WeakSet();
  function fixMap(el) {
    var map, changed = false;
    try { map = JSON.parse(el.textContent); } catch (e) { return; }  // not all parsed yet
    seen.add(el);
    if (!map || typeof map !== 'object') return;
    function fixed(url) {
      var f = fix(url);
      changed = changed || f !== url;
      return f;
    }
    function table(t, keys) {  // addresses, or the URLs that are its keys
      if (!t || typeof t !== 'object') return t;
      var out = {};
      for (var key in t) {
        if (keys) out[fixed(key)] = t[key]; else out[key] = fixed(t[key]);
      }
      return out;
    }
    var scopes = map.scopes = table(map.scopes, true);
    if (scopes && typeof scopes === 'object') for (var s in scopes) scopes[s] = table(scopes[s]);
    map.integrity = table(map.integrity, true);
    var imports = table(map.imports);
    if (!imports || typeof imports !== 'object') imports = {};
    map.imports = imports;
    if (!merged && (changed || el.nonce || !strict)) {
      var root = k.prefix + '/';
      if (!('/' in imports)) imports['/'] = root;
      if (!(root in imports)) imports[root] = root;
      merged = changed = true;
    }
    if (changed) el.textContent = JSON.stringify(map);
  }
  function check(node) {
    if (node && node.nodeName === 'SCRIPT' && !seen.has(node) &&
        String(node.getAttribute('type')).trim().toLowerCase() === 'importmap') fixMap(node);
  }
  if (w.MutationObserver && document.readyState === 'loading') {
    var watcher = new MutationObserver(function (records) {
      records.forEach(function (r) {
        check(r.type === 'characterData' ? r.target.parentNode : r.target);
        for (var i = 0; i < r.addedNodes.length; i++) check(r.addedNodes[i]);
      });
    });
    watcher.observe(document, { childList: true, subtree: true, characterData: true });
    document.addEventListener('DOMContentLoaded', function () { watcher.disconnect(); });
  }

  // --- workers made from blob: URLs ---------------------------------------------------------
  // Such a worker's script never passes through kubegate: it is started instead from a
  // small blob that runs the core, then the script — importScripts() for a classic worker
  // (the script keeps its own "use strict"), import() for a module. The script is loaded
  // from a blob URL of our own, so the page may revoke its URL at once (ours go a minute
  // after it does). The same blob URL gives the same bootstrap, so a SharedWorker is still
  // shared. Not under a CSP: it could refuse blob: scripts the page's own worker did not need.
  var newURL = URL.createObjectURL, dropURL = URL.revokeObjectURL;
  var blobs = new Map(), booted = new Map();
  if (csp === null && typeof Blob === 'function' && typeof newURL === 'function') {
    wrap(URL, 'createObjectURL', function (orig) {
      return function createObjectURL(obj) {
        var url = orig.apply(this, arguments);
        if (obj instanceof Blob) blobs.set(url, obj);
        return url;
      };
    });
    wrap(URL, 'revokeObjectURL', function (orig) {
      return function revokeObjectURL(url) {
        url = String(url);
        blobs.delete(url);
        [url, url + ' m'].forEach(function (key) {
          var ours = booted.get(key);
          if (!ours) return;
          booted.delete(key);
          setTimeout(function () { ours.forEach(function (u) { dropURL.call(URL, u); }); }, 60000);
        });
        return orig.apply(this, arguments);
      };
    });
    k.hooks.worker = function (url, options) {
      var blob = blobs.get(String(url));
      if (!blob) return url;
      var module = !!(options && options.type === 'module'), key = url + (module ? ' m' : '');
      if (!booted.has(key)) {
        var own = newURL.call(URL, blob), go = JSON.stringify(own);
        booted.set(key, [newURL.call(URL, new Blob([
          'self.__kubegatePrefix=' + JSON.stringify(k.prefix) + ';(' + k.core + ')();' +
          (module ? 'await import(' + go + ');' : 'importScripts(' + go + ');'),
        ], { type: 'text/javascript' })), own]);
      }
      return booted.get(key)[0];
    };
  }

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
})();
