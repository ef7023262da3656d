"""More of the shim (src/kubegate/proxy/shim.js) in real Chromium, on the loopback site of
test_shim.py: shared and service workers, worklets, Audio, the Request constructor, URL
attributes set with setAttribute (SVG included), HTML in shadow roots and fragments, links
and location.replace — and that the wrapped APIs still behave as the browser's own."""

from __future__ import annotations

from typing import Any

import pytest

from browser.apps.shimsite import PAGE, ShimSite, wait_until
from browser.harness import Apps


@pytest.fixture
def site(apps: Apps) -> tuple[ShimSite, str]:
    site = ShimSite()
    port = apps.aiohttp(site.app())
    return site, f"http://127.0.0.1:{port}"


def _open(page: Any, site: tuple[ShimSite, str]) -> ShimSite:
    recorder, origin = site
    page.goto(origin + PAGE)
    page.wait_for_function("window.__kubegateShim !== undefined")
    return recorder


def _strays(recorder: ShimSite) -> list[str]:
    """Paths the page reached outside the prefix (the browser's own /favicon.ico aside)."""
    return [p for p in recorder.received if not p.startswith("/pfx/") and p != "/favicon.ico"]


def test_shared_worker_loads_under_prefix(bare_page: Any, site: tuple[ShimSite, str]) -> None:
    """new SharedWorker('/shared.js') loads its script under the prefix and answers."""
    recorder = _open(bare_page, site)
    message = bare_page.evaluate(
        """() => new Promise(done => {
            const shared = new SharedWorker('/shared.js');
            shared.port.onmessage = e => done(e.data);
        })"""
    )
    assert message == "ok" and "/pfx/shared.js" in recorder.received


def test_service_worker_registers_under_prefix(bare_page: Any, site: tuple[ShimSite, str]) -> None:
    """serviceWorker.register('/sw.js', {scope: '/'}) loads the script and scopes the
    registration under the prefix, where getRegistration('/') finds it."""
    recorder = _open(bare_page, site)
    got = bare_page.evaluate(
        """async () => {
            const reg = await navigator.serviceWorker.register('/sw.js', {scope: '/'});
            const worker = reg.installing || reg.waiting || reg.active;
            const found = await navigator.serviceWorker.getRegistration('/');
            return [reg.scope, worker.scriptURL, found && found.scope];
        }"""
    )
    base = site[1] + "/pfx/"
    assert got == [base, base + "sw.js", base]
    assert "/pfx/sw.js" in recorder.received and _strays(recorder) == []


def test_audio_and_worklet_load_under_prefix(bare_page: Any, site: tuple[ShimSite, str]) -> None:
    """new Audio('/x.wav') plays from under the prefix, and audioWorklet.addModule('/x.js')
    loads a module whose processor can then be used."""
    recorder = _open(bare_page, site)
    duration = bare_page.evaluate(
        """async () => {
            const audio = new Audio('/a/sound.wav');
            const loaded = new Promise((done, fail) => {
                audio.onloadedmetadata = () => done(audio.duration);
                audio.onerror = () => fail(new Error('audio failed'));
            });
            const context = new OfflineAudioContext(1, 128, 8000);
            await context.audioWorklet.addModule('/a/noop-worklet.js');
            new AudioWorkletNode(context, 'kubegate-noop');
            return await loaded;
        }"""
    )
    assert duration > 0
    assert {"/pfx/a/sound.wav", "/pfx/a/noop-worklet.js"} <= set(recorder.received)
    assert _strays(recorder) == []


