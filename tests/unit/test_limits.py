"""Admission limits: token-bucket math, the per-user limiter, request kinds, the in-flight
decision table, and slot accounting on every way out of a request."""

from __future__ import annotations

import asyncio

import pytest

from kubegate.auth.types import AUTHENTICATED_GROUP, MASTERS_GROUP, UserInfo
from kubegate.core.requestinfo import parse_request_info
from kubegate.errors import TooManyRequests
from kubegate.server.limits import (
    TOO_MANY_MESSAGE,
    LimitSettings,
    RequestKind,
    RequestLimiter,
    TokenBucket,
    UserRateLimiter,
    request_kind,
)

ALICE = UserInfo("alice", groups=(AUTHENTICATED_GROUP,))
BOB = UserInfo("bob", groups=(AUTHENTICATED_GROUP,))
ADMIN = UserInfo("admin", groups=(MASTERS_GROUP, AUTHENTICATED_GROUP))


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def info(method: str, path: str, query: str = ""):
    return parse_request_info(method, path, query)


# -- token bucket ----------------------------------------------------------------------------


def test_a_full_bucket_admits_exactly_its_burst():
    """A new bucket of burst 5 admits five requests at once and refuses the sixth."""
    bucket = TokenBucket.full(rate=2.0, burst=5.0, now=0.0)
    assert [bucket.take(0.0) for _ in range(5)] == [0.0] * 5
    assert bucket.take(0.0) > 0.0


def test_an_empty_bucket_says_how_long_until_the_next_token():
    """With no tokens at rate 2/s the wait is half a second, less the time already gone."""
    bucket = TokenBucket.full(rate=2.0, burst=1.0, now=0.0)
    bucket.take(0.0)
    assert bucket.take(0.0) == pytest.approx(0.5)
    assert bucket.take(0.2) == pytest.approx(0.3)


def test_a_bucket_refills_at_its_rate():
    """After 1.5 s at 2/s an empty bucket holds three tokens."""
    bucket = TokenBucket.full(rate=2.0, burst=10.0, now=0.0)
    for _ in range(10):
        bucket.take(0.0)
    assert [bucket.take(1.5) for _ in range(3)] == [0.0] * 3
    assert bucket.take(1.5) > 0.0


def test_a_bucket_never_holds_more_than_its_burst():
    """An hour idle still refills only up to the burst."""
    bucket = TokenBucket.full(rate=100.0, burst=3.0, now=0.0)
    bucket.take(0.0)
    bucket.refill(3600.0)
    assert bucket.tokens == 3.0


def test_time_going_backwards_does_not_add_tokens():
    """A clock read older than the last one changes nothing."""
    bucket = TokenBucket.full(rate=1.0, burst=2.0, now=10.0)
    bucket.take(10.0)
    bucket.take(10.0)
    assert bucket.take(5.0) == pytest.approx(1.0)


# -- per-user limiter ------------------------------------------------------------------------


def test_users_have_separate_buckets():
    """One user spending its burst leaves another's untouched."""
    limiter = UserRateLimiter(1.0, 2, clock=Clock())
    assert [limiter.take("alice") for _ in range(3)][-1] > 0.0
    assert limiter.take("bob") == 0.0


def test_the_user_table_is_bounded():
    """Past max_users the table does not grow; full (idle) buckets go first."""
    clock = Clock()
    limiter = UserRateLimiter(1.0, 1, clock=clock, max_users=3)
    limiter.take("busy")  # empty now
    for n in range(10):
        limiter.take(f"user-{n}")
    assert len(limiter.buckets) <= 3


def test_eviction_keeps_busy_users_when_idle_ones_can_go():
    """A user whose bucket is not yet refilled survives eviction of refilled ones."""
    clock = Clock()
    limiter = UserRateLimiter(0.1, 1, clock=clock, max_users=2)
    limiter.take("idle")
    clock.now += 20  # idle's bucket is full again
    limiter.take("busy")
    limiter.take("new")
    assert set(limiter.buckets) == {"busy", "new"}


