"""Admission limits: requests in flight by kind, and a token bucket per user.

Checked after authentication and impersonation and before authorization, where kube's
DefaultBuildHandlerChain runs WithMaxInFlightLimit. A request over a limit is answered
``429 TooManyRequests`` with ``Retry-After``.

In flight (kube's ``--max-requests-inflight`` / ``--max-mutating-requests-inflight``):
read-only requests (get, list) and mutating ones are capped separately; long-running ones
(watches and the connect-style subresources, proxy included, as kube's
BasicLongRunningRequestCheck decides) are not, in kube. Here they have a cap of their own,
``--max-long-running-requests``, because each holds a connection (and a backend one) for as
long as it lasts. 0 disables a cap. Members of ``system:masters`` are exempt from these caps,
as kube exempts them from max-in-flight, so an administrator can still get in to repair an
overloaded server.

Per user (``--user-rate-limit QPS``, ``--user-rate-burst N``; off by default): a token bucket
per authenticated user (the one who presented the credential, not an impersonated one),
refilled at QPS tokens per second up to N; every request takes one token. It applies to
everyone, ``system:masters`` included: each user has a bucket of their own, so one user's
load never limits another's. Buckets are dropped once refilled (a full bucket is a new
one); past ``MAX_TRACKED_USERS`` the oldest go first.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any

from kubegate.auth.types import MASTERS_GROUP, UserInfo
from kubegate.core.requestinfo import RequestInfo
from kubegate.errors import TooManyRequests

# kube's max-in-flight answer (k8s.io/apiserver filters/maxinflight.go, tooManyRequests).
TOO_MANY_MESSAGE = "Too many requests, please try again later."
INFLIGHT_RETRY_AFTER = 1
MAX_TRACKED_USERS = 10_000
# kube's BasicLongRunningRequestCheck(["watch", "proxy"], ["attach", "exec", "proxy", "log",
# "portforward"]) as kube-apiserver configures it.
LONG_RUNNING_VERBS = frozenset({"watch", "proxy"})
LONG_RUNNING_SUBRESOURCES = frozenset({"attach", "exec", "proxy", "log", "portforward"})
READ_ONLY_VERBS = frozenset({"get", "list", "watch"})


class RequestKind(Enum):
    READ_ONLY = "readOnly"
    MUTATING = "mutating"
    LONG_RUNNING = "longRunning"


@dataclass(frozen=True, slots=True)
class LimitSettings:
    max_requests_inflight: int = 400  # kube's default; 0: no cap
    max_mutating_requests_inflight: int = 200  # kube's default; 0: no cap
    max_long_running_requests: int = 1000  # 0: no cap
    user_rate_limit: float = 0.0  # requests per second per user; 0: off
    user_rate_burst: int = 0  # bucket size; 0: the rate rounded up (at least 1)

    @property
    def effective_burst(self) -> int:
        return self.user_rate_burst or max(1, math.ceil(self.user_rate_limit))

    def check(self) -> None:
        """Raise ValueError for settings that make no sense (negative values)."""
        for name in (
            "max_requests_inflight",
            "max_mutating_requests_inflight",
            "max_long_running_requests",
            "user_rate_limit",
            "user_rate_burst",
        ):
            if getattr(self, name) < 0:
                raise ValueError(f"--{name.replace('_', '-')} cannot be negative")


def request_kind(info: RequestInfo) -> RequestKind:
    """Which in-flight cap a request counts against (kube's long-running check, then the
    read-only verbs get/list/watch)."""
    if info.verb in LONG_RUNNING_VERBS or (
        info.is_resource_request and info.subresource in LONG_RUNNING_SUBRESOURCES
    ):
        return RequestKind.LONG_RUNNING
    if info.verb in READ_ONLY_VERBS:
        return RequestKind.READ_ONLY
    return RequestKind.MUTATING


@dataclass(slots=True)
class TokenBucket:
    """``rate`` tokens per second up to ``burst``; starts full."""

    rate: float
    burst: float
    tokens: float
    stamp: float

    @classmethod
    def full(cls, rate: float, burst: float, now: float) -> TokenBucket:
        return cls(rate, burst, burst, now)

    def refill(self, now: float) -> None:
        if now > self.stamp:
            self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
            self.stamp = now

    def take(self, now: float) -> float:
        """Take a token: 0.0 when one was there, else the seconds until one will be."""
        self.refill(now)
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        return (1.0 - self.tokens) / self.rate

    def is_full(self, now: float) -> bool:
        self.refill(now)
        return self.tokens >= self.burst


class UserRateLimiter:
    """One token bucket per user name, bounded in number."""

    def __init__(
        self,
        rate: float,
        burst: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_users: int = MAX_TRACKED_USERS,
    ) -> None:
        self.rate = rate
        self.burst = float(burst)
        self.clock = clock
        self.max_users = max_users
        self.buckets: dict[str, TokenBucket] = {}

    def take(self, user: str) -> float:
        """0.0 when ``user`` may go ahead, else the seconds until it may."""
        now = self.clock()
        bucket = self.buckets.get(user)
        if bucket is None:
            if len(self.buckets) >= self.max_users:
                self._evict(now)
            bucket = self.buckets[user] = TokenBucket.full(self.rate, self.burst, now)
        return bucket.take(now)

    def _evict(self, now: float) -> None:
        # A full bucket is indistinguishable from a new one: forgetting it changes nothing.
        for name in [n for n, b in self.buckets.items() if b.is_full(now)]:
            del self.buckets[name]
        while len(self.buckets) >= self.max_users:
            # Still full of busy users: forget the oldest (they get a fresh burst).
            del self.buckets[next(iter(self.buckets))]


class Admission:
    """One admitted request's hold on its in-flight slot; ``release()`` exactly once."""

    __slots__ = ("_gauge", "_kind", "_limiter")

    def __init__(self, limiter: RequestLimiter, kind: RequestKind | None, gauge: Any) -> None:
        self._limiter = limiter
        self._kind = kind  # None: exempt, not counted
        self._gauge = gauge

    def release(self) -> None:
        limiter, kind = self._limiter, self._kind
        if kind is not None:
            limiter.inflight[kind] -= 1
            self._kind = None
        if self._gauge is not None:
            self._gauge.dec()
            self._gauge = None

    def __enter__(self) -> Admission:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


