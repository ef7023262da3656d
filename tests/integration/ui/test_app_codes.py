"""The single-use sign-in codes of --apps-domain, on real stores (memory and sqlite): they
work once, expire after their lifetime, and are shared by every server on one store."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from kubegate.auth.types import UserInfo
from kubegate.server.ui.app_codes import PREFIX, AppCodes, digest
from kubegate.store.factory import open_store

ALICE = UserInfo("alice", "uid-1", ("devs",), {"scope": ("a",)})
HOST = "http--web--ns.apps.localhost:8443"


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=["memory", "sqlite"])
async def store(request: pytest.FixtureRequest, tmp_path) -> AsyncIterator[object]:
    url = "memory:" if request.param == "memory" else f"sqlite:{tmp_path / 'state.db'}"
    opened = open_store(url)
    await opened.start()
    yield opened
    await opened.close()


async def test_a_code_redeems_to_its_grant(store):
    """The grant carries the user, the app host, the path and the state's hash."""
    codes = AppCodes(store)
    code = await codes.issue(ALICE, host=HOST, then="/x?y=1", state="s" * 20)
    grant = await codes.redeem(code)
    assert grant is not None
    assert grant.user == ALICE and grant.host == HOST and grant.then == "/x?y=1"
    assert grant.state_hash == digest("s" * 20)


async def test_a_code_redeems_once(store):
    """The second redemption of a code finds nothing."""
    codes = AppCodes(store)
    code = await codes.issue(ALICE, host=HOST, then="/", state="s" * 20)
    assert await codes.redeem(code) is not None
    assert await codes.redeem(code) is None


async def test_racing_redemptions_let_one_win(store):
    """Two servers redeeming one code at once: exactly one gets the grant."""
    first, second = AppCodes(store), AppCodes(store)
    code = await first.issue(ALICE, host=HOST, then="/", state="s" * 20)
    results = await asyncio.gather(first.redeem(code), second.redeem(code))
    assert sum(r is not None for r in results) == 1


async def test_an_expired_code_fails(store):
    """A code redeemed after its 60 seconds is refused (and used up)."""
    clock = Clock()
    codes = AppCodes(store, clock=clock)
    code = await codes.issue(ALICE, host=HOST, then="/", state="s" * 20)
    clock.now += 60.5
    assert await codes.redeem(code) is None


async def test_a_code_just_inside_its_lifetime_works(store):
    """At 59 seconds the code is still good."""
    clock = Clock()
    codes = AppCodes(store, clock=clock)
    code = await codes.issue(ALICE, host=HOST, then="/", state="s" * 20)
    clock.now += 59
    assert await codes.redeem(code) is not None


async def test_the_store_never_holds_the_code(store):
    """Only the code's SHA-256 is a key; the code itself appears nowhere in the store."""
    codes = AppCodes(store)
    code = await codes.issue(ALICE, host=HOST, then="/", state="s" * 20)
    listed = await store.list(PREFIX)
    assert [item["metadata"]["name"] for item in listed.items] == [digest(code)]
    assert code not in repr(listed.items)


async def test_expired_codes_are_swept_on_later_issues(store):
    """Unused codes do not pile up: an issue past the sweep interval deletes expired ones."""
    clock = Clock()
    codes = AppCodes(store, clock=clock)
    await codes.issue(ALICE, host=HOST, then="/", state="s" * 20)
    clock.now += 120
    fresh = await codes.issue(ALICE, host=HOST, then="/", state="s" * 20)
    listed = await store.list(PREFIX)
    assert [item["metadata"]["name"] for item in listed.items] == [digest(fresh)]
