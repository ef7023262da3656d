"""The page shell every kubegate HTML page shares: header, inline CSS, security headers.

Pages are rendered server-side as plain HTML with no external requests, so they work
offline and under a strict Content-Security-Policy: the only style is one inline
``<style>`` block carrying a per-response nonce, and scripts (optional, progressive
enhancement only) carry the same nonce. Every value that did not come from kubegate's own
source code must go through :func:`escape` before it is placed in a page.

Typical use::

    nonce = new_nonce()
    html = render_page("Services", body, user=ctx.user.name, nonce=nonce)
    await response.send(200, page_headers(nonce) + [("audit-id", ...)], html)

or simply ``await send_page(response, 200, "Services", body, user=...)``.
"""

from __future__ import annotations

import html
import secrets

from kubegate.http.types import Headers, Request, ResponseWriter

HTML_TYPE = "text/html; charset=utf-8"


def escape(value: object) -> str:
    """HTML-escape any value for element content *and* quoted attribute values."""
    return html.escape(str(value), quote=True)


def wants_html(request: Request) -> bool:
    """A browser navigation: a GET or HEAD whose Accept names ``text/html`` (kubectl and
    curl send ``application/json, */*`` or ``*/*``, so they keep the API's answers)."""
    return request.method in ("GET", "HEAD") and "text/html" in (request.header("accept") or "")


def new_nonce() -> str:
    """A fresh CSP nonce (128 bits, URL-safe base64), one per response."""
    return secrets.token_urlsafe(16)


def content_security_policy(nonce: str, *, scripts: bool = False) -> str:
    """The policy for kubegate's own pages: nothing but our nonce-tagged style (and script)."""
    script = f" script-src 'nonce-{nonce}';" if scripts else ""
    return (
        f"default-src 'none'; style-src 'nonce-{nonce}';{script} img-src 'self' data:; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    )


def page_headers(nonce: str | None, *, scripts: bool = False) -> Headers:
    """Response headers for an HTML page rendered with ``nonce`` (None: no CSP header)."""
    headers: Headers = [
        ("content-type", HTML_TYPE),
        ("cache-control", "no-store"),
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "same-origin"),
        ("x-frame-options", "DENY"),
    ]
    if nonce is not None:
        headers.append(("content-security-policy", content_security_policy(nonce, scripts=scripts)))
    return headers


def _nonce_attr(nonce: str | None) -> str:
    return f' nonce="{escape(nonce)}"' if nonce else ""


def render_header(user: str | None) -> str:
    """The top bar: the kubegate name, and who is signed in with a logout button."""
    account = ""
    if user is not None:
        # A plain form POST: logout changes state, so it must not be a GET link (a prefetch
        # or a cross-site <img> could log the user out); the server checks the Origin.
        account = (
            '<div class="account">'
            f'<span class="user" title="signed in as">{escape(user)}</span>'
            '<form method="post" action="/logout" class="logout">'
            '<button type="submit">Log out</button></form></div>'
        )
    return (
        '<header class="top"><a class="brand" href="/">'
        '<span class="logo" aria-hidden="true">&#9096;</span>kubegate</a>'
        f"{account}</header>"
    )


def render_page(
    title: str,
    body: str,
    *,
    user: str | None = None,
    nonce: str | None = None,
    script: str = "",
    head: str = "",
) -> bytes:
    """A complete HTML document: ``body`` is trusted HTML (escape its values first),
    ``title`` and ``user`` are escaped here; ``script`` (trusted JS) is inlined with the nonce;
    ``head`` is trusted markup added to ``<head>`` (e.g. a ``<meta http-equiv=refresh>``)."""
    script_tag = f"<script{_nonce_attr(nonce)}>{script}</script>" if script else ""
    document = (
        "<!doctype html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="color-scheme" content="light dark">'
        '<meta name="referrer" content="same-origin">'
        # An inline icon stops the browser from asking for /favicon.ico.
        '<link rel="icon" href="data:,">'
        f"<title>{escape(title)} · kubegate</title>"
        f"<style{_nonce_attr(nonce)}>{STYLE}</style>{head}</head>"
        f"<body>{render_header(user)}"
        f'<main class="page">{body}</main>{script_tag}</body></html>\n'
    )
    return document.encode("utf-8")


async def send_page(
    response: ResponseWriter,
    status: int,
    title: str,
    body: str,
    *,
    user: str | None = None,
    script: str = "",
    head: str = "",
    extra: Headers | None = None,
) -> None:
    """Render and send a page with a fresh nonce and the page security headers; ``extra``
    headers replace page headers of the same name (the HTTP layer leaves the body out for
    HEAD and keeps its Content-Length)."""
    nonce = new_nonce()
    document = render_page(title, body, user=user, nonce=nonce, script=script, head=head)
    extra = extra or []
    replaced = {name for name, _ in extra}  # a page may tighten one (e.g. no-referrer)
    headers = [h for h in page_headers(nonce, scripts=bool(script)) if h[0] not in replaced]
    headers.extend(extra)
    await response.send(status, headers, document)


