// The checks every worker runs on itself, as code written for the site root would: all
// URLs root-relative. runChecks(kind) resolves to {check: "pass <detail>" | "fail <why>"}.
// (Served inside each worker's script. A module worker has no importScripts, and a service
// worker may call it only while it is evaluated, so it checks that itself; a service
// worker has no XMLHttpRequest, and in some browsers no EventSource.)
function runChecks(kind) {
  var tag = '?from=' + kind;
  var checks = {};

  function within(ms, promise) {
    return Promise.race([promise, new Promise(function (_, fail) {
      setTimeout(function () { fail(new Error('timed out')); }, ms);
    })]);
  }

  function hello(url) {
    return fetch(url).then(function (r) { return r.text(); })
      .then(function (text) { return text === 'hello' && 'text ' + text; });
  }

  checks.fetch = function () { return hello('/api/hello' + tag); };
  checks['fetch-absolute'] = function () { return hello(location.origin + '/api/hello' + tag + '&absolute'); };
  checks.websocket = function () {
    return new Promise(function (done, fail) {
      var ws = new WebSocket('/ws' + tag);
      ws.onopen = function () { ws.send('ping'); };
      ws.onmessage = function (e) { ws.close(); done(e.data === 'echo: ping' && e.data); };
      ws.onerror = function () { fail(new Error('websocket error')); };
    });
  };
  if (typeof XMLHttpRequest === 'function') {
    checks.xhr = function () {
      return new Promise(function (done, fail) {
        var xhr = new XMLHttpRequest();
        xhr.open('GET', '/api/hello' + tag + '&xhr');
        xhr.onload = function () { done(xhr.status === 200 && xhr.responseText === 'hello' && 'status 200'); };
        xhr.onerror = function () { fail(new Error('xhr error')); };
        xhr.send();
      });
    };
  }
  if (typeof EventSource === 'function') {
    checks.eventsource = function () {
      return new Promise(function (done, fail) {
        var source = new EventSource('/events' + tag);
        source.onmessage = function (e) { source.close(); done(e.data === 'tick' && e.data); };
        source.onerror = function () { source.close(); fail(new Error('eventsource error')); };
      });
    };
  }
  if (self.caches) {  // (secure contexts only)
    checks.cache = function () {
      var name = 'kubegate-' + kind;
      return caches.open(name).then(function (cache) {
        return cache.addAll(['/api/hello' + tag + '&cached']).then(function () {
          return caches.match('/api/hello' + tag + '&cached', { cacheName: name });
        });
      }).then(function (response) { return response && response.text(); })
        .then(function (text) { return text === 'hello' && 'cached ' + text; });
    };
  }
  if (kind === 'dedicated' || kind === 'shared') {
    checks.importScripts = function () {
      importScripts('/lib.js');
      return self.libLoaded === 'lib ok' && self.libLoaded;
    };
  }

  var results = {};
  return Object.keys(checks).reduce(function (previous, name) {
    return previous.then(function () {
      return within(5000, Promise.resolve().then(checks[name])).then(
        function (result) { results[name] = result ? 'pass ' + result : 'fail wrong result'; },
        function (error) { results[name] = 'fail ' + error.message; }
      );
    });
  }, Promise.resolve()).then(function () { return results; });
}
