"""The authentication flags of ``kubegate serve`` (kube-apiserver's names) -> AuthnSettings."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from kubegate.auth.oidc import OIDCConfig
from kubegate.server.settings import AuthnSettings

_DURATION = re.compile(r"(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")


def parse_bool(value: str) -> bool:
    """Go's flag booleans: ``--flag``, ``--flag=true``, ``--flag=false``."""
    lowered = value.lower()
    if lowered in ("1", "t", "true"):
        return True
    if lowered in ("0", "f", "false"):
        return False
    raise argparse.ArgumentTypeError(f"invalid boolean value {value!r}")


def parse_duration(value: str) -> int:
    """Seconds of a Go-style duration such as ``48h``, ``1h30m`` or ``3600s``."""
    match = _DURATION.fullmatch(value)
    if not value or match is None:
        raise argparse.ArgumentTypeError(f"invalid duration {value!r} (e.g. 48h, 90m, 3600s)")
    hours, minutes, seconds = (int(g or 0) for g in match.groups())
    return hours * 3600 + minutes * 60 + seconds


def add_authn_flags(group: argparse._ArgumentGroup) -> None:
    group.add_argument(
        "--token-auth-file",
        metavar="PATH",
        type=Path,
        default=None,
        help='static bearer tokens, CSV: token,user,uid,"group1,group2" (re-read on change)',
    )
    group.add_argument(
        "--basic-auth-file",
        metavar="PATH",
        type=Path,
        default=None,
        help='HTTP basic auth users, CSV: password,user,uid,"groups"; the password column '
        "may be a bcrypt hash (recommended) or argon2 (needs argon2-cffi)",
    )
    group.add_argument(
        "--anonymous-auth",
        metavar="BOOL",
        type=parse_bool,
        nargs="?",
        const=True,
        default=False,
        help="requests without credentials become system:anonymous (default false)",
    )
    group.add_argument(
        "--service-account-issuer",
        metavar="URL",
        default="https://kubernetes.default.svc",
        help="iss of the ServiceAccount tokens kubegate signs and accepts",
    )
    group.add_argument(
        "--api-audiences",
        metavar="AUDIENCES",
        default="",
        help="comma-separated audiences a token must carry (default: the issuer)",
    )
    group.add_argument(
        "--service-account-max-token-expiration",
        metavar="DURATION",
        type=parse_duration,
        default=48 * 3600,
        help="longest lifetime granted to a requested token (default 48h)",
    )
    group.add_argument(
        "--oidc-issuer-url", metavar="URL", default="", help="https URL of the OIDC issuer"
    )
    group.add_argument(
        "--oidc-client-id", metavar="ID", default="", help="the audience ID tokens must carry"
    )
    group.add_argument(
        "--oidc-username-claim",
        metavar="CLAIM",
        default="sub",
        help="the claim naming the user (default sub)",
    )
    group.add_argument(
        "--oidc-username-prefix",
        metavar="PREFIX",
        default="",
        help="prefix for user names; default '<issuer>#' for claims other than email; '-' for none",
    )
    group.add_argument(
        "--oidc-groups-claim", metavar="CLAIM", default="", help="the claim listing the groups"
    )
    group.add_argument(
        "--oidc-groups-prefix", metavar="PREFIX", default="", help="prefix for group names"
    )
    group.add_argument(
        "--oidc-ca-file",
        metavar="PATH",
        type=Path,
        default=None,
        help="CA bundle for the issuer's HTTPS",
    )
    group.add_argument(
        "--oidc-jwks-file",
        metavar="PATH",
        type=Path,
        default=None,
        help="the issuer's signing keys as a local JWKS file (default: from its discovery document)",
    )
    group.add_argument(
        "--oidc-client-secret-file",
        metavar="PATH",
        type=Path,
        default=None,
        help="the client secret for the browser sign-in's code flow (default: a public client, PKCE only)",
    )
    group.add_argument(
        "--oidc-scopes",
        metavar="SCOPES",
        default="openid,profile,email",
        help="comma-separated scopes the browser sign-in asks for (default openid,profile,email)",
    )
    group.add_argument(
        "--oidc-redirect-url",
        metavar="URL",
        default="",
        help="the redirect URI registered with the issuer "
        "(default https://<the host the browser used>/oauth2/callback)",
    )
    group.add_argument(
        "--session-idle-timeout",
        metavar="DURATION",
        type=parse_duration,
        default=3600,
        help="a browser session ends after this long without a request (default 1h)",
    )
    group.add_argument(
        "--session-max-age",
        metavar="DURATION",
        type=parse_duration,
        default=12 * 3600,
        help="a browser session ends this long after sign-in, active or not (default 12h)",
    )


def authn_settings(args: argparse.Namespace) -> AuthnSettings:
    """Raises ValueError for inconsistent flags."""
    oidc = None
    if args.oidc_issuer_url:
        oidc = OIDCConfig(
            issuer_url=args.oidc_issuer_url,
            client_id=args.oidc_client_id,
            username_claim=args.oidc_username_claim,
            username_prefix=args.oidc_username_prefix,
            groups_claim=args.oidc_groups_claim,
            groups_prefix=args.oidc_groups_prefix,
            jwks_file=args.oidc_jwks_file,
            ca_file=args.oidc_ca_file,
            client_secret_file=args.oidc_client_secret_file,
            scopes=tuple(s.strip() for s in args.oidc_scopes.split(",") if s.strip()),
            redirect_url=args.oidc_redirect_url,
        )
        oidc.validate()
    elif (
        args.oidc_client_id
        or args.oidc_jwks_file
        or args.oidc_client_secret_file
        or args.oidc_redirect_url
    ):
        raise ValueError(
            "--oidc-client-id, --oidc-jwks-file, --oidc-client-secret-file and "
            "--oidc-redirect-url need --oidc-issuer-url"
        )
    if args.session_idle_timeout <= 0 or args.session_max_age <= 0:
        raise ValueError("--session-idle-timeout and --session-max-age must be positive")
    if args.service_account_max_token_expiration < 600:
        raise ValueError("--service-account-max-token-expiration must be at least 10m")
    return AuthnSettings(
        token_auth_file=args.token_auth_file,
        basic_auth_file=args.basic_auth_file,
        anonymous_auth=args.anonymous_auth,
        service_account_issuer=args.service_account_issuer,
        api_audiences=tuple(a.strip() for a in args.api_audiences.split(",") if a.strip()),
        service_account_max_token_expiration=args.service_account_max_token_expiration,
        oidc=oidc,
        session_idle_timeout=float(args.session_idle_timeout),
        session_max_age=float(args.session_max_age),
    )
