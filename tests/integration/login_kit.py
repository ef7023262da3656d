"""What the browser sign-in tests share: users on file, and a browser-like client that keeps
kubegate's session cookie and sends the headers a browser would (Origin, Sec-Fetch-*), over
the proxy suite's raw HTTPS client against a real ``kubegate serve``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import bcrypt

from integration.proxy.harness import Backend, Cluster, Kubegate, Port, Response

PASSWORD = "pw-alice-Zq8#wonderland"
ALICE_TOKEN = "tok-alice-5b7c9d1e3f"
COOKIE = "__Host-kubegate_session"
FORM = ("Content-Type", "application/x-www-form-urlencoded")
EVIL = "https://evil.example"


def write_user_files(directory: Path) -> tuple[Path, Path]:
    """A basic-auth file (alice with a bcrypt hash; victim, for throttling) and a token file
    giving alice a bearer token too."""
    alice_hash = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()
    passwords = directory / "passwords.csv"
    passwords.write_text(f"{alice_hash},alice,u-alice\n{PASSWORD},victim,u-victim\n")
    tokens = directory / "tokens.csv"
    tokens.write_text(f"{ALICE_TOKEN},alice,u-alice\n")
    return passwords, tokens


def set_cookies(response: Response) -> dict[str, str]:
    """name -> the whole Set-Cookie value, for every cookie the response sets."""
    return {value.split("=", 1)[0]: value for value in response.values("set-cookie")}


def cookie_value(set_cookie: str) -> str:
    return set_cookie.split(";", 1)[0].split("=", 1)[1]


@dataclass
class Browser:
    """A client that behaves like a browser on kubegate's origin: it keeps the session cookie
    and sends Origin / Sec-Fetch-* as a browser would for the request's initiator."""

    kg: Kubegate
    session: str | None = None
    extra_cookies: list[str] = field(default_factory=list)

    @property
    def origin(self) -> str:
        return f"https://{self.kg.netloc}"

    def cookie_header(self) -> list[tuple[str, str]]:
        pairs = list(self.extra_cookies)
        if self.session is not None:
            pairs.append(f"{COOKIE}={self.session}")
        return [("Cookie", "; ".join(pairs))] if pairs else []

    async def request(
        self,
        method: str,
        target: str,
        *,
        headers: Sequence[tuple[str, str]] = (),
        body: bytes | None = None,
        site: str | None = "same-origin",
        origin: str | None = "own",
    ) -> Response:
        """``site``: the Sec-Fetch-Site to send (None: no fetch metadata at all); ``origin``:
        "own", another origin, or None for no Origin header."""
        sent = self.cookie_header()
        if site is not None:
            sent += [("Sec-Fetch-Site", site), ("Sec-Fetch-Mode", "cors")]
        if origin is not None:
            sent.append(("Origin", self.origin if origin == "own" else origin))
        sent += list(headers)
        response = await self.kg.request(method, target, headers=sent, body=body, auth=None)
        cookie = set_cookies(response).get(COOKIE)
        if cookie is not None:
            value = cookie_value(cookie)
            self.session = value or None
        return response

    async def page(self, target: str) -> Response:
        """A top-level navigation typed into the address bar."""
        return await self.request(
            "GET",
            target,
            headers=[("Accept", "text/html,application/xhtml+xml,*/*;q=0.8")],
            site="none",
            origin=None,
        )

    async def login(
        self,
        username: str = "alice",
        password: str = PASSWORD,
        *,
        then: str = "/",
        origin: str | None = "own",
    ) -> Response:
        form = {"method": "password", "username": username, "password": password, "then": then}
        body = urlencode(form).encode()
        return await self.request("POST", "/login", headers=[FORM], body=body, origin=origin)

    async def login_with_token(self, token: str, *, then: str = "/") -> Response:
        form = {"method": "token", "token": token, "then": then}
        return await self.request("POST", "/login", headers=[FORM], body=urlencode(form).encode())

    async def logout(self) -> Response:
        return await self.request("POST", "/logout", headers=[FORM], body=b"")


async def grant_edit(cluster: Cluster, user: str) -> None:
    """Bind the ``edit`` ClusterRole (secrets, services/proxy, ...) to ``user`` in the
    cluster's namespace."""
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": f"edit-{abs(hash(user))}"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "edit"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}],
    }
    await cluster.create(
        f"/apis/rbac.authorization.k8s.io/v1/namespaces/{cluster.namespace}/rolebindings", binding
    )


async def publish_echo(cluster: Cluster, backends: Any) -> Backend:
    """A recording echo backend published as Service ``web`` (port ``http``)."""
    backend = await backends.http()
    await cluster.serve("web", Port(backend))
    backend.reset()
    return backend


def web(cluster: Cluster, subpath: str = "/") -> str:
    """The proxy path of Service ``web``'s port ``http``."""
    return cluster.path("services", "web:http", subpath)
