// Browser APIs that take URLs, used as an app written for the site root uses them: workers,
// a service worker, a beacon, attributes and properties set by script, Request objects,
// audio. Each check reports itself in #checks; the test reads them and the network log.
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
