"""The one HTTP/1.1 connection layer (server side: ``HTTPServer``); knows nothing of Kubernetes."""

from kubegate.http.limits import Limits
from kubegate.http.server import HTTPServer
from kubegate.http.types import (
    Body,
    BodyTooLarge,
    Handler,
    Headers,
    HTTPError,
    Request,
    ResponseWriter,
)

__all__ = [
    "Body",
    "BodyTooLarge",
    "HTTPError",
    "HTTPServer",
    "Handler",
    "Headers",
    "Limits",
    "Request",
    "ResponseWriter",
]
