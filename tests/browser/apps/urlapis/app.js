// Browser APIs that take URLs, used as an app written for the site root uses them: workers,
// a service worker, a beacon, attributes and properties set by script, Request objects,
// audio, document.write (index.html), iframe srcdoc. Each check reports itself in #checks;
// the test reads them and the network log.
(function () {
  'use strict';
  var base = new URL(document.currentScript.src).pathname.replace(/\/app\.js$/, '');
  var list = document.getElementById('checks');

  function report(name, ok, detail) {
    var li = document.createElement('li');
    li.dataset.check = name;
    li.className = ok ? 'pass' : 'fail';
    li.textContent = name + (detail ? ': ' + detail : '');
    list.appendChild(li);
  }

  // An iframe showing ``html`` through ``set(frame, html)``: resolves to its document once
  // loaded (images included).
  function frameWith(html, set) {
    return new Promise(function (done) {
      var frame = document.createElement('iframe');
      frame.onload = function () { done(frame.contentDocument); };
      set(frame, html);
      document.body.appendChild(frame);
    });
  }

  function loaded(img) {
    return img && img.complete && img.naturalWidth > 0 && 'loaded ' + img.getAttribute('src');
  }

  function within(ms, promise) {
    return Promise.race([promise, new Promise(function (_, fail) {
      setTimeout(function () { fail(new Error('timed out')); }, ms);
    })]);
  }

  var checks = {
    worker: function () {
      return new Promise(function (done, fail) {
        var worker = new Worker('/worker.js');
        worker.onmessage = function (e) { worker.terminate(); done(e.data === 'worker ok' && e.data); };
        worker.onerror = function () { fail(new Error('worker error')); };
      });
    },
    'shared-worker': function () {
      return new Promise(function (done, fail) {
        var shared = new SharedWorker('/shared-worker.js');
        shared.port.onmessage = function (e) { done(e.data === 'shared ok' && e.data); };
        shared.onerror = function () { fail(new Error('shared worker error')); };
      });
    },
    // The browser names the script and scope it was given in a refusal (the tests' kubegate
    // has a certificate the browser does not trust, which service workers do not accept).
    'service-worker': function () {
      return navigator.serviceWorker.register('/sw.js', { scope: '/' }).then(function (reg) {
        var scope = new URL(reg.scope).pathname;
        return scope === base + '/' && 'scope ' + scope;
      });
    },
    beacon: function () {
      return navigator.sendBeacon('/beacon', 'hello') && 'queued';
    },
    'set-attribute': function () {
      return new Promise(function (done, fail) {
        var img = document.createElement('img');
        img.onload = function () { done(img.naturalWidth > 0 && 'loaded'); };
        img.onerror = function () { fail(new Error('image error')); };
        img.setAttribute('src', '/img/dot.png');
        document.body.appendChild(img);
      });
    },
    request: function () {
      return fetch(new Request('/api/echo', { method: 'POST', body: 'hi' }))
        .then(function (r) { return r.text(); })
        .then(function (text) { return text === 'hi' && 'echo ' + text; });
    },
    audio: function () {
      return new Promise(function (done, fail) {
        var audio = new Audio('/sound.wav');
        audio.onloadedmetadata = function () { done(audio.duration > 0 && 'metadata'); };
        audio.onerror = function () { fail(new Error('audio error')); };
      });
    },
    'document-write': function () {
      return loaded(document.getElementById('written'));
    },
    // The write that left <p id="open"> open was passed on unfixed (it is not a complete
    // fragment), so the next write's <span> still lands inside it.
    'document-write-open': function () {
      var after = document.getElementById('after');
      return after && after.parentNode.id === 'open' && 'inside #open';
    },
    srcdoc: function () {
      var html = '<!doctype html><body class="framed"><img src="/img/srcdoc.png" alt="">';
      return frameWith(html, function (frame, value) { frame.srcdoc = value; }).then(function (doc) {
        var whole = doc.compatMode === 'CSS1Compat' && doc.body.className === 'framed';
        return whole && loaded(doc.querySelector('img'));
      });
    },
    'srcdoc-attribute': function () {
      var html = '<img src="/img/srcdoc-attribute.png" alt="">';
      return frameWith(html, function (frame, value) { frame.setAttribute('srcdoc', value); })
        .then(function (doc) { return loaded(doc.querySelector('img')); });
    },
    'link-pathname': function () {
      var a = document.createElement('a');
      a.href = 'https://elsewhere.example/x';
      a.pathname = '/kept';  // another host: left alone
      var other = a.href === 'https://elsewhere.example/kept';
      a.href = 'page';
      a.pathname = '/moved';
      return other && a.pathname === base + '/moved' && 'pathname ' + a.pathname;
    },
    link: function () {
      var a = document.createElement('a');
      a.id = 'next';
      a.href = '/next';
      a.textContent = 'next page';
      document.body.appendChild(a);
      return a.getAttribute('href') === base + '/next' && 'href ' + a.getAttribute('href');
    },
  };

  Object.keys(checks).reduce(function (previous, name) {
    return previous.then(function () {
      return within(5000, Promise.resolve().then(checks[name])).then(
        function (result) { report(name, Boolean(result), result ? String(result) : 'wrong result'); },
        function (error) { report(name, false, error.message); }
      );
    });
  }, Promise.resolve()).then(function () { list.dataset.done = '1'; });
})();
