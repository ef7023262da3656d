"""From a proxy request's resource and ``{id}`` to checked backend addresses.

The pure rules live in ``core.proxy_target`` (grammar), ``core.proxy_backends`` (port and
endpoint selection) and ``core.addresses`` (which destinations are allowed); this module feeds
them objects from the watch-fed cache, resolves node hostnames exactly once, and returns
literal, checked IPs so the connection layer never looks a name up again (CVE-2020-8562).

Resolutions of services and pods are memoised per ``(resource, namespace, id)``: the work
from the id to checked backends (grammar, port choice, EndpointSlice walk, address policy)
is done once and kept until the cache's ``generation`` moves, i.e. until any Service,
EndpointSlice, Pod or Node changes — never one request behind what the cache knows. Only the
random choice among a Service's endpoints is made per request. Failures are not memoised
(each is worked out again), node targets neither (a node's name may need a DNS lookup).
"""

from __future__ import annotations

import asyncio
import ipaddress
import random
import socket
from dataclasses import dataclass

from kubegate.core.addresses import (
    AddressNotAllowed,
    check_destination,
    is_self,
    parse_destination_host,
)
from kubegate.core.proxy_backends import (
    node_backend,
    pod_backend,
    resolve_service_port,
    service_endpoints,
)
from kubegate.core.proxy_target import ProxyResolutionError, parse_proxy_id
from kubegate.errors import APIError, BadRequest, NotFound, ServiceUnavailable
from kubegate.proxy.cache import ProxyCache
from kubegate.proxy.rewrite_policy import RewritePolicy

DNS_TIMEOUT = 5.0
MAX_ENDPOINT_ATTEMPTS = 3
_VERDICT_CACHE = 65536
_RESOLVED_CACHE = 4096  # memoised resolutions; all dropped when full (the keys are the client's)


@dataclass(frozen=True, slots=True)
class Backend:
    ip: str
    port: int
    scheme: str  # http | https
    host_header: str  # what the backend sees as Host (its own address, as kube sends)
    server_name: str | None  # SNI / verified name for https
    kubelet: bool = False


# A Service may name the CA that signs its backends' certificates: "configmap/NAME" or
# "secret/NAME" in its namespace, holding ``ca.crt``; and the name to verify (default
# {service}.{namespace}.svc).
CA_ANNOTATION = "kubegate.io/proxy-ca"
SERVER_NAME_ANNOTATION = "kubegate.io/proxy-tls-server-name"


@dataclass(frozen=True, slots=True)
class ResolvedTarget:
    kind: str  # services | pods | nodes
    name: str
    candidates: tuple[Backend, ...]  # in the order to try
    namespace: str = ""
    ca_ref: str | None = None  # the CA_ANNOTATION value, if any


@dataclass(frozen=True, slots=True)
class AddressPolicy:
    allow: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
    listen: tuple[tuple[str, int], ...] = ()  # our own sockets: never a proxy target (A11)


def _host_port(ip: str, port: int) -> str:
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


def _translate(exc: ProxyResolutionError) -> APIError:
    cls = {400: BadRequest, 404: NotFound, 503: ServiceUnavailable}.get(
        exc.code, ServiceUnavailable
    )
    return cls(exc.message)


