"""Authentication wiring: settings and the data dir in, the app's authenticator chain and
token APIs out.

The chain, in order (the first that recognises a credential decides; an invalid one is a
401 and never falls through):

    x509 client certificate
    bearer token: the admin token, --token-auth-file, ServiceAccount JWTs, OIDC ID tokens
    basic auth (--basic-auth-file)
    the session cookie (__Host-kubegate_session, issued by the sign-in pages: server/login.py)
    anonymous (--anonymous-auth; only when no credential at all was presented)

Every file is read here, before the server binds, so a malformed one stops the start with
its message (the CLI prints it and exits 2) rather than a traceback.
"""

from __future__ import annotations

from dataclasses import dataclass

from kubegate.auth.anonymous import AnonymousAuthenticator
from kubegate.auth.basic import CHALLENGE, BasicAuthenticator
from kubegate.auth.bearer import AgnosticTokens, BearerAuthenticator, TokenSource
from kubegate.auth.chain import AuthenticatorChain
from kubegate.auth.oidc import OIDCAuthenticator, OIDCConfig, OIDCKeys
from kubegate.auth.oidc_flow import OIDCLogin
from kubegate.auth.serviceaccount import (
    ServiceAccountCache,
    ServiceAccountTokens,
    SigningKey,
    TokenIssuer,
)
from kubegate.auth.session_authn import SessionAuthenticator
from kubegate.auth.session_credentials import CredentialChecks, fingerprint_key
from kubegate.auth.sessions import SessionLimits, SessionStore
from kubegate.auth.throttle import FailureThrottle
from kubegate.auth.tokenfile import AuthFileError, TokenFile
from kubegate.auth.tokens import StaticTokens
from kubegate.auth.types import Authenticator, UserInfo
from kubegate.auth.x509 import X509Authenticator
from kubegate.server.datadir import ADMIN_GROUPS, ADMIN_USER, DataDir
from kubegate.server.login import LoginMethods, LoginPages
from kubegate.server.settings import AuthnSettings
from kubegate.server.tokenrequest import TokenAPI
from kubegate.store.base import Store


@dataclass(slots=True)
class Authentication:
    authenticator: AuthenticatorChain
    token_api: TokenAPI
    accounts: ServiceAccountCache
    # Headers every 401 carries: the Basic challenge when basic auth is on.
    challenges: tuple[tuple[str, str], ...] = ()
    oidc_keys: OIDCKeys | None = None
    sessions: SessionStore | None = None
    login: LoginPages | None = None

    async def start(self) -> None:
        """Start the watch-fed caches and key refresh; wait until accounts (and sessions)
        are known."""
        self.accounts.start()
        if self.sessions is not None:
            self.sessions.start()
            await self.sessions.wait_synced()
        await self.accounts.wait_synced()
        if self.oidc_keys is not None:
            self.oidc_keys.start()

    async def stop(self) -> None:
        if self.oidc_keys is not None:
            await self.oidc_keys.stop()
        if self.sessions is not None:
            await self.sessions.stop()
        await self.accounts.stop()


def build_authentication(settings: AuthnSettings, datadir: DataDir, store: Store) -> Authentication:
    """Raises ValueError (AuthFileError) for unusable files or flags."""
    audiences = settings.effective_api_audiences
    admin = StaticTokens()
    admin.add(datadir.admin_token.read_text().strip(), UserInfo(ADMIN_USER, groups=ADMIN_GROUPS))
    sources: list[TokenSource] = [AgnosticTokens(admin.authenticate, audiences)]
    static_tables = [lambda: admin]  # what a token session's fingerprint is checked against
    if settings.token_auth_file is not None:
        token_file = TokenFile(settings.token_auth_file)
        sources.append(AgnosticTokens(token_file.lookup, audiences))
        static_tables.append(token_file.table)
    sa_pem = datadir.sa_key.read_bytes()
    key = SigningKey(sa_pem)
    accounts = ServiceAccountCache(store)
    issuer = settings.service_account_issuer
    sources.append(ServiceAccountTokens(key, issuer, accounts.get))
    oidc_keys = oidc_login = None
    if settings.oidc is not None:
        settings.oidc.validate()
        oidc_keys = OIDCKeys(settings.oidc)
        oidc = OIDCAuthenticator(settings.oidc, oidc_keys)
        sources.append(AgnosticTokens(oidc.lookup, audiences))
        oidc_login = OIDCLogin(oidc, client_secret=_client_secret(settings.oidc))
    bearer = BearerAuthenticator(sources, audiences)
    chain: list[Authenticator] = [X509Authenticator(), bearer]
    challenges: tuple[tuple[str, str], ...] = ()
    throttle = FailureThrottle()  # one count of failures for basic auth and the sign-in page
    basic = None
    if settings.basic_auth_file is not None:
        basic = BasicAuthenticator(settings.basic_auth_file, throttle)
        chain.append(basic)
        challenges = (CHALLENGE,)
    limits = SessionLimits(settings.session_idle_timeout, settings.session_max_age)
    limits.check()
    credentials = CredentialChecks(
        fingerprint_key(sa_pem),  # replicas share sa.key, so they compute the same fingerprints
        passwords=basic.passwords if basic is not None else None,
        tokens=static_tables,
        accounts=accounts,
    )
    sessions = SessionStore(store, limits, credentials=credentials)
    chain.append(SessionAuthenticator(sessions))
    login = LoginPages(sessions, LoginMethods(bearer, throttle, basic, oidc_login))
    if settings.anonymous_auth:
        chain.append(AnonymousAuthenticator())
    token_api = TokenAPI(
        store,
        TokenIssuer(key, issuer),
        accounts,
        bearer,
        max_expiration=settings.service_account_max_token_expiration,
    )
    return Authentication(
        AuthenticatorChain(chain), token_api, accounts, challenges, oidc_keys, sessions, login
    )


def _client_secret(config: OIDCConfig) -> str | None:
    path = config.client_secret_file
    if path is None:
        return None
    try:
        secret = path.read_text().strip()
    except OSError as exc:
        raise AuthFileError(f"--oidc-client-secret-file '{path}': {exc.strerror}") from None
    if not secret:
        raise AuthFileError(f"--oidc-client-secret-file '{path}' is empty")
    return secret
