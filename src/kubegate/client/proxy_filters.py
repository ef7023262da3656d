"""What ``kubegate proxy`` lets through: kubectl proxy's request filter, plus a browser guard.

Pure functions over values (no IO), in the order the local proxy applies them:

1. :func:`inspect_path` — the request path as kubectl's Go server sees it: percent-decoded
   (``%65xec`` is ``exec``), and redirected (307, Go's ServeMux) when it is not clean
   (``//api/…``, ``/./``, ``/../``). Malformed escapes and control characters are refused.
2. :func:`browser_refusal` — not in kubectl (security.md §1.13, A32): DNS-rebinding ``Host``
   headers and cross-site browser requests (``Origin``, ``Sec-Fetch-Site``) are refused.
3. :func:`token_presented` — the optional local-port token.
4. :class:`FilterRules` — kubectl's ``--accept-hosts``/``--accept-paths``/``--reject-paths``/
   ``--reject-methods`` (kubectl:pkg/proxy/proxy_server.go ``FilterServer``): comma-separated,
   unanchored regular expressions; an empty flag value is an empty list, which matches
   nothing. Rejected if the path matches a reject pattern or the method a reject-method
   pattern; else accepted only if the path matches an accept pattern and the host an
   accept-host pattern. kubegate checks the decoded path *and* its cleaned form (rejected if
   either matches a reject pattern, accepted only if both match an accept pattern).

One deliberate difference in host matching: kubectl strips the port with Go's
``SplitHostPort``, which also strips the brackets of ``[::1]:8001`` so that the default
``^\\[::1\\]$`` never matches (kubernetes#77496, never fixed); kubegate keeps the brackets,
so IPv6 loopback works with the default patterns.
"""

from __future__ import annotations

import hmac
import ipaddress
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final
from urllib.parse import unquote_to_bytes

__all__ = [
    "DEFAULT_ACCEPT_HOSTS",
    "DEFAULT_ACCEPT_PATHS",
    "DEFAULT_REJECT_METHODS",
    "DEFAULT_REJECT_PATHS",
    "TOKEN_HEADER",
    "BrowserSignals",
    "FilterRules",
    "InvalidPath",
    "PatternError",
    "RequestPath",
    "browser_refusal",
    "go_clean_path",
    "host_without_port",
    "inspect_path",
    "is_loopback_host",
    "redirect_body",
    "strip_api_prefix",
    "token_matches",
    "token_presented",
]

# kubectl:pkg/cmd/proxy/proxy.go defaults.
DEFAULT_ACCEPT_HOSTS: Final = r"^localhost$,^127\.0\.0\.1$,^\[::1\]$"
DEFAULT_ACCEPT_PATHS: Final = r"^.*"
DEFAULT_REJECT_PATHS: Final = r"^/api/.*/pods/.*/exec,^/api/.*/pods/.*/attach"
DEFAULT_REJECT_METHODS: Final = r"^$"

TOKEN_HEADER: Final = "x-kubegate-proxy-token"
SAFE_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})  # RFC 9110 §9.2.1

# A name no real deployment uses: an accept-hosts pattern that matches it matches anything an
# attacker can put in DNS, so it says nothing about which names are safe (rebinding guard).
_CANARY_HOST: Final = "kubegate-rebinding-canary.attacker.invalid"
_BAD_ESCAPE: Final = re.compile(r"%(?![0-9A-Fa-f]{2})")
_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f]")
_GO_END_OF_TEXT: Final = re.compile(r"(?<!\\)((?:\\\\)*)\\z")  # RE2's \z is Python's \Z
_UNCLEAN: Final = re.compile(r"//|/\.\.?(?:/|$)")


class PatternError(ValueError):
    """A flag's regular expression does not compile."""


class InvalidPath(ValueError):
    """A request path that cannot be decoded: answered 400."""


# -- kubectl's filter ---------------------------------------------------------------------


def compile_patterns(value: str, flag: str) -> tuple[re.Pattern[str], ...]:
    """kubectl's ``MakeRegexpArray``: split on ``,``; an empty value is an empty list."""
    if value == "":
        return ()
    patterns = []
    for part in value.split(","):
        try:
            patterns.append(re.compile(_GO_END_OF_TEXT.sub(r"\1\\Z", part)))
        except re.error as exc:
            raise PatternError(f"invalid {flag} regular expression {part!r}: {exc}") from exc
    return tuple(patterns)


def _matches(text: str, patterns: Sequence[re.Pattern[str]]) -> bool:
    return any(pattern.search(text) for pattern in patterns)


