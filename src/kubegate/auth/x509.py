"""x509 client-certificate authentication: CN is the user, each O is a group (as kube).

The TLS layer already verified the chain against the client CA (CERT_OPTIONAL), so a
certificate that reaches here is trusted; ``ssl.getpeercert()`` returns {} for none."""

from __future__ import annotations

from typing import Any

from kubegate.auth.types import UserInfo
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
        return user_from_peer_cert(request.peer_cert)