class _ServiceChoice:
    """A Service's resolution before the per-request random pick: every endpoint of the
    chosen port as its checked Backend (None: the address policy refuses it), split into
    the primary IP family and the rest (the order ``service_endpoints`` gives)."""

    __slots__ = ("ca_ref", "first", "name", "namespace", "only", "rest")

    def __init__(
        self,
        name: str,
        namespace: str,
        first: list[Backend | None],
        rest: list[Backend | None],
        ca_ref: str | None,
    ) -> None:
        self.name = name
        self.namespace = namespace
        self.first = first
        self.rest = rest
        self.ca_ref = ca_ref
        # One endpoint, allowed: nothing to choose, the same answer every time.
        self.only: ResolvedTarget | None = None
        if len(first) + len(rest) == 1 and (first or rest)[0] is not None:
            backend = (first or rest)[0]
            assert backend is not None
            self.only = ResolvedTarget("services", name, (backend,), namespace, ca_ref)

    def pick(self) -> ResolvedTarget:
        """Random within the primary IP family first, at most MAX_ENDPOINT_ATTEMPTS
        allowed candidates among the first few endpoints of that order."""
        if self.only is not None:
            return self.only
        first, rest = self.first[:], self.rest[:]
        random.shuffle(first)
        random.shuffle(rest)
        candidates = []
        refused = False
        for backend in (first + rest)[: MAX_ENDPOINT_ATTEMPTS * 4]:
            if backend is None:
                refused = True
                continue
            candidates.append(backend)
            if len(candidates) == MAX_ENDPOINT_ATTEMPTS:
                break
        if not candidates:
            if refused:
                raise BadRequest("address not allowed")
            raise ServiceUnavailable(f'no endpoints available for service "{self.name}"')
        return ResolvedTarget("services", self.name, tuple(candidates), self.namespace, self.ca_ref)


