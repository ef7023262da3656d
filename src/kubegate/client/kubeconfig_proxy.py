"""The forward proxy a kubeconfig cluster is reached through: its ``proxy-url``, else the
environment's ``HTTPS_PROXY``/``HTTP_PROXY``/``NO_PROXY`` (rules in
:mod:`kubegate.core.forward_proxy`). Invalid values are refused with kubectl's message
rather than skipped: skipping a proxy would send the traffic somewhere the user did not mean.
A password in a proxy URL is never printed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping

from kubegate.core.forward_proxy import (
    ForwardProxy,
    ProxyURLError,
    parse_proxy_url,
    proxy_from_environment,
)

__all__ = ["ProxyURLError", "choose_proxy"]


def choose_proxy(
    cluster_name: str, proxy_url: str | None, server: str, env: Mapping[str, str]
) -> ForwardProxy | None:
    """The proxy for ``server``; ``ProxyURLError`` carries the whole line to print."""
    if proxy_url:
        try:
            return parse_proxy_url(proxy_url)
        except ProxyURLError as exc:
            raise ProxyURLError(
                f"error: invalid 'proxy-url' {_quote(_redacted(proxy_url))} for cluster "
                f"{_quote(cluster_name)}: {exc}"
            ) from None
    from_env = proxy_from_environment(server, env)
    if not from_env:
        return None
    try:
        return parse_proxy_url(from_env)
    except ProxyURLError as exc:
        name = "HTTPS_PROXY" if server.startswith("https:") else "HTTP_PROXY"
        raise ProxyURLError(
            f"error: invalid proxy address {_quote(_redacted(from_env))} (from {name}): {exc}"
        ) from None


def _redacted(url: str) -> str:
    """Go's ``URL.Redacted``: a password in the URL becomes ``xxxxx``."""
    return re.sub(r"^([a-zA-Z][a-zA-Z0-9+.-]*://[^/@:]*):[^/@]*@", r"\1:xxxxx@", url)


def _quote(text: str) -> str:
    """Go's ``%q`` for the printable strings a kubeconfig holds."""
    return json.dumps(text, ensure_ascii=False)