# -- request kinds ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "query", "kind"),
    [
        ("GET", "/api/v1/namespaces/default/pods", "", RequestKind.READ_ONLY),
        ("GET", "/api/v1/namespaces/default/pods/p", "", RequestKind.READ_ONLY),
        ("GET", "/api/v1/namespaces/default/pods", "watch=1", RequestKind.LONG_RUNNING),
        ("GET", "/api/v1/services", "watch=true", RequestKind.LONG_RUNNING),
        ("POST", "/api/v1/namespaces/default/pods", "", RequestKind.MUTATING),
        ("PUT", "/api/v1/namespaces/default/pods/p", "", RequestKind.MUTATING),
        ("PATCH", "/api/v1/namespaces/default/pods/p", "", RequestKind.MUTATING),
        ("DELETE", "/api/v1/namespaces/default/pods", "", RequestKind.MUTATING),
        ("GET", "/api/v1/namespaces/d/services/s/proxy/x", "", RequestKind.LONG_RUNNING),
        ("POST", "/api/v1/namespaces/d/services/s/proxy/x", "", RequestKind.LONG_RUNNING),
        ("GET", "/api/v1/namespaces/d/pods/p/proxy", "", RequestKind.LONG_RUNNING),
        ("GET", "/api/v1/nodes/n/proxy/metrics", "", RequestKind.LONG_RUNNING),
        ("GET", "/api/v1/namespaces/d/pods/p/log", "", RequestKind.LONG_RUNNING),
        ("POST", "/api/v1/namespaces/d/pods/p/exec", "", RequestKind.LONG_RUNNING),
        ("GET", "/api/v1/namespaces/d/pods/p/status", "", RequestKind.READ_ONLY),
        ("PUT", "/api/v1/namespaces/d/pods/p/status", "", RequestKind.MUTATING),
        ("GET", "/metrics", "", RequestKind.READ_ONLY),
        ("GET", "/apis", "", RequestKind.READ_ONLY),
        ("POST", "/logs/x", "", RequestKind.MUTATING),
        ("GET", "/proxy/x", "", RequestKind.READ_ONLY),  # not a resource: no "proxy" subresource
    ],
)
def test_request_kind(method: str, path: str, query: str, kind: RequestKind):
    """Long-running as kube's BasicLongRunningRequestCheck; else read-only get/list/watch."""
    assert request_kind(info(method, path, query)) is kind


# -- in-flight decisions ---------------------------------------------------------------------

LIST = ("GET", "/api/v1/namespaces/default/pods", "")
CREATE = ("POST", "/api/v1/namespaces/default/pods", "")
WATCH = ("GET", "/api/v1/namespaces/default/pods", "watch=1")
PROXY = ("GET", "/api/v1/namespaces/default/services/s/proxy/", "")


@pytest.mark.parametrize(
    ("caps", "held", "request_", "user", "admitted"),
    [
        # caps: (read-only, mutating, long-running); held: requests already in flight
        ((2, 2, 2), [LIST], LIST, ALICE, True),
        ((2, 2, 2), [LIST, LIST], LIST, ALICE, False),
        ((2, 2, 2), [LIST, LIST], CREATE, ALICE, True),  # separate caps
        ((2, 1, 2), [CREATE], CREATE, ALICE, False),
        ((2, 1, 2), [CREATE], LIST, ALICE, True),
        ((1, 1, 2), [LIST, CREATE], WATCH, ALICE, True),  # long-running: its own cap
        ((1, 1, 2), [WATCH, PROXY], WATCH, ALICE, False),
        ((1, 1, 2), [WATCH, WATCH], LIST, ALICE, True),
        ((1, 1, 2), [WATCH, WATCH], PROXY, BOB, False),  # caps are global, not per user
        ((0, 0, 0), [LIST] * 5 + [WATCH] * 5, LIST, ALICE, True),  # 0: no cap
        ((1, 1, 1), [LIST, CREATE, WATCH], LIST, ADMIN, True),  # system:masters exempt
        ((1, 1, 1), [LIST, CREATE, WATCH], CREATE, ADMIN, True),
        ((1, 1, 1), [LIST, CREATE, WATCH], WATCH, ADMIN, True),
    ],
)
def test_inflight_decisions(caps, held, request_, user, admitted):
    """Each cap counts its own kind of request; masters pass; 0 means unlimited."""
    limiter = RequestLimiter(
        LimitSettings(
            max_requests_inflight=caps[0],
            max_mutating_requests_inflight=caps[1],
            max_long_running_requests=caps[2],
        )
    )
    for h in held:
        limiter.admit(info(*h), h[0], ALICE, ALICE)
    try:
        limiter.admit(info(*request_), request_[0], user, user)
    except TooManyRequests as exc:
        assert not admitted
        assert exc.retry_after == 1 and exc.message == TOO_MANY_MESSAGE
        assert exc.to_status()["details"] == {"retryAfterSeconds": 1}
    else:
        assert admitted


