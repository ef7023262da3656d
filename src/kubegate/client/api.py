"""A small async Kubernetes API client for kubegate's commands, on kubegate's own HTTP layer.

``APIClient(config)`` sends GETs to the kubeconfig's server through an ``UpstreamPool``
(keep-alive, TLS with the kubeconfig's CA and client certificate). The server's host name is
resolved once, with ``loop.getaddrinfo``; TLS checks the host name (or ``tls-server-name``).
With a forward proxy (``config.proxy``) every connection goes through it and the proxy
resolves the name.

Errors::

    APIClientError(code, reason, message)   the server answered with an error (a Status)
      APIConnectionError                    no answer: dial, TLS, timeout, broken HTTP (code 0)
    CredentialsError (client.credentials)   credentials could not be obtained

``kubectl_text()`` renders an error the way kubectl's ``CheckErr`` prints it.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import socket
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any
from urllib.parse import urlencode, urlsplit

from kubegate import __version__
from kubegate.client.credentials import Credentials
from kubegate.client.kubeconfig import ClientConfig
from kubegate.http import UpstreamError, UpstreamPool, UpstreamTarget

__all__ = ["APIClient", "APIClientError", "APIConnectionError", "Query"]

Query = Mapping[str, str] | Sequence[tuple[str, str]]
MAX_BODY = 256 * 1024 * 1024  # a list bigger than this is refused rather than buffered
USER_AGENT = f"kubegate/{__version__}"

# client-go's messages for an error answer that carries no Status (errors.NewGenericServerResponse)
_GENERIC: dict[int, tuple[str, str]] = {
    400: ("BadRequest", "the server rejected our request for an unknown reason"),
    401: ("Unauthorized", "the server has asked for the client to provide credentials"),
    403: ("Forbidden", "the server does not allow access to the requested resource"),
    404: ("NotFound", "the server could not find the requested resource"),
    405: ("MethodNotAllowed", "the server does not allow this method on the requested resource"),
    409: ("Conflict", "the server reported a conflict"),
    429: (
        "TooManyRequests",
        "the server has received too many requests and has asked us to try again later",
    ),
    500: ("InternalError", "an error on the server has prevented the request from succeeding"),
    503: ("ServiceUnavailable", "the server is currently unable to handle the request"),
    504: (
        "Timeout",
        "the server was unable to return a response in the time allotted, but may still be processing the request",
    ),
}


class APIClientError(Exception):
    """The server answered with an error."""

    def __init__(self, code: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message

    def kubectl_text(self) -> str:
        """The line kubectl prints for this error (``cmdutil.StandardErrorMessage``)."""
        if self.reason == "Unauthorized":
            return f"error: You must be logged in to the server ({self.message})"
        if self.reason:
            return f"Error from server ({self.reason}): {self.message}"
        return f"Error from server: {self.message}"


class APIConnectionError(APIClientError):
    """No answer from the server (dial, TLS, timeout, protocol)."""

    def __init__(self, message: str, *, host: str = "", refused: bool = False) -> None:
        super().__init__(0, "", message)
        self.host = host
        self.refused = refused

    def kubectl_text(self) -> str:
        if self.refused:
            return (
                f"The connection to the server {self.host} was refused - did you specify the "
                "right host or port?"
            )
        return f"Unable to connect to the server: {self.message}"


class APIClient:
    """GETs against one API server; ``async with APIClient(config) as api: ...``."""

    def __init__(
        self,
        config: ClientConfig,
        *,
        credentials: Credentials | None = None,
        timeout: float = 30.0,
    ) -> None:
        self.config = config
        self.credentials = credentials or Credentials(config)
        self.timeout = timeout
        url = urlsplit(config.server)
        self._tls = url.scheme == "https"
        self._host = url.hostname or ""
        self._port = url.port or (443 if self._tls else 80)
        self._netloc = url.netloc
        self._prefix = url.path.rstrip("/")
        self._ip: str | None = None
        self._pool: UpstreamPool | None = None

    async def __aenter__(self) -> APIClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    async def get_json(self, path: str, query: Query | None = None) -> dict[str, Any]:
        """GET ``path`` (under the server's path prefix) and decode the JSON answer."""
        body = await self.get_bytes(path, query, accept="application/json")
        try:
            doc = json.loads(body)
        except ValueError as exc:
            raise APIClientError(0, "", f"the server sent invalid JSON for {path}: {exc}") from exc
        if not isinstance(doc, dict):
            raise APIClientError(0, "", f"the server sent a JSON {type(doc).__name__} for {path}")
        return doc

    async def list_all(self, path: str, query: Query | None = None) -> dict[str, Any]:
        """A list, following ``metadata.continue``: the first page with every page's items."""
        base = list(query.items() if isinstance(query, Mapping) else query or ())
        first = await self.get_json(path, base)
        items = list(first.get("items") or [])
        token = (first.get("metadata") or {}).get("continue")
        while token:
            page = await self.get_json(path, [*base, ("continue", token)])
            items += page.get("items") or []
            token = (page.get("metadata") or {}).get("continue")
        first["items"] = items
        (first.get("metadata") or {}).pop("continue", None)
        return first

    async def get_bytes(
        self, path: str, query: Query | None = None, *, accept: str = "*/*"
    ) -> bytes:
        """GET ``path`` and return the body of a 2xx answer; an error answer raises."""
        target_path = self._prefix + path
        if query:
            target_path += "?" + urlencode(query)
        for attempt in (1, 2):
            status, body = await self._get(target_path, accept)
            if status == 401 and attempt == 1 and self.config.exec is not None:
                self.credentials.invalidate()  # a plugin's token may have been revoked early
                continue
            break
        if 200 <= status < 300:
            return body
        raise _error_from_answer(status, body)

    # -- internals ----------------------------------------------------------------------------

    async def _get(self, target_path: str, accept: str) -> tuple[int, bytes]:
        headers = [
            ("Host", self._netloc),
            ("Accept", accept),
            ("User-Agent", USER_AGENT),
            *await self.credentials.auth_headers(),
        ]
        target = await self._target()
        try:
            async with asyncio.timeout(self.timeout):
                response = await self._pool_for().request(target, "GET", target_path, headers)
                async with response:
                    body = await response.read(MAX_BODY + 1)
        except TimeoutError:
            raise APIConnectionError(
                f"the server did not answer within {self.timeout:g}s", host=self._netloc
            ) from None
        except UpstreamError as exc:
            # kubectl says "refused" of the server even when it was the proxy: be exact here.
            refused = self.config.proxy is None and "connection refused" in exc.message
            raise APIConnectionError(exc.message, host=self._netloc, refused=refused) from exc
        except ConnectionError as exc:
            raise APIConnectionError(
                f"the connection to {self._netloc} was lost: {exc}", host=self._netloc
            ) from exc
        if len(body) > MAX_BODY:
            raise APIConnectionError(f"the answer to {target_path} exceeds {MAX_BODY} bytes")
        return response.status, body

    def _pool_for(self) -> UpstreamPool:
        if self._pool is None:
            # Dialing (a proxy's CONNECT included) gets at most half the budget, so that a
            # dead route is reported as such rather than as a server that did not answer.
            self._pool = UpstreamPool(connect_timeout=min(self.timeout / 2, 10.0))
        return self._pool

    async def _target(self) -> UpstreamTarget:
        proxy = self.config.proxy
        if self._ip is None:
            # Through a proxy the name is the proxy's to resolve (CONNECT host:port).
            self._ip = self._host if proxy is not None else await self._resolve()
        context = self.credentials.ssl_context() if self._tls else None
        return UpstreamTarget(
            ip=self._ip,
            port=self._port,
            tls=self._tls,
            server_hostname=(self.config.tls_server_name or self._host) if self._tls else None,
            ssl_context=context,
            via=proxy,
        )

    async def _resolve(self) -> str:
        host = self._host
        try:
            return str(ipaddress.ip_address(host))
        except ValueError:
            pass
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self.timeout):
                infos = await loop.getaddrinfo(host, self._port, type=socket.SOCK_STREAM)
        except (OSError, TimeoutError) as exc:
            raise APIConnectionError(
                f"dial tcp: lookup {host}: {getattr(exc, 'strerror', None) or 'timed out'}",
                host=self._netloc,
            ) from exc
        if not infos:
            raise APIConnectionError(f"dial tcp: lookup {host}: no such host", host=self._netloc)
        return str(infos[0][4][0])


def _error_from_answer(status: int, body: bytes) -> APIClientError:
    """A Status body becomes its code, reason and message; anything else client-go's text."""
    try:
        doc = json.loads(body)
    except ValueError:
        doc = None
    if isinstance(doc, dict) and doc.get("kind") == "Status":
        return APIClientError(
            int(doc.get("code") or status),
            str(doc.get("reason") or ""),
            str(doc.get("message") or ""),
        )
    reason, message = _GENERIC.get(
        status,
        (
            "",
            f"the server responded with the status code {status} but did not return more information",
        ),
    )
    text = body.decode("utf-8", "replace").strip()
    if status >= 500 and text:
        message = (
            f'an error on the server ("{text[:200]}") has prevented the request from succeeding'
        )
    return APIClientError(status, reason, message)
