"""ClusterIP and NodePort allocation.

Each allocated IP or port is one store key (``/registry/ipallocations/<ip>``,
``/registry/nodeportallocations/<port>``) created with create-if-absent, so allocation is
race-free across replicas sharing a store (kube uses IPAddress objects the same way).
"""

from __future__ import annotations

import ipaddress
import random

from kubegate.errors import FieldErrors
from kubegate.store.base import KeyExists, KeyNotFound, Store

NODE_PORT_RANGE = (30000, 32767)
_ATTEMPTS = 64


class Allocators:
    def __init__(self, store: Store, service_cidr: str) -> None:
        self.store = store
        self.network = ipaddress.ip_network(service_cidr, strict=False)
        first = int(self.network.network_address)
        # .0 is the network address, .1 is reserved for the "kubernetes" service.
        self._low = first + 2
        self._high = int(self.network.broadcast_address) - 1

    def kubernetes_service_ip(self) -> str:
        return str(self.network.network_address + 1)

    @staticmethod
    def _ip_key(ip: str) -> str:
        return f"/registry/ipallocations/{ip}"

    @staticmethod
    def _port_key(port: int) -> str:
        return f"/registry/nodeportallocations/{port}"

    async def _claim(self, key: str, owner: str) -> bool:
        try:
            await self.store.create(
                key, {"metadata": {"name": key.rsplit("/", 1)[-1]}, "owner": owner}
            )
        except KeyExists:
            return False
        return True

    async def allocate_ip(self, requested: str, owner: str, errs: FieldErrors) -> str | None:
        if requested:
            try:
                ip = ipaddress.ip_address(requested)
            except ValueError:
                errs.invalid("spec.clusterIPs[0]", requested, "must be a valid IP address")
                return None
            if ip not in self.network:
                errs.invalid(
                    "spec.clusterIPs[0]",
                    requested,
                    f"failed to allocate IP {requested}: the provided IP ({requested}) is not in the valid range. "
                    f"The range of valid IPs is {self.network}",
                )
                return None
            if not await self._claim(self._ip_key(requested), owner):
                errs.invalid(
                    "spec.clusterIPs[0]",
                    requested,
                    f"failed to allocate IP {requested}: provided IP is already allocated",
                )
                return None
            return requested
        for _ in range(_ATTEMPTS):
            candidate = str(ipaddress.ip_address(random.randint(self._low, self._high)))
            if await self._claim(self._ip_key(candidate), owner):
                return candidate
        errs.invalid("spec.clusterIPs", "", "failed to allocate a serviceIP: range is full")
        return None

    async def allocate_node_port(
        self, requested: int, owner: str, path: str, errs: FieldErrors
    ) -> int | None:
        low, high = NODE_PORT_RANGE
        if requested:
            if not low <= requested <= high:
                errs.invalid(
                    path,
                    requested,
                    f"provided port is not in the valid range. The range of valid ports is {low}-{high}",
                )
                return None
            if not await self._claim(self._port_key(requested), owner):
                errs.invalid(path, requested, "provided port is already allocated")
                return None
            return requested
        for _ in range(_ATTEMPTS):
            candidate = random.randint(low, high)
            if await self._claim(self._port_key(candidate), owner):
                return candidate
        errs.invalid(path, 0, "failed to allocate a nodePort: range is full")
        return None

    async def release_ip(self, ip: str) -> None:
        if ip and ip != "None":
            try:
                await self.store.delete(self._ip_key(ip))
            except KeyNotFound:
                pass

    async def release_node_port(self, port: int) -> None:
        if port:
            try:
                await self.store.delete(self._port_key(port))
            except KeyNotFound:
                pass

    async def allocate_for_service(self, svc: dict, owner: str) -> None:  # type: ignore[type-arg]
        """Assign spec.clusterIP(s) and node ports of a new Service (in place)."""
        errs = FieldErrors()
        spec = svc.setdefault("spec", {})
        svc_type = spec.get("type", "ClusterIP")
        claimed_ip: str | None = None
        if svc_type != "ExternalName":
            requested = spec.get("clusterIP") or ((spec.get("clusterIPs") or [""])[0])
            if requested == "None":
                spec["clusterIP"], spec["clusterIPs"] = "None", ["None"]
            else:
                claimed_ip = await self.allocate_ip(requested or "", owner, errs)
                if claimed_ip:
                    spec["clusterIP"], spec["clusterIPs"] = claimed_ip, [claimed_ip]
            family = "IPv6" if self.network.version == 6 else "IPv4"
            spec.setdefault("ipFamilies", [family])
            spec.setdefault("ipFamilyPolicy", "SingleStack")
        claimed_ports: list[int] = []
        if svc_type in ("NodePort", "LoadBalancer"):
            for i, port in enumerate(spec.get("ports") or []):
                if not isinstance(port, dict):
                    continue
                got = await self.allocate_node_port(
                    int(port.get("nodePort") or 0), owner, f"spec.ports[{i}].nodePort", errs
                )
                if got:
                    port["nodePort"] = got
                    claimed_ports.append(got)
        if errs.causes:
            if claimed_ip:
                await self.release_ip(claimed_ip)
            for port_number in claimed_ports:
                await self.release_node_port(port_number)
            errs.raise_if_any("Service", svc.get("metadata", {}).get("name", ""))

    async def release_for_service(self, svc: dict) -> None:  # type: ignore[type-arg]
        spec = svc.get("spec") or {}
        for ip in spec.get("clusterIPs") or [spec.get("clusterIP", "")]:
            await self.release_ip(ip or "")
        for port in spec.get("ports") or []:
            if isinstance(port, dict):
                await self.release_node_port(int(port.get("nodePort") or 0))


