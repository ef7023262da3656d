"""What a browser may reach with an ambient credential, and where kubegate may send it.

Pure rules for browser access (security.md §2.7, §2.10):

- **Ambient credentials** — the session cookie, and basic credentials or a client
  certificate a browser attached by itself — reach only the proxy subresources of services,
  pods and nodes (nodes: reading only), and kubegate's own pages (``/``, ``/login``,
  ``/logout``, ``/oauth2/callback``, anything under ``/-/``).
  Proxied pages run on the gateway's origin, so their scripts can send the user's cookie to
  any path; this keeps those scripts away from the rest of the API (Secrets, writes).
- **Redirect targets** from user input (``/login?then=``) must stay on this origin: a local
  absolute path, checked both as written and once percent-decoded, and by resolving it the
  way a browser would (``urljoin``) — not by a string prefix (oauth2-proxy CVE-2020-11053,
  mod_auth_openidc #453).
"""

from __future__ import annotations

from urllib.parse import quote, unquote, urljoin, urlsplit

from kubegate.core.requestinfo import RequestInfo

KUBEGATE_PAGES = frozenset({"/", "/login", "/logout", "/oauth2/callback"})
PAGE_PREFIX = "/-/"
LOGIN_PATH = "/login"
PROXY_RESOURCES = frozenset({"services", "pods", "nodes"})
MAX_REDIRECT_TARGET = 4096
_PROBE_ORIGIN = "https://kubegate.invalid"


def is_kubegate_page(path: str) -> bool:
    """A page kubegate itself serves to browsers (not the API, not a backend)."""
    return path in KUBEGATE_PAGES or path.startswith(PAGE_PREFIX)


def ambient_may_reach(info: RequestInfo, *, upgrade: bool = False) -> bool:
    """Whether a request authenticated by an ambient browser credential may go on.

    ``nodes/{n}/proxy`` is the kubelet's API, where ``POST /run/…`` and the ``exec``,
    ``attach`` and ``portforward`` upgrades run commands in any pod of the node
    (security.md §1.11): an ambient credential may only read it (GET/HEAD, no upgrade), or
    any proxied page's script could run commands with an administrator's session.
    """
    if info.is_resource_request:
        if info.subresource != "proxy" or info.resource not in PROXY_RESOURCES or not info.name:
            return False
        return info.resource != "nodes" or (info.verb == "get" and not upgrade)
    return is_kubegate_page(info.path)


def _unsafe(text: str) -> bool:
    if not text.startswith("/") or text.startswith(("//", "/\\")):
        return True
    return any(c == "\\" or ord(c) < 0x21 or ord(c) == 0x7F for c in text)


def local_redirect_target(value: str | None) -> str | None:
    """``value`` if it is safe to redirect a browser to on this origin, else None.

    Safe: a path starting with a single ``/`` (optionally with a query), with no backslash,
    whitespace or control character — neither as written nor once percent-decoded (``%5C``,
    ``%09``, ``%2F%2F``) — that a browser resolves against this origin to this origin.
    """
    if not value or len(value) > MAX_REDIRECT_TARGET:
        return None
    if _unsafe(value) or _unsafe(unquote(value)):
        return None
    if "#" in value:
        return None  # fragments are the browser's business; keep targets plain
    joined = urlsplit(urljoin(_PROBE_ORIGIN + "/", value))
    probe = urlsplit(_PROBE_ORIGIN)
    if (joined.scheme, joined.netloc) != (probe.scheme, probe.netloc):
        return None
    return value


def login_location(path: str, query: str) -> str:
    """Where an unauthenticated browser is sent: the login page, then back to this request."""
    target = path + (f"?{query}" if query else "")
    if local_redirect_target(target) is None or path == LOGIN_PATH:
        return LOGIN_PATH
    return f"{LOGIN_PATH}?then={quote(target, safe='')}"


def browser_navigation(
    method: str, accept: str | None, authorization: str | None, upgrade: bool
) -> bool:
    """A browser loading a page (a GET asking for HTML, no credential of its own): when it
    is not authenticated it is sent to the login page instead of getting a 401 Status."""
    return (
        method == "GET"
        and not upgrade
        and authorization is None
        and accept is not None
        and "text/html" in accept.lower()
    )
