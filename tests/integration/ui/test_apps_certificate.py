"""The serving certificate covers the app origins of --apps-domain: added on the first start
with the flag, re-issued when a data directory from before the flag lacks it."""

from __future__ import annotations

import ssl

from kubegate.auth import pki
from kubegate.server.datadir_setup import ensure_data_dir
from kubegate.server.settings import ServeSettings
from kubegate.server.ui.wiring import serving_hosts_for_apps

URL = "https://127.0.0.1:6443"


def _hosts(data_dir) -> frozenset[str]:
    return pki.load_cert_info((data_dir / "serving.crt").read_bytes()).hosts


def test_apps_mode_reissues_a_certificate_without_the_wildcard(tmp_path):
    """A data dir made without --apps-domain gets a certificate naming *.<domain> on the next start with it."""
    ensure_data_dir(tmp_path, server_url=URL, advertise_address=None)
    assert "*.apps.localhost" not in _hosts(tmp_path)
    settings = ServeSettings(apps_domain="apps.localhost")
    extra = serving_hosts_for_apps(settings, "127.0.0.1")
    ensure_data_dir(tmp_path, server_url=URL, advertise_address=None, extra_hosts=extra)
    assert {"*.apps.localhost", "localhost"} <= _hosts(tmp_path)


def test_the_wildcard_verifies_for_an_app_host(tmp_path):
    """A TLS client checking the name of an app host accepts the issued certificate."""
    extra = serving_hosts_for_apps(ServeSettings(apps_domain="apps.example.com"), "10.0.0.5")
    ensure_data_dir(tmp_path, server_url=URL, advertise_address=None, extra_hosts=extra)
    context = ssl.create_default_context(cafile=str(tmp_path / "ca.crt"))
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(tmp_path / "serving.crt", tmp_path / "serving.key")
    client_in, client_out = ssl.MemoryBIO(), ssl.MemoryBIO()
    server_in, server_out = ssl.MemoryBIO(), ssl.MemoryBIO()
    client = context.wrap_bio(
        client_in, client_out, server_hostname="http--web--ns.apps.example.com"
    )
    srv = server.wrap_bio(server_in, server_out, server_side=True)
    for _ in range(10):  # a handshake in memory: both sides until neither wants more
        for side in (client, srv):
            try:
                side.do_handshake()
            except ssl.SSLWantReadError:
                pass
        server_in.write(client_out.read())
        client_in.write(server_out.read())
    client.do_handshake()  # raises SSLCertVerificationError if the name were not covered
    assert client.getpeercert()["subjectAltName"]


def test_no_apps_domain_adds_no_names():
    """Without the flag the certificate's names are unchanged."""
    assert serving_hosts_for_apps(ServeSettings(), "127.0.0.1") == ()
