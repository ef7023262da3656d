"""From a proxy request's resource and ``{id}`` to checked backend addresses.

The pure rules live in ``core.proxy_target`` (grammar, port and endpoint selection) and
``core.addresses`` (which destinations are allowed); this module feeds them objects from the
watch-fed cache, resolves node hostnames exactly once, and returns literal, checked IPs so
the connection layer never looks a name up again (CVE-2020-8562).
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
from kubegate.core.proxy_target import (
    ProxyResolutionError,
    node_backend,
    parse_proxy_id,
    pod_backend,
    resolve_service_port,
    service_endpoints,
)
from kubegate.errors import APIError, BadRequest, NotFound, ServiceUnavailable
from kubegate.proxy.cache import ProxyCache

DNS_TIMEOUT = 5.0
MAX_ENDPOINT_ATTEMPTS = 3
_VERDICT_CACHE = 65536


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
    cls = {400: BadRequest, 404: NotFound, 503: ServiceUnavailable}.get(exc.code, ServiceUnavailable)
    return cls(exc.message)


class Resolver:
    def __init__(self, cache: ProxyCache, policy: AddressPolicy) -> None:
        self.cache = cache
        self.policy = policy
        self._verdicts: dict[tuple[str, int], str] = {}  # (ip, port) -> canonical ip, "" = refused

    def _checked(self, ip: str, port: int) -> str:
        """The canonical form of an allowed destination; 400 otherwise. Verdicts are
        memoised: the policy is fixed for the server's life and this runs per request."""
        verdict = self._verdicts.get((ip, port))
        if verdict is None:
            verdict = self._verdict(ip, port)
            if len(self._verdicts) >= _VERDICT_CACHE:
                self._verdicts.clear()
            self._verdicts[(ip, port)] = verdict
        if not verdict:
            raise BadRequest("address not allowed")
        return verdict

    def _verdict(self, ip: str, port: int) -> str:
        try:
            addr = check_destination(ip, allow=self.policy.allow)
        except AddressNotAllowed:
            return ""
        if is_self(str(addr), port, self.policy.listen):
            return ""
        return str(addr)

    async def resolve(self, resource: str, namespace: str, raw_id: str) -> ResolvedTarget:
        try:
            pid = parse_proxy_id(raw_id, resource)  # type: ignore[arg-type]
            if resource == "services":
                return self._service(namespace, pid.scheme, pid.name, pid.port)
            if resource == "pods":
                return self._pod(namespace, pid.scheme, pid.name, pid.port)
            return await self._node(pid.scheme, pid.name, pid.port)
        except ProxyResolutionError as exc:
            raise _translate(exc) from exc
        except ValueError as exc:  # InvalidProxyId carries kube's message
            raise BadRequest(str(exc)) from exc

    def _service(self, namespace: str, scheme: str, name: str, port: str) -> ResolvedTarget:
        service = self.cache.service(namespace, name)
        if service is None:
            raise NotFound(f'services "{name}" not found', name=name, kind="services")
        choice = resolve_service_port(service, port)
        endpoints = service_endpoints(service, self.cache.endpoint_slices(namespace, name), choice.port_name)
        scheme = scheme or "http"
        # Random within the primary IP family first (the order service_endpoints gives).
        primary = endpoints[0].address_type if endpoints else ""
        first = [e for e in endpoints if e.address_type == primary]
        rest = [e for e in endpoints if e.address_type != primary]
        random.shuffle(first)
        random.shuffle(rest)
        picked = first + rest
        annotations = (service.get("metadata") or {}).get("annotations") or {}
        server_name = annotations.get(SERVER_NAME_ANNOTATION) or f"{name}.{namespace}.svc"
        candidates = []
        refused: BadRequest | None = None
        for endpoint in picked[:MAX_ENDPOINT_ATTEMPTS * 4]:
            try:
                ip = self._checked(endpoint.ip, endpoint.port)
            except BadRequest as exc:
                refused = exc
                continue
            candidates.append(
                Backend(ip, endpoint.port, scheme, _host_port(ip, endpoint.port), server_name)
            )
            if len(candidates) == MAX_ENDPOINT_ATTEMPTS:
                break
        if not candidates:
            if refused is not None:
                raise refused
            raise ServiceUnavailable(f'no endpoints available for service "{name}"')
        return ResolvedTarget("services", name, tuple(candidates), namespace, annotations.get(CA_ANNOTATION))

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
        addresses = [info[4][0] for info in infos]
        if not addresses:
            raise BadRequest("no addresses for hostname")
        checked = [self._checked(addr, port) for addr in addresses]
        return checked[0]
