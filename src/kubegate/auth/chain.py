"""The authenticator chain and the simple authorizers."""

from __future__ import annotations

from collections.abc import Sequence

from kubegate.auth.types import Attributes, Authenticator, Decision, UserInfo
from kubegate.http.types import Request


class AuthenticatorChain:
    """The first authenticator that recognises the credential decides; an invalid
    credential raises Unauthorized in its authenticator and never falls through."""

    def __init__(self, authenticators: Sequence[Authenticator]) -> None:
        self.authenticators = tuple(authenticators)

    def authenticate(self, request: Request) -> UserInfo | None:
        for authenticator in self.authenticators:
            user = authenticator.authenticate(request)
            if user is not None:
                return user.authenticated()
        return None


class AlwaysAllow:
    def authorize(self, attributes: Attributes) -> Decision:
        return Decision(True, "AlwaysAllow")
