"""Fixtures of the browser suite (see ``harness``): one Chromium and one kubegate per session,
and per test a fresh browser context and page, the page's network log, web apps on loopback,
a namespace to publish them in, and a screenshot helper writing to docs/img/.

Every test under tests/browser is marked ``browser``; they are skipped only when
/usr/bin/chromium is absent (CI installs it through ``make setup-test``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from browser.harness import (
    CHROMIUM,
    CHROMIUM_ARGS,
    Apps,
    Gate,
    LoopThread,
    NetworkLog,
    chromium_missing,
    running_gate,
    save_screenshot,
    sign_in,
)
from integration.proxy.harness import Cluster

_HERE = Path(__file__).resolve().parent
_UNCLOSED_TEST_APP_SOCKET = (
    r"ignore:Exception ignored in. <(socket\.socket|function _SelectorTransport\.__del__)"
    ":pytest.PytestUnraisableExceptionWarning"
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    reason = chromium_missing()
    for item in items:
        if _HERE in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.browser)
            # The test apps run on a background loop that Chromium keeps keep-alive and
            # WebSocket connections to; one closed with its app may be collected during a
            # later test. That is test-app socket hygiene, not a browser behaviour, so only
            # this ResourceWarning is let through (kubegate itself runs in its own process).
            item.add_marker(pytest.mark.filterwarnings(_UNCLOSED_TEST_APP_SOCKET))
        if reason and item.get_closest_marker("browser") is not None:
            item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(scope="session")
def bg() -> Iterator[LoopThread]:
    """The background event loop that runs the web apps and the kube API calls."""
    loop = LoopThread()
    yield loop
    loop.close()


@pytest.fixture(scope="session")
def gate(bg: LoopThread, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gate]:
    """One ``kubegate serve`` (basic auth + tokens, proxy allowed to loopback) per session."""
    with running_gate(bg, tmp_path_factory.mktemp("browser-gate")) as running:
        yield running


@pytest.fixture(scope="session")
def playwright_driver() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="session")
def browser(playwright_driver: Any) -> Iterator[Any]:
    """Debian's headless Chromium driven by Playwright (never a downloaded browser)."""
    chromium = playwright_driver.chromium.launch(
        executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True, timeout=60_000
    )
    try:
        yield chromium
    finally:
        chromium.close()


@pytest.fixture(scope="session")
def trusting_browser(playwright_driver: Any) -> Iterator[Any]:
    """Chromium launched to accept the test kubegate's certificate everywhere:
    Playwright's ignore_https_errors reaches neither a shared worker's own requests nor
    its WebSockets, and Chromium registers no service worker from an origin whose
    certificate it rejects. A module uses it by overriding ``browser`` with it."""
    chromium = playwright_driver.chromium.launch(
        executable_path=CHROMIUM,
        args=[*CHROMIUM_ARGS, "--ignore-certificate-errors"],
        headless=True,
        timeout=60_000,
    )
    try:
        yield chromium
    finally:
        chromium.close()


def _new_context(browser: Any, **options: Any) -> Any:
    # kubegate's serving certificate comes from its own CA in the data dir: not trusted here.
    return browser.new_context(
        ignore_https_errors=True, viewport={"width": 1280, "height": 800}, **options
    )


@pytest.fixture
def context(browser: Any, gate: Gate) -> Iterator[Any]:
    """A fresh browser profile signed in to the gate through its login form (the
    ``__Host-kubegate_session`` cookie), as a user would be."""
    ctx = _new_context(browser)
    sign_in(ctx, gate)
    yield ctx
    ctx.close()


@pytest.fixture
def basic_auth_context(browser: Any, gate: Gate) -> Iterator[Any]:
    """A fresh browser profile that sends basic credentials with every request, as a
    browser does once its user answered a basic-auth prompt (only loopback is contacted)."""
    ctx = _new_context(browser, extra_http_headers=gate.basic_auth_header)
    yield ctx
    ctx.close()


@pytest.fixture
def anonymous_context(browser: Any) -> Iterator[Any]:
    """A fresh browser profile with no credentials at all (for login flows)."""
    ctx = _new_context(browser)
    yield ctx
    ctx.close()


@pytest.fixture
def netlog() -> NetworkLog:
    return NetworkLog()


@pytest.fixture
def page(context: Any, netlog: NetworkLog) -> Any:
    """A page in ``context`` whose requests, WebSockets and console go to ``netlog``."""
    new_page = context.new_page()
    new_page.set_default_timeout(15_000)
    netlog.attach(new_page)
    return new_page


@pytest.fixture
def bare_page(anonymous_context: Any, netlog: NetworkLog) -> Any:
    """A page with no credentials (no kubegate needed), recorded in ``netlog``."""
    new_page = anonymous_context.new_page()
    new_page.set_default_timeout(15_000)
    netlog.attach(new_page)
    return new_page


@pytest.fixture
def screenshot(page: Any) -> Callable[[str], Path]:
    """``screenshot(name)`` saves the page's viewport as docs/img/<name>.png."""
    return lambda name: save_screenshot(page, name)


@pytest.fixture
def apps(bg: LoopThread) -> Iterator[Apps]:
    """Loopback web apps for this test (aiohttp or ASGI), closed at its end."""
    started = Apps(bg)
    yield started
    started.close()


@pytest.fixture
def cluster(gate: Gate) -> Cluster:
    """A fresh namespace on the session's kubegate."""
    return gate.namespace()