@dataclass(frozen=True, slots=True)
class FilterRules:
    accept_hosts: tuple[re.Pattern[str], ...]
    accept_paths: tuple[re.Pattern[str], ...]
    reject_paths: tuple[re.Pattern[str], ...]
    reject_methods: tuple[re.Pattern[str], ...]

    @classmethod
    def from_flags(
        cls,
        *,
        accept_hosts: str = DEFAULT_ACCEPT_HOSTS,
        accept_paths: str = DEFAULT_ACCEPT_PATHS,
        reject_paths: str = DEFAULT_REJECT_PATHS,
        reject_methods: str = DEFAULT_REJECT_METHODS,
    ) -> FilterRules:
        return cls(
            compile_patterns(accept_hosts, "--accept-hosts"),
            compile_patterns(accept_paths, "--accept-paths"),
            compile_patterns(reject_paths, "--reject-paths"),
            compile_patterns(reject_methods, "--reject-methods"),
        )

    def allows(self, method: str, paths: Sequence[str], host: str) -> bool:
        """kubectl's ``FilterServer.accept`` over every form of the path (see the module
        docstring); ``host`` is the Host header with its port removed."""
        if any(_matches(path, self.reject_paths) for path in paths):
            return False
        if _matches(method, self.reject_methods):
            return False
        return all(_matches(path, self.accept_paths) for path in paths) and _matches(
            host, self.accept_hosts
        )

    def vouches_for(self, host: str) -> bool:
        """Whether a *specific* accept-hosts pattern matches ``host``: the rebinding guard
        trusts names the user listed on purpose. A pattern that also matches an unrelated
        name, or ``host`` with an attacker's domain appended (unanchored end), vouches for
        nothing: it matches names an attacker can put in DNS."""
        extended = host + "." + _CANARY_HOST
        return any(
            pattern.search(host)
            and not pattern.search(_CANARY_HOST)
            and not pattern.search(extended)
            for pattern in self.accept_hosts
        )


def host_without_port(host_header: str) -> str:
    """The Host header less its port: ``localhost:8001`` -> ``localhost``,
    ``[::1]:8001`` -> ``[::1]`` (brackets kept, unlike Go's SplitHostPort)."""
    if host_header.startswith("["):
        end = host_header.find("]")
        if end > 0 and (end + 1 == len(host_header) or host_header[end + 1] == ":"):
            return host_header[: end + 1]
        return host_header
    name, colon, port = host_header.rpartition(":")
    if colon and ":" not in name and (port == "" or port.isdigit()):
        return name
    return host_header


# -- paths --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RequestPath:
    raw: str  # as received (still percent-encoded), forwarded as is
    decoded: str  # what kubectl's filter matches (Go's req.URL.Path)
    redirect: str | None  # the cleaned raw path, when the raw path is not clean


def inspect_path(raw: str) -> RequestPath:
    """Decode ``raw`` and decide whether Go's ServeMux would redirect it to a clean path.

    Like Go 1.22+, the *escaped* path is cleaned (so ``%2e%2e`` is forwarded, and the API
    server refuses it); unlike Go, the redirect target is not escaped a second time.
    """
    if "%" not in raw:
        decoded = raw
        if not raw.isascii() or _CONTROL.search(raw):
            decoded = _decode(raw)
    else:
        decoded = _decode(raw)
    redirect = None
    if _UNCLEAN.search(raw) or not raw.startswith("/"):
        cleaned = go_clean_path(raw)
        if cleaned != raw:
            redirect = cleaned
    return RequestPath(raw, decoded, redirect)


def _decode(raw: str) -> str:
    if _BAD_ESCAPE.search(raw):
        raise InvalidPath("invalid URL escape")
    try:
        data = unquote_to_bytes(raw.encode("latin-1"))
    except UnicodeEncodeError as exc:
        raise InvalidPath("invalid character in path") from exc
    text = data.decode("utf-8", "surrogateescape")
    if _CONTROL.search(text):
        # Python's `$` also matches before a final newline, Go's does not: no control
        # characters at all keeps the two regex dialects agreeing on every path.
        raise InvalidPath("control character in path")
    return text


def go_clean_path(path: str) -> str:
    """Go's ``net/http`` ``cleanPath``: ``path.Clean`` with a leading ``/`` and the trailing
    slash kept (``//a/./b/../c/`` -> ``/a/c/``)."""
    if path == "":
        return "/"
    if not path.startswith("/"):
        path = "/" + path
    out: list[str] = []
    for segment in path.split("/"):
        if segment in ("", "."):
            continue
        if segment == "..":
            if out:
                out.pop()
            continue
        out.append(segment)
    cleaned = "/" + "/".join(out)
    if path.endswith("/") and cleaned != "/":
        cleaned += "/"
    return cleaned


def path_forms(decoded: str) -> tuple[str, ...]:
    """The forms of a decoded path the filter checks: itself, and its clean form if other."""
    if "//" not in decoded and "/." not in decoded:
        return (decoded,)  # already clean (the common case)
    cleaned = go_clean_path(decoded)
    return (decoded,) if cleaned == decoded else (decoded, cleaned)


def strip_api_prefix(path: str, prefix: str) -> str | None:
    """kubectl's routing of the API handler at ``--api-prefix`` (always ending in ``/``).

    A prefix under ``/api`` is served as is; any other is stripped, keeping a leading ``/``
    (``stripLeaveSlash``). None: the path is outside the prefix (404).
    """
    if not path.startswith(prefix):
        return None
    if prefix.startswith("/api"):
        return path
    rest = path[len(prefix) :]
    return rest if rest.startswith("/") else "/" + rest