class RequestLimiter:
    """The admission decision for every authenticated request."""

    def __init__(
        self,
        settings: LimitSettings,
        *,
        clock: Callable[[], float] = time.monotonic,
        long_running_gauge: Callable[[RequestInfo, str], Any] | None = None,
    ) -> None:
        self.settings = settings
        self.caps = {
            RequestKind.READ_ONLY: settings.max_requests_inflight,
            RequestKind.MUTATING: settings.max_mutating_requests_inflight,
            RequestKind.LONG_RUNNING: settings.max_long_running_requests,
        }
        self.inflight = dict.fromkeys(RequestKind, 0)
        self.rejected = dict.fromkeys((*(k.value for k in RequestKind), "userRate"), 0)
        self.users = (
            UserRateLimiter(settings.user_rate_limit, settings.effective_burst, clock=clock)
            if settings.user_rate_limit > 0
            else None
        )
        self.long_running_gauge = long_running_gauge

    def admit(
        self, info: RequestInfo, method: str, user: UserInfo, credential_holder: UserInfo
    ) -> Admission:
        """Take a slot for this request, or raise TooManyRequests.

        ``user`` is who the request acts as (kube's exemption looks at it, after
        impersonation); ``credential_holder`` is whose rate bucket pays."""
        if self.users is not None:
            wait = self.users.take(credential_holder.name)
            if wait > 0.0:
                self.rejected["userRate"] += 1
                raise TooManyRequests(TOO_MANY_MESSAGE, retry_after=max(1, math.ceil(wait)))
        kind = request_kind(info)
        counted: RequestKind | None = kind
        if MASTERS_GROUP in user.groups:
            counted = None
        else:
            cap = self.caps[kind]
            if cap and self.inflight[kind] >= cap:
                self.rejected[kind.value] += 1
                raise TooManyRequests(TOO_MANY_MESSAGE, retry_after=INFLIGHT_RETRY_AFTER)
            self.inflight[kind] += 1
        gauge = None
        if kind is RequestKind.LONG_RUNNING and self.long_running_gauge is not None:
            gauge = self.long_running_gauge(info, method)
            gauge.inc()
        return Admission(self, counted, gauge)
