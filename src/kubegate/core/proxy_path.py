"""The path a proxy request is forwarded to, and the paths the proxy answers with itself.

Kube decodes the sub-path after ``…/proxy``, joins it with Go's ``path.Join`` (collapsing
``//``, dropping ``.``, resolving ``..``), keeps a trailing slash and re-escapes it. That turns
``%2F`` into a real separator, so a backend can never be sent an encoded slash. kubegate keeps
kube's cleaning and, like kube, reads ``%2F`` as a separator (the official clients encode
the ``path`` argument's slashes that way), but decodes nothing else:

* an encoded slash splits segments exactly as ``/`` does, before cleaning, so it can neither
  hide a ``..`` nor reach the backend; every other escape is kept **raw**, exactly as the
  client percent-encoded it (``%3F``, ``%25`` reach the backend as sent; the hex case is kept). The request was routed and
  authorized from the structural part of the path alone (core.requestinfo), so nothing
  here can change which backend is reached: the tail is opaque (security.md §2.4).
* a segment is a dot segment when it reads ``.`` or ``..`` once ``%2E`` is decoded (RFC
  3986 §2.3: an encoded unreserved character is the same character), so ``%2e%2e`` cannot
  smuggle a ``..`` past the cleaning. ``..`` pops one segment and is dropped at the root:
  the result never climbs above the backend's ``/`` (A22). Double encoding (``%252e``) is
  data, not a dot.
* empty segments collapse (no ``//`` reaches the backend); the trailing slash is kept.
* characters that may not appear raw in a path (space, ``"``, ``<``, ``\\``, ``[``, non-ASCII,
  controls …) are percent-encoded; a ``%`` not followed by two hex digits is refused, and so
  is NUL, raw or ``%00`` (400 :class:`PathNotAllowed`).

``backend_path`` is idempotent on its own output, always starts with ``/`` and never contains
a dot segment. The HTTP layer hands the request target over as latin-1 text, so a character
below U+0100 stands for one byte and is escaped as that byte.
"""

from __future__ import annotations

import re
import string
from typing import Final

from kubegate.core.proxy_target import ProxyError
from kubegate.core.requestinfo import PathError, parse_request_info

__all__ = [
    "PathNotAllowed",
    "backend_path",
    "clean_path",
    "proxy_prefix",
    "redirect_for_root",
]

# RFC 3986 pchar minus '%' (handled as escapes): unreserved, sub-delims, ':' and '@'.
_PCHAR: Final = frozenset(string.ascii_letters + string.digits + "-._~" + "!$&'()*+,;=" + ":@")
_ESCAPE_RE: Final = re.compile(r"%[0-9A-Fa-f]{2}")
_ENCODED_DOT_RE: Final = re.compile(r"%2[eE]")
_ENCODED_SLASH_RE: Final = re.compile(r"%2[fF]")  # %2E is "." (RFC 3986 §2.3)
_REDIRECT_METHODS: Final = frozenset({"GET", "HEAD"})


class PathNotAllowed(ProxyError):
    """A proxy sub-path that cannot be forwarded unambiguously (400 BadRequest)."""

    def __init__(self, message: str) -> None:
        super().__init__(400, "BadRequest", message)


def backend_path(raw_subpath: str) -> str:
    """The path to send to the backend for the raw sub-path after ``…/proxy``.

    ``raw_subpath`` is RequestInfo.subpath: '' or a still percent-encoded path starting
    with '/'. '' (``…/proxy`` and ``…/proxy/``) is ``/``.
    """
    if raw_subpath and not raw_subpath.startswith("/"):
        raise ValueError("a proxy sub-path is '' or starts with '/'")
    return clean_path(_ENCODED_SLASH_RE.sub("/", raw_subpath) or "/")


def clean_path(raw_path: str) -> str:
    """Remove dot segments and empty segments from a raw absolute path, never above '/'.

    Shared with Location rewriting so a redirect cannot climb out of the proxy prefix.
    """
    segments: list[str] = []
    for raw in raw_path.split("/"):
        if raw == "":
            continue
        segment = _escape_segment(raw)
        dots = _ENCODED_DOT_RE.sub(".", segment)
        if dots == "..":
            if segments:
                segments.pop()
        elif dots != ".":
            segments.append(segment)
    if not segments:
        return "/"
    trailing = "/" if raw_path.endswith("/") else ""
    return "/" + "/".join(segments) + trailing


def _escape_segment(raw: str) -> str:
    out: list[str] = []
    index = 0
    length = len(raw)
    while index < length:
        char = raw[index]
        if char in _PCHAR:
            out.append(char)
        elif char == "%":
            escape = raw[index : index + 3]
            if not _ESCAPE_RE.fullmatch(escape):
                raise PathNotAllowed("invalid percent-encoding in the proxy path")
            if escape == "%00":
                raise PathNotAllowed("NUL is not allowed in the proxy path")
            out.append(escape)
            index += 3
            continue
        elif char == "\x00":
            raise PathNotAllowed("NUL is not allowed in the proxy path")
        else:
            data = bytes([ord(char)]) if ord(char) < 0x100 else char.encode("utf-8", "replace")
            out.append("".join(f"%{byte:02X}" for byte in data))
        index += 1
    return "".join(out)


def redirect_for_root(method: str, raw_path: str, raw_query: str, is_upgrade: bool) -> str | None:
    """The Location of kube's 301 for ``GET|HEAD …/proxy`` without a slash, else None.

    Mirrors proxyRedirectsforRootPath: only GET and HEAD (since 2021), never an upgrade,
    only when the backend path is empty (the request ends at ``…/proxy``). The Location is
    the request's own raw path plus ``/`` and the raw query: a path, no scheme or host, so it
    cannot become an open redirect.
    """
    if is_upgrade or method.upper() not in _REDIRECT_METHODS or raw_path.endswith("/"):
        return None
    try:
        info = parse_request_info(method, raw_path, raw_query)
    except PathError:
        return None
    if info.subresource != "proxy" or info.subpath or not raw_path.startswith("/"):
        return None
    return f"{raw_path}/?{raw_query}" if raw_query else f"{raw_path}/"


def proxy_prefix(raw_path: str, raw_subpath: str) -> str:
    """The raw ``…/{resource}/{id}/proxy`` part of a request path (no trailing slash).

    Used for X-Forwarded-Prefix and Location rewriting; ``raw_path`` is the raw request path
    and ``raw_subpath`` its RequestInfo.subpath.
    """
    if not raw_path.endswith(raw_subpath):
        raise ValueError("the sub-path is not the end of the request path")
    prefix = raw_path[: len(raw_path) - len(raw_subpath)]
    if not raw_subpath and prefix.endswith("/proxy/"):
        prefix = prefix[:-1]
    if not prefix.endswith("/proxy") or not prefix.startswith("/") or prefix.startswith("//"):
        raise ValueError(f"not a proxy request path: {raw_path!r}")
    return prefix
