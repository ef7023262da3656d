// A single-page app written for the site root, as most are: root-relative fetch/XHR, a
// WebSocket URL built from location.host, an EventSource, script-set cookies and a
// history-API router. Its one concession to living under a path prefix is webpack's
// "publicPath: auto" trick: the router's base is where this script was loaded from.
(function () {
  'use strict';
  var base = new URL(document.currentScript.src).pathname.replace(/\/app\.js$/, '');
  var view = document.getElementById('view');
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

  // --- the router ------------------------------------------------------------------------
  var routes = {
    '/': function () { return '<h1>Home</h1><p>Items: <span id="items">…</span></p>'; },
    '/about': function () { return '<h1>About</h1><p>A test app for kubegate.</p>'; },
    '/form': function () { return '<h1>Form</h1>'; },
  };
  function current() {
    var path = location.pathname;
    if (path.lastIndexOf(base, 0) === 0) path = path.slice(base.length);
    return path || '/';
  }
  function render() {
    var route = routes[current()];
    view.innerHTML = route ? route() : '<h1>Not found</h1><p>' + current() + '</p>';
    if (current() === '/form') buildForm();
  }
  function go(path) { history.pushState({}, '', path); render(); }
  function buildForm() {
    var form = document.createElement('form');
    form.method = 'post';
    form.action = '/submit';
    form.innerHTML = '<input name="note" value="hello"> <button id="submit">Send</button>';
    view.appendChild(form);
  }
  document.addEventListener('click', function (event) {
    var link = event.target.closest && event.target.closest('a[data-route]');
    if (!link) return;
    event.preventDefault();
    var path = new URL(link.href).pathname;
    go(path.lastIndexOf(base, 0) === 0 ? path.slice(base.length) || '/' : path);
  });
  window.addEventListener('popstate', render);

  // --- the checks ----------------------------------------------------------------------------
  var checks = {
    router: function () {
      go('/about');
      var ok = location.pathname === base + '/about' && /About/.test(view.textContent);
      history.replaceState({}, '', '/');
      render();
      return ok && location.pathname === base + '/' ? 'pushState ' + base + '/about' : false;
    },
    fetch: function () {
      return fetch('/api/items').then(function (r) { return r.json(); }).then(function (items) {
        document.getElementById('items').textContent = items.join(', ');
        return items.length === 3 && items.join(',');
      });
    },
    xhr: function () {
      return new Promise(function (done, fail) {
        var xhr = new XMLHttpRequest();
        xhr.open('GET', '/api/items');
        xhr.onload = function () { done(xhr.status === 200 && 'status 200'); };
        xhr.onerror = function () { fail(new Error('network error')); };
        xhr.send();
      });
    },
    websocket: function () {
      var scheme = location.protocol === 'https:' ? 'wss://' : 'ws://';
      return new Promise(function (done, fail) {
        var ws = new WebSocket(scheme + location.host + '/ws');
        ws.onopen = function () { ws.send('ping'); };
        ws.onmessage = function (e) { ws.close(); done(e.data === 'echo: ping' && e.data); };
        ws.onerror = function () { fail(new Error('websocket error')); };
      });
    },
    eventsource: function () {
      return new Promise(function (done, fail) {
        var es = new EventSource('/events');
        es.onmessage = function (e) { es.close(); done(e.data === 'tick' && 'got ' + e.data); };
        es.onerror = function () { es.close(); fail(new Error('eventsource error')); };
      });
    },
    image: function () {
      return new Promise(function (done, fail) {
        var img = new Image();
        img.onload = function () { done(img.naturalWidth > 0 && 'loaded'); };
        img.onerror = function () { fail(new Error('image error')); };
        img.src = '/img/dot.png';
      });
    },
    'login-cookie': function () {
      return fetch('/api/whoami').then(function (r) { return r.json(); }).then(function (me) {
        return me.session === 'demo-user' && 'session ' + me.session;
      });
    },
    'script-cookie': function () {
      document.cookie = 'theme=dark; path=/';
      return fetch('/api/whoami').then(function (r) { return r.json(); }).then(function (me) {
        return me.theme === 'dark' && 'theme ' + me.theme;
      });
    },
  };

  render();
  Object.keys(checks).reduce(function (previous, name) {
    return previous.then(function () {
      return within(5000, Promise.resolve().then(checks[name])).then(
        function (result) { report(name, Boolean(result), result ? String(result) : 'wrong result'); },
        function (error) { report(name, false, error.message); }
      );
    });
  }, Promise.resolve()).then(function () { list.dataset.done = '1'; });
})();