_NODE_PORT_TYPES = ("NodePort", "LoadBalancer")


def _node_ports(spec: dict) -> set[int]:  # type: ignore[type-arg]
    return {
        int(p["nodePort"])
        for p in spec.get("ports") or []
        if isinstance(p, dict) and p.get("nodePort")
    }


def _cluster_ips(spec: dict) -> set[str]:  # type: ignore[type-arg]
    ips = set(spec.get("clusterIPs") or []) | {spec.get("clusterIP") or ""}
    return {ip for ip in ips if ip and ip != "None"}


class ServiceUpdate:
    """Allocation changes of one Service update: claimed before the write (released again if
    the write fails), and the old values released only after it succeeded."""

    def __init__(self, allocators: Allocators) -> None:
        self.allocators = allocators
        self.claimed_ips: list[str] = []
        self.claimed_ports: list[int] = []
        self.stale_ips: set[str] = set()
        self.stale_ports: set[int] = set()

    async def prepare(self, new: dict, old: dict, owner: str) -> None:  # type: ignore[type-arg]
        spec, old_spec = new.setdefault("spec", {}), old.get("spec") or {}
        new_type, old_type = spec.get("type", "ClusterIP"), old_spec.get("type", "ClusterIP")
        errs = FieldErrors()
        if new_type == "ExternalName":
            for field in ("clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"):
                spec.pop(field, None)
        elif (
            old_type == "ExternalName"
            and not _cluster_ips(spec)
            and spec.get("clusterIP") != "None"
        ):
            ip = await self.allocators.allocate_ip("", owner, errs)
            if ip:
                self.claimed_ips.append(ip)
                spec["clusterIP"], spec["clusterIPs"] = ip, [ip]
                spec.setdefault("ipFamilies", ["IPv6" if ":" in ip else "IPv4"])
                spec.setdefault("ipFamilyPolicy", "SingleStack")
        self.stale_ips = _cluster_ips(old_spec) - _cluster_ips(spec)
        old_ports = _node_ports(old_spec)
        if new_type in _NODE_PORT_TYPES:
            for i, port in enumerate(spec.get("ports") or []):
                if not isinstance(port, dict):
                    continue
                wanted = int(port.get("nodePort") or 0)
                if wanted and wanted in old_ports:
                    continue
                got = await self.allocators.allocate_node_port(
                    wanted, owner, f"spec.ports[{i}].nodePort", errs
                )
                if got:
                    port["nodePort"] = got
                    self.claimed_ports.append(got)
        elif old_type in _NODE_PORT_TYPES:
            # kube's dropTypeDependentFields: leaving NodePort clears the allocated values.
            for port in spec.get("ports") or []:
                if isinstance(port, dict) and port.get("nodePort") in old_ports:
                    port.pop("nodePort")
        self.stale_ports = old_ports - _node_ports(spec)
        if errs.causes:
            await self.rollback()
            errs.raise_if_any("Service", new.get("metadata", {}).get("name", ""))

    async def rollback(self) -> None:
        for ip in self.claimed_ips:
            await self.allocators.release_ip(ip)
        for port in self.claimed_ports:
            await self.allocators.release_node_port(port)

    async def commit(self) -> None:
        for ip in self.stale_ips:
            await self.allocators.release_ip(ip)
        for port in self.stale_ports:
            await self.allocators.release_node_port(port)
