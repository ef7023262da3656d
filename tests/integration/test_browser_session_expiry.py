"""Session expiry against a real ``kubegate serve`` started with short limits
(``--session-idle-timeout 2s --session-max-age 4s``): idle sessions end, activity keeps a
session past the idle timeout, and nothing keeps it past the absolute limit.

Waiting is the behaviour under test here (any request would count as activity), so these
tests sleep for the limits rather than poll."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest

from integration.login_kit import Browser, grant_edit, write_user_files
from integration.proxy.harness import (
    Backend,
    Cluster,
    Kubegate,
    Port,
    backends_fixture,
    new_cluster,
    running_kubegate,
)

IDLE = 2.0
MAX_AGE = 4.0
STEP = 0.3  # between requests that keep a session active

backends = backends_fixture()


@pytest.fixture(scope="module")
def kg(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kubegate]:
    passwords, _ = write_user_files(tmp_path_factory.mktemp("expiry-users"))
    with running_kubegate(
        "--proxy-allow-cidrs=127.0.0.0/8",
        f"--basic-auth-file={passwords}",
        f"--session-idle-timeout={int(IDLE)}s",
        f"--session-max-age={int(MAX_AGE)}s",
    ) as kg:
        yield kg


@pytest.fixture
async def target(kg: Kubegate, backends) -> str:
    """The proxy path of an echo Service alice may use."""
    cluster: Cluster = await new_cluster(kg, "expiry")
    await grant_edit(cluster, "alice")
    backend: Backend = await backends.http()
    await cluster.serve("web", Port(backend))
    return cluster.path("services", "web:http", "/")


async def test_idle_session_expires(kg: Kubegate, target: str) -> None:
    """A session unused for the idle timeout is gone: the page goes to /login, the API 401."""
    browser = Browser(kg)
    await browser.login()
    assert (await browser.request("GET", target)).status == 200
    await asyncio.sleep(IDLE + 0.5)
    assert (await browser.page(target)).status == 302
    assert (await browser.request("GET", target)).status == 401


async def test_activity_keeps_a_session_past_the_idle_timeout(kg: Kubegate, target: str) -> None:
    """Requests every few hundred milliseconds keep the session alive beyond the idle timeout."""
    browser = Browser(kg)
    await browser.login()
    started = time.monotonic()
    while time.monotonic() - started < IDLE + 1.0:
        assert (await browser.request("GET", target)).status == 200
        await asyncio.sleep(STEP)


async def test_absolute_limit_ends_an_active_session(kg: Kubegate, target: str) -> None:
    """However busy, the session ends at the absolute limit after sign-in."""
    browser = Browser(kg)
    await browser.login()
    signed_in = time.monotonic()
    while (await browser.request("GET", target)).status == 200:
        assert time.monotonic() - signed_in < MAX_AGE + 2.0, "the session outlived max age"
        await asyncio.sleep(STEP)
    lasted = time.monotonic() - signed_in
    assert lasted >= MAX_AGE - 0.5, f"the session ended early, after {lasted:.1f}s"