def test_request_constructor_prefixes_and_keeps_identity(
    bare_page: Any, site: tuple[ShimSite, str]
) -> None:
    """new Request('/r') carries the prefixed URL, and Request keeps its name, prototype,
    subclassing, instanceof for objects the browser makes (clones) and its TypeError
    when called without new."""
    _open(bare_page, site)
    got = bare_page.evaluate(
        """() => {
            const r = new Request('/r', {method: 'POST', body: 'x'});
            class Mine extends Request {}
            const m = new Mine('/m');
            let bare = 'no error';
            try { Request('/x'); } catch (e) { bare = e.constructor.name; }
            return {
                url: new URL(r.url).pathname,
                clone: r.clone() instanceof Request,
                proto: Object.getPrototypeOf(r) === Request.prototype
                    && Request.prototype.constructor === Request,
                mine: m instanceof Mine && m instanceof Request && new URL(m.url).pathname,
                name: Request.name,
                bare,
            };
        }"""
    )
    assert got == {
        "url": "/pfx/r",
        "clone": True,
        "proto": True,
        "mine": "/pfx/m",
        "name": "Request",
        "bare": "TypeError",
    }


def test_replaced_constructors_keep_statics_and_instanceof(
    bare_page: Any, site: tuple[ShimSite, str]
) -> None:
    """WebSocket, EventSource, Worker and Audio keep static members, prototype, instanceof
    and constructor identity; Audio makes HTMLAudioElements as before."""
    _open(bare_page, site)
    got = bare_page.evaluate(
        """() => {
            const ws = new WebSocket('/ws'); ws.close();
            const es = new EventSource('/stream/events'); es.close();
            const worker = new Worker('/w.js'); worker.terminate();
            const audio = new Audio('/a.wav');
            return [
                WebSocket.OPEN, EventSource.CLOSED, WebSocket.name, WebSocket.length,
                ws instanceof WebSocket && Object.getPrototypeOf(ws) === WebSocket.prototype,
                ws.constructor === WebSocket && es instanceof EventSource,
                worker instanceof Worker && worker instanceof EventTarget,
                audio instanceof HTMLAudioElement && audio.constructor === HTMLAudioElement,
                new URL(audio.src).pathname,
            ];
        }"""
    )
    assert got == [1, 2, "WebSocket", 1, True, True, True, True, "/pfx/a.wav"]


def test_wrapped_calls_without_a_url_fail_as_natively(
    bare_page: Any, site: tuple[ShimSite, str]
) -> None:
    """Wrapped APIs called without their URL argument throw the browser's own TypeError
    instead of using the string "undefined" as a URL."""
    _open(bare_page, site)
    got = bare_page.evaluate(
        """async () => {
            const errors = [];
            const attempt = async f => {
                try { await f(); errors.push('no error'); } catch (e) { errors.push(e.constructor.name); }
            };
            await attempt(() => document.createElement('img').setAttribute('src'));
            await attempt(() => new WebSocket());
            await attempt(() => new Worker());
            await attempt(() => navigator.sendBeacon());
            await attempt(() => fetch());
            return errors;
        }"""
    )
    assert got == ["TypeError"] * 5


def test_set_attribute_loads_media_objects_and_svg_under_prefix(
    bare_page: Any, site: tuple[ShimSite, str]
) -> None:
    """setAttribute/setAttributeNS with root-relative URLs on img, a video's poster, an
    audio's source, object data and SVG <use> (href and xlink:href) load under the prefix."""
    recorder = _open(bare_page, site)
    bare_page.evaluate(
        """() => {
            const el = tag => document.createElement(tag);
            const img = el('img'); img.setAttribute('src', '/s/img.png');
            const video = el('video'); video.setAttribute('poster', '/s/poster.png');
            const audio = el('audio'); audio.preload = 'auto';
            const source = el('source'); source.setAttribute('src', '/s/source.wav');
            audio.append(source);
            const object = el('object'); object.setAttribute('type', 'image/png');
            object.setAttribute('data', '/s/object.png');
            const SVG = 'http://www.w3.org/2000/svg';
            const svg = document.createElementNS(SVG, 'svg');
            const use = document.createElementNS(SVG, 'use');
            use.setAttribute('href', '/s/sprite.svg#dot');
            const old = document.createElementNS(SVG, 'use');
            old.setAttributeNS('http://www.w3.org/1999/xlink', 'xlink:href', '/s/xlink.svg#dot');
            const local = document.createElementNS(SVG, 'use');
            local.setAttribute('href', '#dot');
            svg.append(use, old, local);
            document.body.append(img, video, audio, object, svg);
            return local.getAttribute('href');
        }"""
    )
    expected = {
        "/pfx/s/img.png",
        "/pfx/s/poster.png",
        "/pfx/s/source.wav",
        "/pfx/s/object.png",
        "/pfx/s/sprite.svg",
        "/pfx/s/xlink.svg",
    }
    assert wait_until(lambda: expected <= set(recorder.received)), recorder.received
    assert _strays(recorder) == []
    assert bare_page.evaluate("document.querySelectorAll('use')[2].getAttribute('href')") == "#dot"


