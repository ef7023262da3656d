"""The HTML of the login and logout pages, in the shared page shell (server/ui/layout.py).

Plain forms that work without JavaScript: username and password (when basic-auth users are
configured), a pasted token (always: the admin token, ServiceAccount tokens, static tokens
and OIDC ID tokens all work), and a link that starts the OIDC sign-in (when an issuer is
configured; a link, not a form, because the page's ``form-action 'self'`` would stop a form
from being redirected to the issuer). Every value from outside is escaped.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote, urlsplit

from kubegate.http.types import Headers, ResponseWriter
from kubegate.server.ui.layout import escape, new_nonce, page_headers, render_page

# A few rules the shared stylesheet does not have; carried by the page's own nonce.
_STYLE = """
.login{max-width:26rem;margin:2rem auto}
.login h1{text-align:center}
.login form{display:flex;flex-direction:column;gap:.7rem;margin:0}
.login label{display:flex;flex-direction:column;gap:.25rem;font-weight:600;font-size:.9rem}
.login input{width:100%}
.login button,.login .button{width:100%;padding:.5rem;text-align:center;display:block}
.login .button.primary{background:var(--accent);color:var(--accent-fg);border-color:var(--accent)}
.login .notice{border-left:3px solid var(--bad);padding:.4rem .7rem;margin:0 0 .8rem}
.login .info{border-left:3px solid var(--ok);padding:.4rem .7rem;margin:0 0 .8rem}
.login details summary{font-size:.9rem}
"""


@dataclass(frozen=True, slots=True)
class LoginOptions:
    passwords: bool  # basic-auth users are configured
    oidc_issuer: str = ""  # "" when OIDC is not configured


def _then_field(then: str) -> str:
    return f'<input type="hidden" name="then" value="{escape(then)}">'


def login_body(
    options: LoginOptions, *, then: str, error: str = "", info: str = "", username: str = ""
) -> str:
    parts = ['<div class="login"><h1>Sign in to kubegate</h1>']
    if error:
        parts.append(f'<p class="card notice" role="alert">{escape(error)}</p>')
    if info:
        parts.append(f'<p class="card info" role="status">{escape(info)}</p>')
    if options.oidc_issuer:
        host = urlsplit(options.oidc_issuer).hostname or options.oidc_issuer
        href = "/login?oidc=1" + (f"&then={quote(then, safe='')}" if then != "/" else "")
        parts.append(
            f'<div class="card"><a class="button primary" id="oidc-login" href="{escape(href)}">'
            f"Sign in with {escape(host)}</a></div>"
        )
    if options.passwords:
        parts.append(
            '<div class="card"><form method="post" action="/login" id="password-login">'
            f'{_then_field(then)}<input type="hidden" name="method" value="password">'
            '<label>User name<input type="text" name="username" autocomplete="username" '
            f'required autofocus value="{escape(username)}"></label>'
            '<label>Password<input type="password" name="password" '
            'autocomplete="current-password" required></label>'
            '<button class="primary" type="submit">Sign in</button></form></div>'
        )
    token_form = (
        '<form method="post" action="/login" id="token-login">'
        f'{_then_field(then)}<input type="hidden" name="method" value="token">'
        '<label>Token<input type="password" name="token" autocomplete="off" required '
        'placeholder="a bearer token (e.g. kubectl create token NAME)"></label>'
        '<button type="submit">Sign in with the token</button></form>'
    )
    if options.passwords or options.oidc_issuer:
        parts.append(
            f'<div class="card"><details><summary>Sign in with a token</summary>{token_form}'
            "</details></div>"
        )
    else:
        parts.append(f'<div class="card">{token_form}</div>')
    parts.append(
        '<p class="muted small">Signing in sets a cookie for this site. It reaches the proxied '
        "services and these pages only; use a token with kubectl for the rest of the API.</p>"
        "</div>"
    )
    return "".join(parts)


def logout_body(user: str | None) -> str:
    who = f" as <strong>{escape(user)}</strong>" if user else ""
    return (
        '<div class="login"><h1>Sign out</h1><div class="card">'
        f"<p>You are signed in{who}.</p>"
        '<form method="post" action="/logout" id="logout">'
        '<button class="primary" type="submit">Sign out</button></form></div></div>'
    )


def message_body(title: str, message: str) -> str:
    return (
        f'<div class="login"><h1>{escape(title)}</h1>'
        f'<p class="card notice" role="alert">{escape(message)}</p>'
        '<p><a class="button" href="/login">Back to sign-in</a></p></div>'
    )


async def send_login_page(
    response: ResponseWriter,
    status: int,
    title: str,
    body: str,
    *,
    extra: Headers | None = None,
) -> None:
    """Send one of these pages with the shell's security headers and our extra style."""
    nonce = new_nonce()
    style = f'<style nonce="{escape(nonce)}">{_STYLE}</style>'
    document = render_page(title, style + body, nonce=nonce)
    headers = page_headers(nonce)
    headers.extend(extra or ())
    await response.send(status, headers, document)
