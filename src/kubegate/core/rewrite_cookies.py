"""``Set-Cookie`` from a proxied backend, scoped to its proxy prefix (RFC 6265 §5.2).

A backend thinks it lives at ``/``; through kubegate it lives under
``/api/v1/namespaces/{ns}/services/{id}/proxy``. Every other service, and kubegate itself,
share that origin, so its cookies must not spread over it:

* ``Path=/`` becomes ``Path=<prefix>/``, ``Path=/x`` becomes ``Path=<prefix>/x``; a path
  already under the prefix stays; every ``Path`` attribute is rewritten (the last one wins
  in a browser). A cookie without a ``Path`` (or with one not starting with ``/``, which a
  browser ignores) gets ``Path=<prefix>/``: its default path lies somewhere under the
  prefix anyway, and the whole prefix is the predictable choice;
* ``Domain`` is dropped: the cookie stays host-only, never shared with sibling hosts
  (security.md §2.10);
* a cookie named like one of kubegate's own (the session, the OIDC flow, the app-origin
  cookies) is dropped whole (cookie tossing; the header policy in core.proxy_headers does
  this too).

Everything else (name, value, ``Expires``, ``Max-Age``, ``Secure``, ``HttpOnly``,
``SameSite``, ``Partitioned``, unknown attributes) is relayed byte for byte. A ``__Host-``
cookie cannot carry a path other than ``/``: a browser refuses it once scoped, which is the
safe outcome (it would otherwise reach every service on the origin); apps that need
``__Host-`` cookies belong on their own origin (``--apps-domain``).
"""

from __future__ import annotations

from collections.abc import Set
from typing import Final

__all__ = ["scope_set_cookie"]

_DROPPED: Final = frozenset({"domain"})


def scope_set_cookie(
    value: str, *, prefix: str, kubegate_cookies: Set[str] = frozenset()
) -> str | None:
    """The ``Set-Cookie`` value to relay for a backend under ``prefix``; None drops it
    (one of ``kubegate_cookies``)."""
    pairs = value.split(";")
    # A nameless cookie ("Set-Cookie: __Host-kubegate_session") reads back as that name too.
    name = pairs[0].split("=", 1)[0].strip()
    if name in kubegate_cookies:
        return None
    out = [pairs[0]]
    has_path = False
    for attribute in pairs[1:]:
        key, eq, attr_value = attribute.partition("=")
        key_name = key.strip().lower()
        if key_name in _DROPPED:
            continue
        if key_name == "path":
            has_path = True
            path = attr_value.strip()
            if not eq or not path.startswith("/"):
                attribute = f" Path={prefix}/"
            elif not (path == prefix or path.startswith(prefix + "/")):
                attribute = f" Path={prefix}{path}"
        out.append(attribute)
    if not has_path:
        out.append(f" Path={prefix}/")
    return ";".join(out)