def test_html_in_shadow_roots_and_fragments_loads_under_prefix(
    bare_page: Any, site: tuple[ShimSite, str]
) -> None:
    """Root-relative URLs in HTML given to a shadow root's innerHTML, setHTMLUnsafe and
    Range.createContextualFragment load under the prefix."""
    recorder = _open(bare_page, site)
    bare_page.evaluate(
        """() => {
            const host = document.createElement('div');
            document.body.append(host);
            host.attachShadow({mode: 'open'}).innerHTML = '<img src="/h/shadow.png">';
            const other = document.createElement('div');
            document.body.append(other);
            other.setHTMLUnsafe('<img src="/h/unsafe.png">');
            const range = document.createRange();
            range.selectNodeContents(document.body);
            document.body.append(range.createContextualFragment('<img src="/h/fragment.png">'));
        }"""
    )
    expected = {"/pfx/h/shadow.png", "/pfx/h/unsafe.png", "/pfx/h/fragment.png"}
    assert wait_until(lambda: expected <= set(recorder.received)), recorder.received
    assert _strays(recorder) == []


def test_link_href_set_by_script_is_prefixed_and_followed(
    bare_page: Any, site: tuple[ShimSite, str]
) -> None:
    """An <a> whose href property is set to '/y' holds the prefixed URL, and clicking it
    lands under the prefix."""
    recorder = _open(bare_page, site)
    href = bare_page.evaluate(
        """() => {
            const a = document.createElement('a');
            a.id = 'go'; a.textContent = 'go'; a.href = '/y';
            document.body.append(a);
            return a.getAttribute('href');
        }"""
    )
    assert href == "/pfx/y"
    with bare_page.expect_navigation(url="**/pfx/y"):
        bare_page.click("#go")
    assert bare_page.text_content("#landed") == "landed" and _strays(recorder) == []


def test_location_replace_lands_under_prefix(bare_page: Any, site: tuple[ShimSite, str]) -> None:
    """location.replace('/next') lands on the prefixed page and replaces the history entry."""
    recorder = _open(bare_page, site)
    before = bare_page.evaluate("history.length")
    with bare_page.expect_navigation(url="**/pfx/next"):
        bare_page.evaluate("location.replace('/next')")
    assert bare_page.text_content("#landed") == "landed"
    assert bare_page.evaluate("history.length") == before
    assert "/next" not in recorder.received


def test_attributes_named_like_object_members_are_left_alone(
    bare_page: Any, site: tuple[ShimSite, str]
) -> None:
    """Attributes called "constructor" or "toString" are set as given, by setAttribute and
    in HTML strings (the shim's table of URL attributes holds no such names)."""
    _open(bare_page, site)
    got = bare_page.evaluate(
        """() => {
            const el = document.createElement('div');
            el.setAttribute('constructor', '/a');
            el.innerHTML = '<p toString="/b" hasOwnProperty="/c"><img src="/d"></p>';
            return [el.getAttribute('constructor'), el.firstChild.getAttribute('tostring'),
                    el.querySelector('img').getAttribute('src')];
        }"""
    )
    assert got == ["/a", "/b", "/pfx/d"]
