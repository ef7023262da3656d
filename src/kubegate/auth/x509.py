"""x509 client-certificate authentication: CN is the user, each O is a group (as kube).

The TLS layer already verified the chain against the client CA (CERT_OPTIONAL), so a
certificate that reaches here is trusted; ``ssl.getpeercert()`` returns {} for none.

A browser with the certificate installed presents it by itself, for any page's requests —
another site's form or WebSocket, a proxied page's script. Such a request carries
``Sec-Fetch-*`` headers (kubectl and other tools never send them), so it is marked as a
browser credential like basic auth sent by a browser: the app then applies the CSRF/CSWSH
and ambient-credential rules (server/browser_guard.py)."""

from __future__ import annotations

from typing import Any

from kubegate.auth.types import BROWSER_CREDENTIAL, UserInfo
from kubegate.http.types import Request


def user_from_peer_cert(peer_cert: dict[str, Any] | None) -> UserInfo | None:
    if not peer_cert:
        return None
    name = ""
    groups: list[str] = []
    for rdn in peer_cert.get("subject", ()):
        for key, value in rdn:
            if key == "commonName":
                name = value
            elif key == "organizationName":
                groups.append(value)
    if not name:
        return None
    return UserInfo(name=name, groups=tuple(groups))


class X509Authenticator:
    def authenticate(self, request: Request) -> UserInfo | None:
        user = user_from_peer_cert(request.peer_cert)
        if user is not None and any(name.startswith("sec-fetch-") for name, _ in request.headers):
            request.state[BROWSER_CREDENTIAL] = "x509"
        return user
