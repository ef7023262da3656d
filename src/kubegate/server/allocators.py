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