def test_masters_are_not_counted_against_the_caps():
    """An exempt request holds no slot, so others are not refused because of it."""
    limiter = RequestLimiter(LimitSettings(max_requests_inflight=1))
    limiter.admit(info(*LIST), "GET", ADMIN, ADMIN)
    limiter.admit(info(*LIST), "GET", ALICE, ALICE)
    assert limiter.inflight[RequestKind.READ_ONLY] == 1


def test_rejections_are_counted_by_limit():
    """Each refusal is counted under the limit that caused it."""
    limiter = RequestLimiter(LimitSettings(max_long_running_requests=1))
    limiter.admit(info(*WATCH), "GET", ALICE, ALICE)
    for _ in range(2):
        with pytest.raises(TooManyRequests):
            limiter.admit(info(*WATCH), "GET", ALICE, ALICE)
    assert limiter.rejected == {"readOnly": 0, "mutating": 0, "longRunning": 2, "userRate": 0}


def test_user_rate_limit_retry_after_comes_from_the_bucket():
    """At 0.25 QPS an empty bucket answers Retry-After 4 (the seconds to the next token)."""
    clock = Clock()
    limiter = RequestLimiter(LimitSettings(user_rate_limit=0.25, user_rate_burst=2), clock=clock)
    for _ in range(2):
        limiter.admit(info(*LIST), "GET", ALICE, ALICE).release()
    with pytest.raises(TooManyRequests) as caught:
        limiter.admit(info(*LIST), "GET", ALICE, ALICE)
    assert caught.value.retry_after == 4
    assert limiter.rejected["userRate"] == 1
    clock.now += 4
    limiter.admit(info(*LIST), "GET", ALICE, ALICE).release()


def test_user_rate_limit_charges_the_credential_holder():
    """Impersonating someone else still spends the impersonator's own tokens."""
    limiter = RequestLimiter(LimitSettings(user_rate_limit=1, user_rate_burst=1), clock=Clock())
    limiter.admit(info(*LIST), "GET", BOB, ALICE).release()
    with pytest.raises(TooManyRequests):
        limiter.admit(info(*LIST), "GET", ALICE, ALICE)
    limiter.admit(info(*LIST), "GET", BOB, BOB).release()


def test_user_rate_limit_applies_to_masters():
    """The per-user bucket is no global cap: system:masters members have one too."""
    limiter = RequestLimiter(LimitSettings(user_rate_limit=1, user_rate_burst=1), clock=Clock())
    limiter.admit(info(*LIST), "GET", ADMIN, ADMIN).release()
    with pytest.raises(TooManyRequests):
        limiter.admit(info(*LIST), "GET", ADMIN, ADMIN)


def test_the_default_burst_is_the_rate_rounded_up():
    """--user-rate-burst 0 means ceil(QPS), at least 1."""
    assert LimitSettings(user_rate_limit=2.5).effective_burst == 3
    assert LimitSettings(user_rate_limit=0.1).effective_burst == 1
    assert LimitSettings(user_rate_limit=1, user_rate_burst=7).effective_burst == 7


