"""auth/oidc_flow.py's pure parts: the PKCE challenge and the flow carried in the cookie."""

from __future__ import annotations

import base64

import pytest

from kubegate.auth.oidc_flow import Flow, code_challenge


def test_code_challenge_matches_rfc_7636_appendix_b() -> None:
    """S256 of the RFC's example verifier is the RFC's example challenge."""
    verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    assert code_challenge(verifier) == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


def test_new_flows_are_random_and_long() -> None:
    """State, nonce and verifier are fresh 256-bit (or longer) values per flow."""
    a, b = Flow.new("/", 0.0), Flow.new("/", 0.0)
    assert len({a.state, b.state, a.nonce, b.nonce}) == 4
    assert len(a.state) >= 43 and len(a.nonce) >= 43
    assert 43 <= len(a.verifier) <= 128  # RFC 7636 §4.1


def test_flow_survives_the_cookie_round_trip() -> None:
    """encode/decode gives the same flow back, in cookie-safe characters."""
    flow = Flow.new("/api/v1/namespaces/a/services/b/proxy/?x=1", 123.5)
    encoded = flow.encode()
    assert all(c.isalnum() or c in "-_" for c in encoded)
    assert Flow.decode(encoded) == flow


@pytest.mark.parametrize(
    "value",
    [
        "",
        "!!!",
        base64.urlsafe_b64encode(b"[]").decode(),
        base64.urlsafe_b64encode(b'{"state": 1}').decode(),
        base64.urlsafe_b64encode(
            b'{"state":1,"nonce":"n","verifier":"v","then":"/","started":0}'
        ).decode(),
        base64.urlsafe_b64encode(
            b'{"state":"s","nonce":"n","verifier":"v","then":"/","started":"0"}'
        ).decode(),
    ],
)
def test_garbage_flow_cookies_decode_to_nothing(value: str) -> None:
    """A tampered or foreign cookie value is no flow."""
    assert Flow.decode(value) is None