# One stylesheet for every page: system fonts, generous spacing, light/dark by the user's
# preference, tables that scroll sideways on narrow screens instead of squashing.
STYLE = """
:root{--bg:#f7f8fa;--fg:#1d232b;--muted:#5f6b7a;--card:#fff;--line:#dfe3e8;--accent:#2d62d6;
--accent-fg:#fff;--code:#eef1f5;--ok:#1b7f3b;--warn:#a15c00;--bad:#b42318;--shadow:0 1px 2px rgba(0,0,0,.06)}
@media (prefers-color-scheme:dark){:root{--bg:#111418;--fg:#e3e7ec;--muted:#98a3b1;--card:#191d23;
--line:#2c333c;--accent:#7aa2ff;--accent-fg:#0d1117;--code:#222831;--ok:#4cc27a;--warn:#e0a545;
--bad:#ff7b72;--shadow:none}}
*{box-sizing:border-box}
html{-webkit-text-size-adjust:100%}
body{margin:0;background:var(--bg);color:var(--fg);line-height:1.5;
font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
a{color:var(--accent);text-decoration:none}a:hover,a:focus{text-decoration:underline}
code,pre,kbd{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,"Liberation Mono",monospace;font-size:13px}
.top{display:flex;align-items:center;justify-content:space-between;gap:1rem;padding:.7rem 1.5rem;
background:var(--card);border-bottom:1px solid var(--line);box-shadow:var(--shadow)}
.brand{font-weight:650;font-size:1.1rem;color:var(--fg);display:flex;align-items:center;gap:.45rem}
.logo{color:var(--accent);font-size:1.3rem;line-height:1}
.account{display:flex;align-items:center;gap:.75rem;color:var(--muted);min-width:0}
.user{overflow:hidden;text-overflow:ellipsis;white-space:nowrap;max-width:40vw}
.logout{margin:0}
button,.button{font:inherit;font-size:.9rem;padding:.35rem .8rem;border-radius:6px;cursor:pointer;
border:1px solid var(--line);background:var(--bg);color:var(--fg)}
button:hover{border-color:var(--accent)}
button.primary{background:var(--accent);color:var(--accent-fg);border-color:var(--accent)}
.page{max-width:1100px;margin:0 auto;padding:1.5rem}
h1{font-size:1.5rem;margin:.2rem 0 1rem}h2{font-size:1.15rem;margin:2rem 0 .6rem}
h3{font-size:1rem;margin:1.2rem 0 .4rem}
.muted{color:var(--muted)}.small{font-size:.85rem}
.card{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:1rem 1.2rem;
margin:.8rem 0;box-shadow:var(--shadow)}
.table-wrap{overflow-x:auto;border:1px solid var(--line);border-radius:10px;background:var(--card);
box-shadow:var(--shadow)}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:.55rem .8rem;border-bottom:1px solid var(--line);vertical-align:top}
tr:last-child td{border-bottom:0}
th{font-size:.8rem;text-transform:uppercase;letter-spacing:.04em;color:var(--muted);font-weight:600}
.ports{display:flex;flex-wrap:wrap;gap:.35rem}
.port{display:inline-block;padding:.1rem .55rem;border-radius:999px;border:1px solid var(--line);
background:var(--bg);white-space:nowrap}
.badge{display:inline-block;padding:.05rem .5rem;border-radius:999px;font-size:.8rem;font-weight:600;
border:1px solid currentColor}
.ok{color:var(--ok)}.warn{color:var(--warn)}.bad{color:var(--bad)}
details{margin-top:.3rem}summary{cursor:pointer;color:var(--muted);font-size:.85rem}
.cmd{display:flex;align-items:flex-start;gap:.4rem;margin:.35rem 0}
.cmd code{display:block;flex:1;background:var(--code);padding:.35rem .55rem;border-radius:6px;
overflow-x:auto;white-space:pre;user-select:all}
.cmd .label{min-width:5.5rem;color:var(--muted);font-size:.8rem;padding-top:.4rem}
.copy{font-size:.75rem;padding:.2rem .5rem}
form.filter{display:flex;align-items:center;gap:.5rem;margin:0 0 1rem}
input[type=search],input[type=text],input[type=password]{font:inherit;padding:.4rem .6rem;
border:1px solid var(--line);border-radius:6px;background:var(--card);color:var(--fg);min-width:0}
form.filter input{flex:1;max-width:28rem}
.empty{padding:1.2rem;color:var(--muted)}
.error{color:var(--bad)}
ul.plain{list-style:none;padding:0;margin:.3rem 0}ul.plain li{padding:.15rem 0;overflow-wrap:anywhere}
.cluster-info h3{margin-top:0}
.port.app{border-style:dashed}
section.namespace{margin-bottom:1.5rem}
details.pods{margin-top:.8rem}
tr.svc:has(+ tr.more) td{border-bottom:0;padding-bottom:.2rem}
tr.more td{padding-top:0}
table.services{table-layout:fixed}
table.services th:nth-child(1){width:42%}table.services th:nth-child(3){width:8.5rem}
.cmd code{min-width:0}
@media (max-width:640px){.page{padding:1rem}.top{padding:.6rem 1rem}
th,td{padding:.45rem .55rem}.cmd{flex-wrap:wrap}.cmd .label{min-width:0}}
"""