@pytest.mark.parametrize(
    "field",
    [
        "max_requests_inflight",
        "max_mutating_requests_inflight",
        "max_long_running_requests",
        "user_rate_limit",
        "user_rate_burst",
    ],
)
def test_negative_settings_are_refused(field: str):
    """A negative limit is a configuration error, named by its flag."""
    with pytest.raises(ValueError, match="--" + field.replace("_", "-")):
        LimitSettings(**{field: -1}).check()


# -- accounting on every exit path -----------------------------------------------------------


class Gauge:
    def __init__(self) -> None:
        self.value = 0

    def inc(self) -> None:
        self.value += 1

    def dec(self) -> None:
        self.value -= 1


def counting_limiter() -> tuple[RequestLimiter, Gauge]:
    gauge = Gauge()
    limiter = RequestLimiter(
        LimitSettings(max_requests_inflight=5, max_long_running_requests=5),
        long_running_gauge=lambda _info, _method: gauge,
    )
    return limiter, gauge


def test_a_slot_is_released_when_the_request_returns():
    """Normal completion gives the slot back."""
    limiter, _ = counting_limiter()
    with limiter.admit(info(*LIST), "GET", ALICE, ALICE):
        assert limiter.inflight[RequestKind.READ_ONLY] == 1
    assert limiter.inflight[RequestKind.READ_ONLY] == 0


def test_a_slot_is_released_when_the_request_raises():
    """An exception inside the request gives the slot (and the long-running gauge) back."""
    limiter, gauge = counting_limiter()
    with pytest.raises(RuntimeError), limiter.admit(info(*WATCH), "GET", ALICE, ALICE):
        assert (limiter.inflight[RequestKind.LONG_RUNNING], gauge.value) == (1, 1)
        raise RuntimeError("handler failed")
    assert (limiter.inflight[RequestKind.LONG_RUNNING], gauge.value) == (0, 0)


async def test_slots_are_released_when_requests_are_cancelled():
    """Requests cancelled while waiting (client gone, shutdown) give their slots back."""
    limiter, gauge = counting_limiter()
    requests = (LIST, LIST, WATCH, PROXY)
    entered = [asyncio.Event() for _ in requests]

    async def hold(request, inside: asyncio.Event) -> None:
        with limiter.admit(info(*request), request[0], ALICE, ALICE):
            inside.set()
            await asyncio.Event().wait()

    tasks = [
        asyncio.create_task(hold(r, e), name=f"held-{n}")
        for n, (r, e) in enumerate(zip(requests, entered, strict=True))
    ]
    await asyncio.gather(*(e.wait() for e in entered))
    assert sum(limiter.inflight.values()) == 4
    assert gauge.value == 2
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    assert all(t.cancelled() for t in tasks)
    assert sum(limiter.inflight.values()) == 0 and gauge.value == 0


def test_release_is_idempotent():
    """Releasing twice (a context exit after an explicit release) counts once."""
    limiter, gauge = counting_limiter()
    slot = limiter.admit(info(*WATCH), "GET", ALICE, ALICE)
    slot.release()
    slot.release()
    assert (limiter.inflight[RequestKind.LONG_RUNNING], gauge.value) == (0, 0)


def test_a_refused_request_holds_nothing():
    """A 429 leaves the counts as they were."""
    limiter = RequestLimiter(LimitSettings(max_requests_inflight=1))
    limiter.admit(info(*LIST), "GET", ALICE, ALICE)
    with pytest.raises(TooManyRequests):
        limiter.admit(info(*LIST), "GET", ALICE, ALICE)
    assert limiter.inflight[RequestKind.READ_ONLY] == 1


def test_exempt_long_running_requests_still_show_in_the_gauge():
    """A master's watch is not capped but is still a long-running request in the gauge."""
    limiter, gauge = counting_limiter()
    with limiter.admit(info(*WATCH), "GET", ADMIN, ADMIN):
        assert gauge.value == 1 and limiter.inflight[RequestKind.LONG_RUNNING] == 0
    assert gauge.value == 0
