"""Cross-site request forgery and cross-site WebSocket hijacking rules (security.md §2.10).

Pure: header values in, the reason for a refusal (or None) out. The app applies them to
requests whose credential a browser may attach by itself — kubegate's session cookie, HTTP
basic credentials, and client certificates on requests a browser sent (``Sec-Fetch-*``) —
and to the login form; bearer tokens are never attached by a browser on a page's behalf,
so they are not checked.

A request is checked when it changes state (any method but GET, HEAD and OPTIONS) or asks
for an upgrade (a WebSocket handshake is a GET, and browsers let any page open one to any
origin, with the user's cookies and basic credentials: CSWSH). It passes when

- ``Sec-Fetch-Site`` (Fetch Metadata, sent by every current browser), if present, is
  ``same-origin`` or ``none`` (typed into the address bar) — ``same-site`` is refused too,
  since a sibling subdomain (another app's origin in ``--apps-domain`` mode) is exactly who
  must not ride the session; and
- ``Origin``, if present, is this server's own origin: the scheme of the connection and the
  ``Host`` the browser addressed, with default ports made explicit (RFC 6454). ``null``
  (sandboxed frames, some redirects) never matches.

With neither header: refused for upgrades and for credentials only browsers hold (the
session cookie); allowed for basic credentials on plain requests, because every browser
sends ``Origin`` or ``Sec-Fetch-*`` on a state-changing request, so a request with no
browser header at all comes from a tool (curl ``-u``), which nobody can forge on the user's
behalf (OWASP CSRF cheat sheet, "verifying origin with standard headers").
"""

from __future__ import annotations

from dataclasses import dataclass

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
ALLOWED_FETCH_SITES = frozenset({"same-origin", "none"})
_DEFAULT_PORTS = {"https": 443, "http": 80}
_BAD_AUTHORITY_CHARS = frozenset("/?#@\\ \t\r\n\x00")


@dataclass(frozen=True, slots=True)
class Origin:
    """A tuple origin (RFC 6454 §4): scheme and host lower-case, the port always explicit."""

    scheme: str
    host: str  # an IPv6 literal keeps its brackets
    port: int

    def __str__(self) -> str:
        if _DEFAULT_PORTS.get(self.scheme) == self.port:
            return f"{self.scheme}://{self.host}"
        return f"{self.scheme}://{self.host}:{self.port}"


def parse_origin(value: str) -> Origin | None:
    """The origin an ``Origin`` header names; None for ``null`` or anything malformed."""
    scheme, sep, authority = value.strip().partition("://")
    scheme = scheme.lower()
    if not sep or scheme not in _DEFAULT_PORTS:
        return None
    return _origin(scheme, authority)


def request_origin(host_header: str | None, tls: bool) -> Origin | None:
    """The origin a browser addressed to reach this request: the connection's scheme and the
    ``Host`` header's host and port (None without a usable Host)."""
    if not host_header:
        return None
    return _origin("https" if tls else "http", host_header.strip())


def _origin(scheme: str, authority: str) -> Origin | None:
    if not authority or _BAD_AUTHORITY_CHARS.intersection(authority):
        return None
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in authority):
        return None
    if authority.startswith("["):
        end = authority.find("]")
        if end < 0:
            return None
        host, rest = authority[: end + 1], authority[end + 1 :]
    else:
        host, colon, port = authority.partition(":")
        rest = colon + port
    if not host or host == "[]":
        return None
    if not rest or rest == ":":
        number = _DEFAULT_PORTS[scheme]
    else:
        digits = rest[1:]
        if rest[0] != ":" or not (digits.isascii() and digits.isdigit()) or len(digits) > 5:
            return None
        number = int(digits)
        if not 0 < number < 65536:
            return None
    return Origin(scheme, host.lower(), number)


def refusal(
    method: str,
    *,
    upgrade: bool,
    origin: str | None,
    fetch_site: str | None,
    fetch_metadata: bool,
    own: Origin | None,
    browser_only: bool,
) -> str | None:
    """Why this request must be refused with 403, or None when it may go on.

    ``origin`` and ``fetch_site`` are the ``Origin`` and ``Sec-Fetch-Site`` headers (None when
    absent); ``fetch_metadata`` says whether any ``Sec-Fetch-*`` header came; ``own`` is
    :func:`request_origin`; ``browser_only`` is set for credentials only a browser holds
    (the session cookie), for which a request without any browser header is suspicious too.
    """
    if not upgrade and method in SAFE_METHODS:
        return None
    site = fetch_site.strip().lower() if fetch_site is not None else None
    if site is not None and site not in ALLOWED_FETCH_SITES:
        return (
            f"cross-site request refused (Sec-Fetch-Site: {site[:40]}): a browser credential "
            "only works from kubegate's own pages"
        )
    if origin is not None:
        parsed = parse_origin(origin)
        if parsed is None or own is None or parsed != own:
            return (
                f"cross-origin request refused (Origin {origin[:200]!r} is not "
                f"{str(own) if own else 'this server'!r})"
            )
        return None
    if site is not None:
        return None  # same-origin or typed by the user, and no Origin to contradict it
    if upgrade or browser_only or fetch_metadata:
        what = "upgrade" if upgrade else f"{method} request"
        return (
            f"{what} refused: a browser credential needs a same-origin Origin or "
            "Sec-Fetch-Site header"
        )
    return None