class Resolver:
    def __init__(self, cache: ProxyCache, policy: AddressPolicy) -> None:
        self.cache = cache
        self.policy = policy
        self._verdicts: dict[tuple[str, int], str] = {}  # (ip, port) -> canonical ip, "" = refused
        # (resource, namespace, raw id) -> what it resolved to, valid for one cache generation
        self._resolved: dict[tuple[str, str, str], _ServiceChoice | ResolvedTarget] = {}
        self._generation = -1
        # (namespace, service) -> its rewrite policy, valid for one cache generation too
        self._policies: dict[tuple[str, str], RewritePolicy] = {}
        self._policies_generation = -1

    def _checked(self, ip: str, port: int) -> str:
        """The canonical form of an allowed destination; 400 otherwise."""
        verdict = self._verdict_of(ip, port)
        if not verdict:
            raise BadRequest("address not allowed")
        return verdict

    def _verdict_of(self, ip: str, port: int) -> str:
        """The canonical form of an allowed destination, "" if refused. Memoised: the
        policy is fixed for the server's life."""
        verdict = self._verdicts.get((ip, port))
        if verdict is None:
            verdict = self._verdict(ip, port)
            if len(self._verdicts) >= _VERDICT_CACHE:
                self._verdicts.clear()
            self._verdicts[(ip, port)] = verdict
        return verdict

    def _verdict(self, ip: str, port: int) -> str:
        try:
            addr = check_destination(ip, allow=self.policy.allow)
        except AddressNotAllowed:
            return ""
        if is_self(str(addr), port, self.policy.listen):
            return ""
        return str(addr)

    def remembered(self, resource: str, namespace: str, raw_id: str) -> ResolvedTarget | None:
        """The memoised resolution, if the cache has not changed since it was made (None:
        call ``resolve``). Synchronous, so that the usual request needs no coroutine here."""
        generation = self.cache.generation
        if generation != self._generation:
            self._resolved.clear()  # something changed: every resolution is stale
            self._generation = generation
            return None
        found = self._resolved.get((resource, namespace, raw_id))
        if found is None:
            return None
        return found.pick() if isinstance(found, _ServiceChoice) else found

    def rewrite_policy(self, namespace: str, service: str) -> RewritePolicy:
        """The Service's rewrite policy (its annotations, proxy/rewrite.py), memoised like
        the resolutions: rebuilt once the cache has changed."""
        generation = self.cache.generation
        if generation != self._policies_generation:
            self._policies.clear()
            self._policies_generation = generation
        key = (namespace, service)
        policy = self._policies.get(key)
        if policy is None:
            if len(self._policies) >= _RESOLVED_CACHE:
                self._policies.clear()
            policy = RewritePolicy.for_service(self.cache.service(namespace, service))
            self._policies[key] = policy
        return policy

    async def resolve(self, resource: str, namespace: str, raw_id: str) -> ResolvedTarget:
        if resource != "nodes":
            found = self.remembered(resource, namespace, raw_id)
            if found is not None:
                return found
        key = (resource, namespace, raw_id)
        try:
            pid = parse_proxy_id(raw_id, resource)  # type: ignore[arg-type]
            if resource == "services":
                choice = self._service(namespace, pid.scheme, pid.name, pid.port)
                self._remember(key, choice)
                return choice.pick()
            if resource == "pods":
                target = self._pod(namespace, pid.scheme, pid.name, pid.port)
                self._remember(key, target)
                return target
            return await self._node(pid.scheme, pid.name, pid.port)
        except ProxyResolutionError as exc:
            raise _translate(exc) from exc
        except ValueError as exc:  # InvalidProxyId carries kube's message
            raise BadRequest(str(exc)) from exc

    def _remember(self, key: tuple[str, str, str], value: _ServiceChoice | ResolvedTarget) -> None:
        if len(self._resolved) >= _RESOLVED_CACHE:
            self._resolved.clear()
        self._resolved[key] = value

    def _service(self, namespace: str, scheme: str, name: str, port: str) -> _ServiceChoice:
        service = self.cache.service(namespace, name)
        if service is None:
            raise NotFound(f'services "{name}" not found', name=name, kind="services")
        choice = resolve_service_port(service, port)
        endpoints = service_endpoints(
            service, self.cache.endpoint_slices(namespace, name), choice.port_name
        )
        scheme = scheme or "http"
        annotations = (service.get("metadata") or {}).get("annotations") or {}
        server_name = annotations.get(SERVER_NAME_ANNOTATION) or f"{name}.{namespace}.svc"
        # The primary IP family first (the order service_endpoints gives); each endpoint
        # checked against the address policy once, here, not per request.
        primary = endpoints[0].address_type if endpoints else ""
        first: list[Backend | None] = []
        rest: list[Backend | None] = []
        for endpoint in endpoints:
            verdict = self._verdict_of(endpoint.ip, endpoint.port)
            backend = (
                Backend(
                    verdict, endpoint.port, scheme, _host_port(verdict, endpoint.port), server_name
                )
                if verdict
                else None
            )
            (first if endpoint.address_type == primary else rest).append(backend)
        return _ServiceChoice(name, namespace, first, rest, annotations.get(CA_ANNOTATION))

    def _pod(self, namespace: str, scheme: str, name: str, port: str) -> ResolvedTarget:
        pod = self.cache.pod(namespace, name)
        if pod is None:
            raise NotFound(f'pods "{name}" not found', name=name, kind="pods")
        backend = pod_backend(pod, port)
        scheme = scheme or "http"
        number = backend.port or (443 if scheme == "https" else 80)
        ip = self._checked(backend.ip, number)
        host = _host_port(ip, number) if backend.port else (f"[{ip}]" if ":" in ip else ip)
        return ResolvedTarget("pods", name, (Backend(ip, number, scheme, host, None),))

    async def _node(self, scheme: str, name: str, port: str) -> ResolvedTarget:
        node = self.cache.node(name)
        if node is None:
            raise NotFound(f'nodes "{name}" not found', name=name, kind="nodes")
        nb = node_backend(node, port, scheme)
        ip = await self._resolve_host_once(nb.host, nb.port)
        host = _host_port(nb.host, nb.port) if ":" not in nb.host else f"[{nb.host}]:{nb.port}"
        backend = Backend(ip, nb.port, nb.scheme, host, nb.host, kubelet=nb.kubelet)
        return ResolvedTarget("nodes", name, (backend,))

    async def _resolve_host_once(self, host: str, port: int) -> str:
        """Literal IPs are checked as they are; names are looked up once and every answer
        must be allowed (A6/A7); the connection then goes to the checked literal."""
        try:
            parsed = parse_destination_host(host)  # refuses names resolvers read as IPs (127.1)
        except AddressNotAllowed as exc:
            raise BadRequest("address not allowed") from exc
        if not isinstance(parsed, str):
            return self._checked(str(parsed), port)
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(DNS_TIMEOUT):
                infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (OSError, TimeoutError) as exc:
            raise BadRequest(f"failed to resolve {host}: {exc}") from exc
        addresses = [str(info[4][0]) for info in infos]
        if not addresses:
            raise BadRequest("no addresses for hostname")
        checked = [self._checked(addr, port) for addr in addresses]
        return checked[0]
