"""The IO boundary to etcd: gRPC channels, deadlines, failover, and error translation.

Built on aetcd's generated etcd v3 API stubs (``aetcd.rpc``) over ``grpc.aio`` rather than
aetcd's high-level Client, which has no TLS, one endpoint only, and a watch API that drops the
response headers and compaction details the store needs.

Every request carries the configured deadline, so an etcd that is down, partitioned or
stopped costs a caller at most that long; gRPC failures become StoreUnavailable here (the API
answers 503), except etcd's "request is too large", which is the object's fault (ObjectTooLarge,
answered 413).

Several endpoints: one channel per endpoint, requests go to the current one; when it is
unreachable the next request goes to the next endpoint. Reads that fail that way are retried
on the other endpoints at once; writes are not (a write whose connection broke may have been
applied, and repeating it could turn a successful create into KeyExists).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import grpc
from aetcd import rpc

from kubegate.store.base import ObjectTooLarge, StoreUnavailable
from kubegate.store.etcd_config import EtcdConfig, TLSFiles

Response = TypeVar("Response")

# Reconnect at most 2 s apart (gRPC's default backoff grows to 120 s), so a store notices an
# etcd that came back within a couple of seconds; keepalive pings notice a dead connection
# under a long-lived watch (etcd refuses pings more often than every 5 s by default).
_CHANNEL_OPTIONS: tuple[tuple[str, int], ...] = (
    ("grpc.initial_reconnect_backoff_ms", 250),
    ("grpc.max_reconnect_backoff_ms", 2000),
    ("grpc.keepalive_time_ms", 10_000),
    ("grpc.keepalive_timeout_ms", 5_000),
    # kube-apiserver reads etcd with MaxCallRecvMsgSize = MaxInt32: a 10,000-Service list
    # is ~9 MB, over gRPC's 4 MB default.
    ("grpc.max_receive_message_length", 2**31 - 1),
)
# The endpoint looks unreachable: later requests go to the next one.
_UNREACHABLE = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)


class EtcdClient:
    """Unary etcd requests with deadlines, and watch streams, over one or more endpoints."""

    def __init__(self, config: EtcdConfig) -> None:
        self.config = config
        self.timeout = config.timeout
        self._channels: list[grpc.aio.Channel] = []
        self._kv: list[rpc.KVStub] = []
        self._lease: list[rpc.LeaseStub] = []
        self._watch: list[rpc.WatchStub] = []
        self._current = 0

    def connect(self) -> None:
        """Create the channels (connections are made lazily by the first request)."""
        credentials = _credentials(self.config.tls) if self.config.tls else None
        for endpoint in self.config.endpoints:
            if credentials is None:
                channel = grpc.aio.insecure_channel(endpoint, options=_CHANNEL_OPTIONS)
            else:
                channel = grpc.aio.secure_channel(endpoint, credentials, options=_CHANNEL_OPTIONS)
            self._channels.append(channel)
            self._kv.append(rpc.KVStub(channel))
            self._lease.append(rpc.LeaseStub(channel))
            self._watch.append(rpc.WatchStub(channel))

    async def close(self) -> None:
        """Close every channel; requests in flight fail with StoreUnavailable."""
        channels, self._channels = self._channels, []
        self._kv, self._lease, self._watch = [], [], []
        for channel in channels:
            await channel.close()

    @property
    def endpoint(self) -> str:
        return self.config.endpoints[self._current]

    def fail_over(self, away_from: str) -> None:
        """Use the next endpoint from now on, unless another failure already moved away."""
        if self.endpoint == away_from:
            self._current = (self._current + 1) % len(self.config.endpoints)

    # -- requests ----------------------------------------------------------------------------

    async def range(self, request: rpc.RangeRequest) -> rpc.RangeResponse:
        return await self._unary(lambda i: self._kv[i].Range, request, "read", retry=True)

    async def txn(self, request: rpc.TxnRequest) -> rpc.TxnResponse:
        return await self._unary(lambda i: self._kv[i].Txn, request, "write", retry=False)

    async def grant_lease(self, ttl_seconds: int) -> int:
        request = rpc.LeaseGrantRequest(TTL=ttl_seconds)
        response = await self._unary(
            lambda i: self._lease[i].LeaseGrant, request, "lease grant", retry=False
        )
        if response.error:
            raise StoreUnavailable(f"etcd refused a lease: {response.error}")
        return int(response.ID)

    def open_watch(self) -> grpc.aio.StreamStreamCall:
        """A new watch stream on the current endpoint (no deadline: it lives until cancelled)."""
        if not self._watch:
            raise StoreUnavailable("etcd client is closed")
        return self._watch[self._current].Watch()

    async def _unary(
        self,
        method: Callable[[int], Callable[..., Awaitable[Any]]],
        request: Any,
        what: str,
        *,
        retry: bool,
    ) -> Any:
        attempts = len(self._channels) if retry else 1
        for attempt in range(attempts):
            if not self._channels:
                raise StoreUnavailable("etcd client is closed")
            index = self._current
            try:
                return await method(index)(request, timeout=self.timeout)
            except grpc.aio.AioRpcError as exc:
                code = exc.code()
                if code in _UNREACHABLE:
                    self.fail_over(self.config.endpoints[index])
                if code == grpc.StatusCode.UNAVAILABLE and attempt + 1 < attempts:
                    continue  # a read, and there is another endpoint to ask
                raise translate(exc, what) from exc
            except grpc.aio.UsageError as exc:  # the channel was closed under the request
                raise StoreUnavailable(f"etcd {what} failed: {exc}") from exc
        raise AssertionError("unreachable")  # pragma: no cover


def translate(exc: grpc.aio.AioRpcError, what: str) -> Exception:
    """The store error for a failed etcd request. (API clients see the message in a 503
    Status, so it names no etcd address.)"""
    details = exc.details() or ""
    if "request is too large" in details:
        # etcd's --max-request-bytes (1.5 MiB by default): no point retrying, the object is.
        return ObjectTooLarge(
            f"{details} (the stored object exceeds etcd's --max-request-bytes, 1.5 MiB by default)"
        )
    return StoreUnavailable(f"etcd {what} failed: {exc.code().name}: {details}")


def _credentials(tls: TLSFiles) -> grpc.ChannelCredentials:
    def read(path: str | None) -> bytes | None:
        if path is None:
            return None
        try:
            return Path(path).read_bytes()
        except OSError as exc:
            raise StoreUnavailable(f"cannot read etcd TLS file {path}: {exc}") from exc

    return grpc.ssl_channel_credentials(
        root_certificates=read(tls.cacert),
        private_key=read(tls.key),
        certificate_chain=read(tls.cert),
    )
