"""kubegate's client-side shim (src/kubegate/proxy/shim.js) in real Chromium, on its own: a
loopback site serves a page with the shim inlined under the prefix ``/pfx`` and records where
the page's JavaScript-built requests arrive. (The same shim injected by kubegate's proxy is
tested in test_spa.py.)"""

from __future__ import annotations

from typing import Any

import pytest

from browser.apps.shimsite import PAGE, ShimSite, shim_tag, wait_until
from browser.harness import Apps


@pytest.fixture
def site(apps: Apps) -> tuple[ShimSite, str]:
    site = ShimSite()
    port = apps.aiohttp(site.app())
    return site, f"http://127.0.0.1:{port}"


def _open(page: Any, site: tuple[ShimSite, str], body: str = "", copies: int = 1) -> ShimSite:
    recorder, origin = site
    recorder.body = body
    recorder.copies = copies
    page.goto(origin + PAGE)
    page.wait_for_function("window.__kubegateShim !== undefined")
    return recorder


def test_fix_maps_urls_as_documented(bare_page: Any, site: tuple[ShimSite, str]) -> None:
    """Root-relative and same-host URLs gain the prefix; everything else is left as it was."""
    _open(bare_page, site)
    host = site[1].removeprefix("http://")
    table = {
        "/a": "/pfx/a",
        "/a?x=1#h": "/pfx/a?x=1#h",
        "  /a": "/pfx/a",
        "\\a": "/pfx/a",
        "/../a": "/pfx/a",
        "/%2e%2e/a": "/pfx/a",
        "/pfxa": "/pfx/pfxa",
        "/pfx": "/pfx",
        "/pfx/": "/pfx/",
        "/pfx/a": "/pfx/a",
        "a/b": "a/b",
        "./a": "./a",
        "../a": "../a",
        "?q=1": "?q=1",
        "#top": "#top",
        f"http://{host}/a": f"http://{host}/pfx/a",
        f"ws://{host}/ws": f"ws://{host}/pfx/ws",
        f"//{host}/a": f"http://{host}/pfx/a",
        f"http://{host}/pfx/a": f"http://{host}/pfx/a",
        "https://example.com/a": "https://example.com/a",
        "//example.com/a": "//example.com/a",
        "/\\example.com/a": "/\\example.com/a",
        "http://127.0.0.2:9/a": "http://127.0.0.2:9/a",
        "data:text/plain,x": "data:text/plain,x",
        "javascript:void(0)": "javascript:void(0)",
        "mailto:a@example.com": "mailto:a@example.com",
    }
    got = bare_page.evaluate("t => Object.keys(t).map(k => [k, __kubegateShim.fix(k)])", table)
    assert dict(got) == table


def test_fetch_string_url_and_request_stay_under_prefix(
    bare_page: Any, site: tuple[ShimSite, str]
) -> None:
    """fetch() with a string, a URL and a Request object all reach the prefixed paths."""
    recorder = _open(bare_page, site)
    bare_page.evaluate(
        """async () => {
            await fetch('/f/string');
            await fetch(new URL('/f/url', location.href));
            await fetch(new Request('/f/request', {method: 'POST', body: 'x'}));
        }"""
    )
    assert {"/pfx/f/string", "/pfx/f/url", "/pfx/f/request"} <= set(recorder.received)
    assert not any(p.startswith("/f/") for p in recorder.received)


def test_xhr_open_stays_under_prefix(bare_page: Any, site: tuple[ShimSite, str]) -> None:
    """XMLHttpRequest.open() with a root-relative URL reaches the prefixed path."""
    recorder = _open(bare_page, site)
    bare_page.evaluate(
        """() => new Promise(done => {
            const xhr = new XMLHttpRequest();
            xhr.open('GET', '/x/hr');
            xhr.onloadend = done;
            xhr.send();
        })"""
    )
    assert "/pfx/x/hr" in recorder.received


