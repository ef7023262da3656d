"""Discovery documents (legacy form, as kubectl's discovery client reads them):
``/api`` APIVersions, ``/apis`` APIGroupList, ``/api/v1`` and ``/apis/{g}/{v}`` APIResourceList,
and ``/version``."""

from __future__ import annotations

import platform
from typing import Any

from kubegate import __version__
from kubegate.api.resources import ResourceType, group_versions, resources_in

KUBE_COMPAT_VERSION = ("1", "37")


def api_versions(server_address: str) -> dict[str, Any]:
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [
            {"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}
        ],
    }


def api_group_list() -> dict[str, Any]:
    groups = []
    for group, version in group_versions():
        if not group:
            continue
        gv = {"groupVersion": f"{group}/{version}", "version": version}
        groups.append({"name": group, "versions": [gv], "preferredVersion": gv})
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def api_group(group: str) -> dict[str, Any] | None:
    for entry in api_group_list()["groups"]:
        if entry["name"] == group:
            return {"kind": "APIGroup", "apiVersion": "v1", **entry}
    return None


def _resource_entries(r: ResourceType) -> list[dict[str, Any]]:
    entry: dict[str, Any] = {
        "name": r.plural,
        "singularName": r.singular,
        "namespaced": r.namespaced,
        "kind": r.kind,
        "verbs": list(r.verbs),
    }
    if r.short_names:
        entry["shortNames"] = list(r.short_names)
    if r.categories:
        entry["categories"] = list(r.categories)
    entries = [entry]
    for sub, kind, verbs in r.subresources:
        sub_entry: dict[str, Any] = {
            "name": f"{r.plural}/{sub}",
            "singularName": "",
            "namespaced": r.namespaced,
            "kind": kind,
            "verbs": list(verbs),
        }
        if sub == "token":
            sub_entry["group"], sub_entry["version"] = "authentication.k8s.io", "v1"
        entries.append(sub_entry)
    return entries


def api_resource_list(group: str, version: str) -> dict[str, Any] | None:
    types = resources_in(group, version)
    if not types:
        return None
    resources: list[dict[str, Any]] = []
    for r in types:
        resources.extend(_resource_entries(r))
    gv = f"{group}/{version}" if group else version
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": gv,
        "resources": resources,
    }


def version_info() -> dict[str, str]:
    major, minor = KUBE_COMPAT_VERSION
    return {
        "major": major,
        "minor": minor,
        "gitVersion": f"v{major}.{minor}.0-kubegate.{__version__}",
        "gitCommit": "",
        "gitTreeState": "clean",
        "buildDate": "",
        "goVersion": f"python{platform.python_version()}",
        "compiler": "cpython",
        "platform": f"{platform.system().lower()}/{platform.machine()}",
    }
