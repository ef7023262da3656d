// Starts a dedicated, a module, a shared and a service worker, each written for the site
// root, and lists what each reported about itself in #checks as "<worker>:<check>".
(function () {
  'use strict';
  var list = document.getElementById('checks');

  function report(results) {
    Object.keys(results).forEach(function (key) {
      var li = document.createElement('li');
      li.dataset.check = key;
      li.className = results[key].indexOf('pass') === 0 ? 'pass' : 'fail';
      li.textContent = key + ': ' + results[key];
      list.appendChild(li);
    });
  }

  function prefixed(kind, results) {
    var out = {};
    Object.keys(results).forEach(function (name) { out[kind + ':' + name] = results[name]; });
    return out;
  }

  // The worker's report, or {"<kind>:start": "fail <why>"}.
  function reportOf(kind, start) {
    var failed = function (error) { return prefixed(kind, { start: 'fail ' + (error.message || error) }); };
    var timeout = new Promise(function (done) { setTimeout(done, 15000, failed('timed out')); });
    return Promise.race([new Promise(start).then(function (r) { return prefixed(kind, r); }, failed), timeout]);
  }

  function dedicated(kind, url, options) {
    return reportOf(kind, function (done, fail) {
      var worker = new Worker(url, options);
      worker.onmessage = function (e) { worker.terminate(); done(e.data); };
      worker.onerror = function (e) { fail(new Error(e.message || 'worker error')); };
    });
  }

  function shared() {
    return reportOf('shared', function (done, fail) {
      var worker = new SharedWorker('/shared-worker.js');
      worker.port.onmessage = function (e) { done(e.data); };
      worker.onerror = function () { fail(new Error('shared worker error')); };
    });
  }

  function service() {
    return reportOf('service', function (done, fail) {
      navigator.serviceWorker.onmessage = function (e) { done(e.data); };
      navigator.serviceWorker.register('/service-worker.js', { scope: '/' }).then(function (reg) {
        (reg.installing || reg.waiting || reg.active).postMessage('report');
      }, fail);
    });
  }

  [
    function () { return dedicated('dedicated', '/worker.js'); },
    function () { return dedicated('module', '/module-worker.js', { type: 'module' }); },
    shared,
    service,
  ].reduce(function (previous, next) {
    return previous.then(next).then(report);
  }, Promise.resolve()).then(function () { list.dataset.done = '1'; });
})();
