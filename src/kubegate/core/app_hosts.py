"""Host names of the per-service origin mode (``--apps-domain``). Pure.

Each service port gets its own origin, ``<port>--<service>--<namespace>.<apps-domain>``, so
a web app runs at ``/`` with no proxy prefix and cannot read another app's (or kubegate's)
cookies and storage — the way Teleport's App Access isolates apps by subdomain. The label
is read as: port (a port name or number, which never contains ``--``) before the first
``--``, namespace after the last ``--``, service in between. A service name may contain
``--``; a namespace that does cannot be addressed (:func:`app_host` returns None, and the
index shows no app link). The whole label must fit DNS's 63 characters.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from kubegate.core.names import is_dns1123_label, is_valid_port_name

__all__ = ["AppTarget", "app_host", "host_without_port", "is_valid_apps_domain", "parse_app_host"]

SEPARATOR: Final = "--"
MAX_LABEL: Final = 63


@dataclass(frozen=True, slots=True)
class AppTarget:
    namespace: str
    service: str
    port: str  # a port name or number, as a proxy id carries it


def app_host(target: AppTarget, apps_domain: str) -> str | None:
    """``<port>--<service>--<namespace>.<apps-domain>``, or None when it cannot be one label."""
    if SEPARATOR in target.namespace or not _valid_parts(target):
        return None
    label = SEPARATOR.join((target.port, target.service, target.namespace))
    if len(label) > MAX_LABEL:
        return None
    return f"{label}.{apps_domain}"


def parse_app_host(host: str, apps_domain: str) -> AppTarget | None:
    """The target an app host names (``host`` may carry ``:port``; case is ignored), or
    None when ``host`` is not a well-formed app host under ``apps_domain``."""
    name = host_without_port(host).lower().rstrip(".")
    suffix = "." + apps_domain.lower()
    if not name.endswith(suffix):
        return None
    label = name[: -len(suffix)]
    if not label or "." in label or len(label) > MAX_LABEL:
        return None
    port, sep, rest = label.partition(SEPARATOR)
    service, sep2, namespace = rest.rpartition(SEPARATOR)
    if not (sep and sep2):
        return None
    target = AppTarget(namespace=namespace, service=service, port=port)
    return target if _valid_parts(target) else None


def host_without_port(host: str) -> str:
    """``host`` from ``host[:port]`` (an IPv6 literal keeps its brackets)."""
    if host.startswith("["):
        return host[: host.find("]") + 1] if "]" in host else host
    return host.partition(":")[0]


def is_valid_apps_domain(domain: str) -> bool:
    """A DNS name of at least two labels (``apps.localhost``), each a DNS-1123 label."""
    labels = domain.split(".")
    return len(labels) >= 2 and all(not is_dns1123_label(label) for label in labels)


def _valid_parts(target: AppTarget) -> bool:
    if is_dns1123_label(target.namespace) or is_dns1123_label(target.service):
        return False
    port = target.port
    if port.isdigit():
        return not port.startswith("0") and 1 <= int(port) <= 65535
    return not is_valid_port_name(port)