def redirect_body(location: str) -> bytes:
    """Go's ``http.Redirect`` body for GET and HEAD (307)."""
    escaped = (
        location.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&#34;")
        .replace("'", "&#39;")
    )
    return f'<a href="{escaped}">Temporary Redirect</a>.\n\n'.encode()


# -- the browser guard ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BrowserSignals:
    """The request headers only browsers send (None when absent)."""

    origin: str | None = None
    sec_fetch_site: str | None = None

    @property
    def present(self) -> bool:
        return self.origin is not None or self.sec_fetch_site is not None


def is_loopback_host(name: str) -> bool:
    """``localhost``, ``*.localhost`` (RFC 6761: never resolved by DNS) or a loopback IP."""
    name = name.lower().rstrip(".")
    if name == "localhost" or name.endswith(".localhost"):
        return True
    ip = _ip_literal(name)
    return ip is not None and ip.is_loopback


def _ip_literal(name: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    if name.startswith("[") and name.endswith("]"):
        name = name[1:-1]
    try:
        return ipaddress.ip_address(name)
    except ValueError:
        return None


def _trusted_name(name: str, vouched: Callable[[str], bool]) -> bool:
    """A Host name DNS rebinding cannot produce: an IP literal, a loopback name, or one the
    user named in a specific accept-hosts pattern."""
    return bool(name) and (_ip_literal(name) is not None or is_loopback_host(name) or vouched(name))


def browser_refusal(
    method: str,
    host_header: str,
    signals: BrowserSignals,
    *,
    upgrade: bool,
    local_only: bool,
    vouched: Callable[[str], bool],
) -> str | None:
    """Why a request must be refused (403), or None (security.md §1.13, A32).

    * **DNS rebinding**: an attacker's page on ``http://attacker.example:8001`` whose name
      now resolves to 127.0.0.1 is *same-origin* with the proxy, so only its ``Host`` gives
      it away. A Host name that is not trusted (see :func:`_trusted_name`) is refused on
      any request carrying browser headers, and — when the proxy listens on loopback or a
      Unix socket (``local_only``), where no remote client has a legitimate name for it —
      on state-changing methods and upgrades from anyone.
    * **Cross-site requests** (classic CSRF, which the Host check does not stop: a form on
      any site can POST to ``http://localhost:8001``): ``Sec-Fetch-Site`` ``cross-site`` or
      ``same-site`` (every other port of localhost is same-site), and an ``Origin`` that is
      not the proxy's own (the Host's host and port, or a loopback or vouched name on the
      same port), are refused. Requests typed or pasted into the address bar
      (``Sec-Fetch-Site: none``) and same-origin ones pass.
    """
    if (
        signals.present or (local_only and (upgrade or method not in SAFE_METHODS))
    ) and not _trusted_name(host_without_port(host_header).lower(), vouched):
        return (
            f"Host {host_header!r} is not a name this proxy trusts (DNS rebinding?); "
            "list it in --accept-hosts as an anchored pattern to allow it"
        )
    site = (signals.sec_fetch_site or "").lower()
    if site in ("cross-site", "same-site"):
        return f"{site} request refused (open the URL directly instead)"
    if signals.origin is not None and not _same_origin(signals.origin, host_header, vouched):
        return f"cross-origin request refused (Origin {signals.origin[:200]!r})"
    return None


def _same_origin(origin: str, host_header: str, vouched: Callable[[str], bool]) -> bool:
    scheme, sep, authority = origin.partition("://")
    if not sep or scheme.lower() != "http" or not authority or "/" in authority:
        return False  # "null", https:// (this proxy serves plain HTTP), garbage
    if authority.lower() == host_header.lower():
        return True
    origin_host = host_without_port(authority).lower()
    if _port_of(authority) != _port_of(host_header):
        return False
    return is_loopback_host(origin_host) or vouched(origin_host)


def _port_of(authority: str) -> str:
    host = host_without_port(authority)
    return authority[len(host) + 1 :] or "80"


# -- the local-port token ---------------------------------------------------------------------


def token_presented(headers: Sequence[tuple[str, str]]) -> str | None:
    """The token a caller presents: ``X-Kubegate-Proxy-Token``, else ``Authorization:
    Bearer``."""
    bearer = None
    for name, value in headers:
        if name == TOKEN_HEADER:
            return value.strip()
        if name == "authorization" and bearer is None:
            scheme, _, credentials = value.strip().partition(" ")
            if scheme.lower() == "bearer":
                bearer = credentials.strip()
    return bearer


def token_matches(expected: str, headers: Sequence[tuple[str, str]]) -> bool:
    """Constant-time comparison of the presented token with ``expected``."""
    presented = token_presented(headers)
    if presented is None:
        return False
    return hmac.compare_digest(presented.encode(), expected.encode())
