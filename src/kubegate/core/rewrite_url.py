"""The one URL rule behind HTML and CSS rewriting: which URLs move under the proxy prefix.

A page served through ``…/{id}/proxy/`` was written for the root of its own host. A URL in
it that points at that host must move under the prefix, everything else must stay:

* a root-relative path (``/static/app.js``) → ``<prefix>/static/app.js``;
* an absolute URL whose scheme, host and port are the backend's as kubegate addressed it (the
  ``Host`` header it sent) or kubegate's own public origin (a backend that built absolute URLs
  from ``X-Forwarded-Host``) → the path under the prefix (``http://10.0.0.5:8080/x`` →
  ``<prefix>/x``); the same for a network-path reference (``//10.0.0.5:8080/x``);
* relative references (``app.js``, ``../x``, ``?q``, ``#top``, ``''``), other hosts
  (``https://cdn.example/x``, ``//cdn.example/x``) and other schemes (``data:``,
  ``javascript:``, ``mailto:``) stay as they are; a path that already starts with the
  prefix (on a segment boundary) is not prefixed twice.

URLs are read the way a browser's URL parser reads them (WHATWG): leading and trailing C0
controls and spaces are ignored, tabs and newlines anywhere are dropped, ``\\`` counts as
``/`` in http(s) URLs, and dot segments (also ``%2e``) are resolved before the prefix is
added, so ``/../x`` becomes ``<prefix>/x`` as the browser would have resolved ``/x``.
The result is a plain string: escaping it for HTML or CSS is the caller's job. Input text
may carry lone surrogates (U+DC80-U+DCFF) standing for raw non-ASCII bytes; they are kept.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Final

__all__ = ["UrlRule", "remove_dot_segments"]

_DEFAULT_PORTS: Final = {"http": 80, "https": 443}
_SCHEME_RE: Final = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*):")
# Anything that takes a root-relative URL off the fast path.
_NEEDS_CARE_RE: Final = re.compile(r"[\x00-\x20\\]|/\.|/%2[eE]")
_TAB_NEWLINE_RE: Final = re.compile(r"[\t\n\r]")
_C0_SPACE: Final = "".join(chr(c) for c in range(0x21))
_SAFE_PREFIX_RE: Final = re.compile(r"(?:/[A-Za-z0-9._~%:@!$*+,;=-]+)*")

Authority = tuple[str, str, int]  # (scheme, lower-case host, port)


@dataclass(frozen=True, slots=True)
class UrlRule:
    """The rewriting rule of one response: the prefix and the origins that mean "here"."""

    prefix: str  # the raw ``…/{id}/proxy`` path, no trailing slash
    origins: frozenset[Authority]  # the backend's, and kubegate's public origin
    public: frozenset[Authority] = frozenset()  # the subset that is kubegate's own origin

    @classmethod
    def build(
        cls,
        prefix: str,
        *,
        backend_host: str,
        backend_scheme: str,
        public_host: str | None = None,
        public_scheme: str = "https",
    ) -> UrlRule:
        """A rule for ``prefix``; ``backend_host`` is the ``Host`` kubegate sent the backend,
        ``public_host`` the one the client sent kubegate (ignored when unparsable)."""
        if not _SAFE_PREFIX_RE.fullmatch(prefix) or not prefix:
            # The prefix ends up raw inside CSS and HTML: only path characters that need
            # no escaping in either may appear (kube's names and ids are far narrower).
            raise ValueError(f"unsafe proxy prefix {prefix!r}")
        origins: set[Authority] = set()
        backend = parse_authority(backend_host, backend_scheme)
        if backend is not None:
            origins.add(backend)
        public: set[Authority] = set()
        if public_host:
            own = parse_authority(public_host, public_scheme)
            if own is not None:
                origins.add(own)
                public.add(own)
        return cls(prefix, frozenset(origins), frozenset(public))

    def is_prefixed(self, path_etc: str) -> bool:
        """Whether a path (with any query or fragment) already lies under the prefix."""
        prefix = self.prefix
        if not path_etc.startswith(prefix):
            return False
        return len(path_etc) == len(prefix) or path_etc[len(prefix)] in "/?#"

    def rewrite(self, url: str) -> str | None:
        """The URL moved under the prefix, or None when it stays exactly as it is."""
        # Fast path: a plain root-relative path, the bulk of what pages contain.
        if url[:1] == "/" and url[1:2] not in ("/", "\\") and _NEEDS_CARE_RE.search(url) is None:
            return None if self.is_prefixed(url) else self.prefix + url
        text = _TAB_NEWLINE_RE.sub("", url.strip(_C0_SPACE))
        if not text:
            return None
        if text[0] in "/\\":
            slashes = len(text) - len(text.lstrip("/\\"))
            if slashes == 1:
                return self._under_prefix(text, keep_if_prefixed=True)
            # A network-path reference: the page's scheme (https on kubegate) applies.
            authority, rest = _split_authority(text[slashes:])
            found = _authority_any_scheme(authority, self.origins)
            if found is None:
                return None
            return self._under_prefix(rest, keep_if_prefixed=found in self.public)
        match = _SCHEME_RE.match(text)
        if match is None:
            return None  # a relative reference
        scheme = match.group(1).lower()
        if scheme not in _DEFAULT_PORTS:
            return None
        authority_text, rest = _split_authority(text[match.end() :].lstrip("/\\"))
        origin = parse_authority(authority_text, scheme)
        if origin is None or origin not in self.origins:
            return None
        return self._under_prefix(rest, keep_if_prefixed=origin in self.public)

    def _under_prefix(self, path_etc: str, *, keep_if_prefixed: bool) -> str | None:
        cut = len(path_etc)
        for stop in "?#":
            index = path_etc.find(stop)
            if 0 <= index < cut:
                cut = index
        path = remove_dot_segments(path_etc[:cut].replace("\\", "/") or "/")
        result = path + path_etc[cut:]
        if self.is_prefixed(result):
            return None if keep_if_prefixed else result
        return self.prefix + result


def remove_dot_segments(path: str) -> str:
    """RFC 3986 §5.2.4 on an absolute path; ``%2e`` counts as ``.`` (as browsers read it)."""
    if "/." not in path and "%2e" not in path.lower():
        return path
    output: list[str] = []
    segments = path.split("/")[1:]
    for index, segment in enumerate(segments):
        dots = segment.replace("%2e", ".").replace("%2E", ".")
        last = index == len(segments) - 1
        if dots == "..":
            if output:
                output.pop()
            if last:
                output.append("")
        elif dots == ".":
            if last:
                output.append("")
        else:
            output.append(segment)
    return "/" + "/".join(output)


def parse_authority(text: str, scheme: str) -> Authority | None:
    """``host[:port]`` as (scheme, lower-case host, port); None when userinfo is present or
    the text is not a host a browser would accept."""
    if "@" in text or not text:
        return None
    if text.startswith("["):
        host, bracket, rest = text[1:].partition("]")
        if not bracket or (rest and not rest.startswith(":")):
            return None
        try:
            host = str(ipaddress.IPv6Address(host))
        except ValueError:
            return None
        port_text = rest[1:] if rest else ""
    elif text.count(":") > 1:  # a bare IPv6 address (a Host header built without brackets)
        try:
            host = str(ipaddress.IPv6Address(text))
        except ValueError:
            return None
        port_text = ""
    else:
        host, _, port_text = text.partition(":")
        host = host.lower().removesuffix(".")
    if not host:
        return None
    port = _DEFAULT_PORTS.get(scheme, 0)
    if port_text:
        if not port_text.isascii() or not port_text.isdigit() or int(port_text) > 65535:
            return None
        port = int(port_text)
    return (scheme, host, port)


def _authority_any_scheme(text: str, origins: frozenset[Authority]) -> Authority | None:
    """The origin a scheme-less authority names, trying each scheme the origins use."""
    for scheme in sorted({origin[0] for origin in origins}):
        parsed = parse_authority(text, scheme)
        if parsed is not None and parsed in origins:
            return parsed
    return None


def _split_authority(text: str) -> tuple[str, str]:
    """The authority (up to the first ``/``, ``\\``, ``?`` or ``#``) and the rest."""
    for index, char in enumerate(text):
        if char in "/\\?#":
            return text[:index], text[index:]
    return text, ""