def test_websocket_and_eventsource_stay_under_prefix(
    bare_page: Any, site: tuple[ShimSite, str]
) -> None:
    """A root-relative WebSocket and EventSource connect under the prefix and work."""
    recorder = _open(bare_page, site)
    echoed = bare_page.evaluate(
        """() => new Promise((done, fail) => {
            const ws = new WebSocket('/ws');
            ws.onopen = () => ws.send('ping');
            ws.onmessage = e => { ws.close(); done(e.data); };
            ws.onerror = () => fail('websocket failed');
        })"""
    )
    event = bare_page.evaluate(
        """() => new Promise((done, fail) => {
            const es = new EventSource('/stream/events');
            es.onmessage = e => { es.close(); done(e.data); };
            es.onerror = () => { es.close(); fail('eventsource failed'); };
        })"""
    )
    assert (echoed, event) == ("ping", "hello")
    assert {"/pfx/ws", "/pfx/stream/events"} <= set(recorder.received)
    assert bare_page.evaluate("new WebSocket('/ws2') instanceof WebSocket && WebSocket.OPEN === 1")


def test_history_keeps_the_prefix(bare_page: Any, site: tuple[ShimSite, str]) -> None:
    """pushState/replaceState with root-relative URLs keep the address under the prefix."""
    _open(bare_page, site)
    paths = bare_page.evaluate(
        """() => {
            history.pushState({}, '', '/about?tab=1');
            const pushed = location.pathname + location.search;
            history.replaceState({}, '', '/settings');
            return [pushed, location.pathname];
        }"""
    )
    assert paths == ["/pfx/about?tab=1", "/pfx/settings"]


def test_location_assign_lands_under_prefix(bare_page: Any, site: tuple[ShimSite, str]) -> None:
    """location.assign('/next') navigates to the prefixed page (Navigation API redirect)."""
    recorder = _open(bare_page, site)
    with bare_page.expect_navigation(url="**/pfx/next"):
        bare_page.evaluate("location.assign('/next')")
    assert bare_page.text_content("#landed") == "landed"
    assert "/next" not in recorder.received


def test_location_href_setter_lands_under_prefix(
    bare_page: Any, site: tuple[ShimSite, str]
) -> None:
    """Setting location.href to a root-relative URL also lands under the prefix."""
    recorder = _open(bare_page, site)
    with bare_page.expect_navigation(url="**/pfx/other"):
        bare_page.evaluate("location.href = '/other'")
    assert "/other" not in recorder.received


def test_dynamic_elements_load_under_prefix(bare_page: Any, site: tuple[ShimSite, str]) -> None:
    """Scripts, stylesheets, images and iframes created by script load under the prefix."""
    recorder = _open(bare_page, site)
    bare_page.evaluate(
        """() => new Promise(done => {
            const img = new Image(); img.src = '/d/prop.png'; document.body.append(img);
            const s = document.createElement('script'); s.setAttribute('src', '/d/attr.js');
            document.head.append(s);
            const l = document.createElement('link'); l.rel = 'stylesheet'; l.href = '/d/style.css';
            document.head.append(l);
            const f = document.createElement('iframe'); f.src = '/d/frame'; document.body.append(f);
            const pic = document.createElement('img'); pic.srcset = '/d/set-1x.png 1x, /d/set-2x.png 2x';
            document.body.append(pic);
            document.body.insertAdjacentHTML('beforeend', '<img src="/d/adjacent.png">');
            const box = document.createElement('div'); box.innerHTML = '<img src="/d/inner.png">';
            document.body.append(box);
            setTimeout(done, 0);
        })"""
    )
    expected = {
        "/pfx/d/prop.png",
        "/pfx/d/attr.js",
        "/pfx/d/style.css",
        "/pfx/d/frame",
        "/pfx/d/adjacent.png",
        "/pfx/d/inner.png",
    }
    assert wait_until(lambda: expected <= set(recorder.received)), recorder.received
    assert wait_until(lambda: any(p.startswith("/pfx/d/set-") for p in recorder.received))
    assert not [p for p in recorder.received if p.startswith("/d/")]


def test_form_submission_goes_under_prefix(bare_page: Any, site: tuple[ShimSite, str]) -> None:
    """A form whose action is root-relative posts under the prefix, clicked or submit()ted."""
    body = '<form id=f method=post action="/submit"><button id=go>go</button></form>'
    recorder = _open(bare_page, site, body=body)
    with bare_page.expect_navigation(url="**/pfx/submit"):
        bare_page.click("#go")
    _open(bare_page, site, body=body)
    with bare_page.expect_navigation(url="**/pfx/scripted"):
        bare_page.evaluate("f = document.getElementById('f'); f.action = '/scripted'; f.submit()")
    assert "/submit" not in recorder.received and "/scripted" not in recorder.received


def test_beacon_and_window_open_stay_under_prefix(
    bare_page: Any, site: tuple[ShimSite, str]
) -> None:
    """navigator.sendBeacon and window.open with root-relative URLs reach the prefix."""
    recorder = _open(bare_page, site)
    with bare_page.context.expect_page() as popup:
        bare_page.evaluate("navigator.sendBeacon('/beacon', 'x'); window.open('/popup')")
    popup.value.wait_for_load_state()
    assert popup.value.url.endswith("/pfx/popup")
    assert wait_until(lambda: "/pfx/beacon" in recorder.received)


def test_worker_script_loads_under_prefix(bare_page: Any, site: tuple[ShimSite, str]) -> None:
    """new Worker('/w.js') loads the worker script under the prefix."""
    recorder = _open(bare_page, site)
    message = bare_page.evaluate(
        """() => new Promise(done => {
            const worker = new Worker('/w.js');
            worker.onmessage = e => done(e.data);
        })"""
    )
    assert message == "ok" and "/pfx/w.js" in recorder.received


def test_script_cookies_are_scoped_to_prefix(bare_page: Any, site: tuple[ShimSite, str]) -> None:
    """document.cookie with Path=/ and a Domain is stored host-only under the prefix."""
    _open(bare_page, site)
    bare_page.evaluate("document.cookie = 'theme=dark; path=/; domain=127.0.0.1'")
    cookies = {c["name"]: c for c in bare_page.context.cookies()}
    assert cookies["theme"]["path"] == "/pfx/"
    assert bare_page.evaluate("document.cookie") == "theme=dark"


def test_foreign_origin_is_left_alone(
    bare_page: Any, site: tuple[ShimSite, str], apps: Apps
) -> None:
    """A fetch to another origin goes there unchanged."""
    other = ShimSite()
    other_origin = f"http://127.0.0.1:{apps.aiohttp(other.app())}"
    _open(bare_page, site)
    bare_page.evaluate("url => fetch(url, {mode: 'no-cors'})", other_origin + "/elsewhere")
    assert wait_until(lambda: other.saw("/elsewhere"))


def test_shim_twice_prefixes_once(bare_page: Any, site: tuple[ShimSite, str]) -> None:
    """A page that carries the shim twice still prefixes a URL only once."""
    recorder = _open(bare_page, site, copies=2)
    bare_page.evaluate("fetch('/once')")
    assert wait_until(lambda: "/pfx/once" in recorder.received)
    assert "/pfx/pfx/once" not in recorder.received


def test_shim_runs_under_a_hash_only_policy(bare_page: Any, site: tuple[ShimSite, str]) -> None:
    """A page whose CSP allows only the shim's hash still runs the shim (and no other inline)."""
    site[0].csp = f"script-src {shim_tag()[1]}; connect-src 'self'"
    recorder = _open(bare_page, site)
    bare_page.evaluate("fetch('/under-csp')")
    assert wait_until(lambda: "/pfx/under-csp" in recorder.received)
