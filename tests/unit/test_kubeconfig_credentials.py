"""Credentials: bearer/basic headers, token-file rotation, exec plugins and their cache, TLS."""

from __future__ import annotations

import asyncio
import base64
import json
import ssl
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import trustme

from kubegate.client.credentials import Credentials, CredentialsError
from kubegate.client.kubeconfig import ClientConfig, ExecConfig

V1 = "client.authentication.k8s.io/v1"
EXPIRY = "2030-01-01T00:00:00Z"
EXPIRY_EPOCH = 1893456000.0


def config(**changes: object) -> ClientConfig:
    base = ClientConfig(
        server="https://127.0.0.1:6443",
        ca_data=None,
        insecure=False,
        tls_server_name=None,
        client_cert=None,
        client_key=None,
        token=None,
        token_file=None,
        username=None,
        password=None,
        exec=None,
        proxy_url=None,
        namespace="default",
        context="ctx",
        cluster_name="c",
        user_name="u",
        host_as_written="https://127.0.0.1:6443",
    )
    return replace(base, **changes)  # type: ignore[arg-type]


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


PLUGIN = """\
#!{python}
import json, os, sys
from pathlib import Path
state = Path(os.environ["PLUGIN_STATE"])
runs = int(state.read_text()) + 1 if state.exists() else 1
state.write_text(str(runs))
Path(str(state) + ".info").write_text(os.environ.get("KUBERNETES_EXEC_INFO", ""))
Path(str(state) + ".args").write_text(json.dumps(sys.argv[1:]))
status = json.loads(os.environ["PLUGIN_STATUS"])
if "token" in status:
    status["token"] = status["token"] + "-" + str(runs)
json.dump({{"apiVersion": os.environ.get("PLUGIN_VERSION", "{v1}"), "kind": "ExecCredential",
           "status": status}}, sys.stdout)
sys.exit(int(os.environ.get("PLUGIN_EXIT", "0")))
"""


def plugin(tmp_path: Path, status: dict[str, object], **env: str) -> ExecConfig:
    """An exec plugin: a small Python script that counts its runs and echoes its input."""
    script = tmp_path / "plugin.py"
    script.write_text(PLUGIN.format(python=sys.executable, v1=V1))
    script.chmod(0o755)
    pairs = {"PLUGIN_STATE": str(tmp_path / "runs"), "PLUGIN_STATUS": json.dumps(status), **env}
    return ExecConfig(command=str(script), args=("get-token", "--x"), env=tuple(pairs.items()))


def runs(tmp_path: Path) -> int:
    path = tmp_path / "runs"
    return int(path.read_text()) if path.exists() else 0


# -- static credentials ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({}, []),
        ({"token": "abc"}, [("Authorization", "Bearer abc")]),
        ({"username": "ann", "password": "pw"}, [("Authorization", "Basic YW5uOnB3")]),
        ({"client_cert": b"C", "client_key": b"K"}, []),
    ],
)
async def test_static_auth_headers(changes, expected):
    """Tokens become Bearer, username/password Basic, certificates no header."""
    assert await Credentials(config(**changes)).auth_headers() == expected


async def test_token_file_is_reread_when_it_changes(tmp_path):
    """A rotated token file is picked up on the next request; it wins over an inline token."""
    token_file = tmp_path / "token"
    token_file.write_text("first\n")
    creds = Credentials(config(token_file=str(token_file), token="inline"))
    assert await creds.auth_headers() == [("Authorization", "Bearer first")]
    token_file.write_text("second-and-longer\n")
    assert await creds.auth_headers() == [("Authorization", "Bearer second-and-longer")]


async def test_missing_token_file_is_a_clear_error(tmp_path):
    """A token file that cannot be read is named in the error."""
    creds = Credentials(config(token_file=str(tmp_path / "gone")))
    with pytest.raises(CredentialsError, match=r'failed to read token file ".*gone"'):
        await creds.auth_headers()


# -- exec plugins ---------------------------------------------------------------------------------


async def test_exec_token_is_cached_until_expiry(tmp_path):
    """The plugin runs once while its token is valid, and again once it has expired."""
    clock = Clock(EXPIRY_EPOCH - 100)
    spec = plugin(tmp_path, {"token": "tok", "expirationTimestamp": EXPIRY})
    creds = Credentials(config(exec=spec), clock=clock)
    assert await creds.auth_headers() == [("Authorization", "Bearer tok-1")]
    clock.now = EXPIRY_EPOCH - 1
    assert await creds.auth_headers() == [("Authorization", "Bearer tok-1")]
    assert runs(tmp_path) == 1
    clock.now = EXPIRY_EPOCH + 1
    assert await creds.auth_headers() == [("Authorization", "Bearer tok-2")]
    assert runs(tmp_path) == 2


async def test_exec_token_without_expiry_is_kept_until_invalidated(tmp_path):
    """Without expirationTimestamp the token is reused until invalidate() (after a 401)."""
    creds = Credentials(config(exec=plugin(tmp_path, {"token": "tok"})))
    await creds.auth_headers()
    await creds.auth_headers()
    assert runs(tmp_path) == 1
    creds.invalidate()
    assert await creds.auth_headers() == [("Authorization", "Bearer tok-2")]


async def test_concurrent_callers_share_one_plugin_run(tmp_path):
    """Requests arriving together wait for one run instead of starting one each."""
    creds = Credentials(config(exec=plugin(tmp_path, {"token": "tok"})))
    results = await asyncio.gather(*(creds.auth_headers() for _ in range(5)))
    assert {tuple(r) for r in results} == {(("Authorization", "Bearer tok-1"),)}
    assert runs(tmp_path) == 1


async def test_exec_plugin_gets_args_env_and_exec_info(tmp_path):
    """Args and env are passed; KUBERNETES_EXEC_INFO carries the cluster with provideClusterInfo."""
    spec = replace(
        plugin(tmp_path, {"token": "tok"}),
        provide_cluster_info=True,
        cluster_config={"audience": "me"},
    )
    creds = Credentials(
        config(exec=spec, ca_data=b"CA", tls_server_name="api"), env={"PATH": "/usr/bin"}
    )
    await creds.auth_headers()
    info = json.loads((tmp_path / "runs.info").read_text())
    assert info == {
        "kind": "ExecCredential",
        "apiVersion": V1,
        "spec": {
            "interactive": False,
            "cluster": {
                "server": "https://127.0.0.1:6443",
                "tls-server-name": "api",
                "certificate-authority-data": base64.b64encode(b"CA").decode(),
                "config": {"audience": "me"},
            },
        },
    }
    assert json.loads((tmp_path / "runs.args").read_text()) == ["get-token", "--x"]


async def test_exec_info_without_cluster_by_default(tmp_path):
    """Without provideClusterInfo the plugin learns only that it is not interactive."""
    await Credentials(config(exec=plugin(tmp_path, {"token": "tok"}))).auth_headers()
    info = json.loads((tmp_path / "runs.info").read_text())
    assert info["spec"] == {"interactive": False}


@pytest.mark.parametrize(
    ("status", "env", "message"),
    [
        ({"token": "t"}, {"PLUGIN_EXIT": "3"}, "plugin.py failed with exit code 3"),
        ({}, {}, "exec plugin didn't return a token or cert/key pair"),
        ({"clientCertificateData": "C"}, {}, "returned only certificate or key, not both"),
        (
            {"token": "t"},
            {"PLUGIN_VERSION": "client.authentication.k8s.io/v1beta1"},
            f"configured to use API version {V1}, plugin returned version "
            "client.authentication.k8s.io/v1beta1",
        ),
        ({"token": "t", "expirationTimestamp": "soon"}, {}, "invalid expirationTimestamp"),
    ],
)
async def test_exec_plugin_failures(tmp_path, status, env, message):
    """A failing or misbehaving plugin is a CredentialsError saying what went wrong."""
    creds = Credentials(config(exec=plugin(tmp_path, status, **env)))
    with pytest.raises(CredentialsError) as info:
        await creds.auth_headers()
    assert str(info.value).startswith("error: getting credentials: ")
    assert message in str(info.value)


async def test_missing_exec_plugin_shows_the_install_hint(tmp_path):
    """A plugin that is not installed: kubectl's explanation and the kubeconfig's hint."""
    spec = ExecConfig(command="kubegate-no-such-plugin", install_hint="brew install it")
    creds = Credentials(config(exec=spec), env={"PATH": str(tmp_path)})
    with pytest.raises(CredentialsError) as info:
        await creds.auth_headers()
    text = str(info.value)
    assert text.startswith("error: getting credentials: exec: executable kubegate-no-such-plugin")
    assert "not installed" in text and text.endswith("brew install it")


async def test_exec_plugin_timeout(tmp_path):
    """A plugin that hangs is killed after the timeout."""
    script = tmp_path / "slow.py"
    script.write_text(f"#!{sys.executable}\nimport time\ntime.sleep(30)\n")
    script.chmod(0o755)
    creds = Credentials(config(exec=ExecConfig(command=str(script))), exec_timeout=0.3)
    with pytest.raises(CredentialsError, match=r"did not finish within 0\.3s"):
        await creds.auth_headers()


# -- TLS ------------------------------------------------------------------------------------------


async def handshake(context: ssl.SSLContext, server_context: ssl.SSLContext) -> str | None:
    """Connect with ``context``; the common name of the client certificate the server saw."""
    seen: list[str | None] = []

    async def on_client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        cert = writer.get_extra_info("peercert")
        subject = dict(x[0] for x in cert["subject"]) if cert else {}
        seen.append(subject.get("commonName"))
        writer.close()

    server = await asyncio.start_server(on_client, "127.0.0.1", 0, ssl=server_context)
    port = server.sockets[0].getsockname()[1]
    async with server:
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", port, ssl=context, server_hostname="127.0.0.1"
        )
        await reader.read()
        writer.close()
        await writer.wait_closed()
    return seen[0]


def pki() -> tuple[trustme.CA, ssl.SSLContext]:
    ca = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_context)
    ca.configure_trust(server_context)
    server_context.verify_mode = ssl.CERT_OPTIONAL
    return ca, server_context


async def test_ssl_context_trusts_the_ca_and_presents_the_client_cert():
    """The kubeconfig's CA verifies the server; its client certificate is presented."""
    ca, server_context = pki()
    me = ca.issue_cert("alice@example.com", common_name="alice")
    creds = Credentials(
        config(
            ca_data=ca.cert_pem.bytes(),
            client_cert=me.cert_chain_pems[0].bytes(),
            client_key=me.private_key_pem.bytes(),
        )
    )
    context = creds.ssl_context()
    assert context is not None and context is creds.ssl_context()
    assert await handshake(context, server_context) == "alice"


async def test_ssl_context_without_the_ca_fails_verification():
    """Without the cluster CA the server's certificate is not trusted."""
    _, server_context = pki()
    context = Credentials(config()).ssl_context()
    assert context is not None
    with pytest.raises(ssl.SSLCertVerificationError):
        await handshake(context, server_context)


async def test_insecure_skips_verification():
    """insecure-skip-tls-verify accepts any server certificate."""
    _, server_context = pki()
    context = Credentials(config(insecure=True)).ssl_context()
    assert context is not None
    assert await handshake(context, server_context) is None


async def test_exec_plugin_client_certificate_is_presented(tmp_path):
    """A plugin's clientCertificateData/clientKeyData become the TLS client certificate."""
    ca, server_context = pki()
    me = ca.issue_cert("robot@example.com", common_name="robot")
    status = {
        "clientCertificateData": me.cert_chain_pems[0].bytes().decode(),
        "clientKeyData": me.private_key_pem.bytes().decode(),
    }
    creds = Credentials(config(exec=plugin(tmp_path, status), ca_data=ca.cert_pem.bytes()))
    assert await creds.auth_headers() == []
    context = creds.ssl_context()
    assert context is not None
    assert await handshake(context, server_context) == "robot"


def test_plain_http_server_has_no_ssl_context():
    """An http:// server gets no TLS context."""
    assert Credentials(config(server="http://127.0.0.1:8080")).ssl_context() is None


def test_bad_client_key_is_a_clear_error():
    """A certificate that does not load names the user."""
    creds = Credentials(config(client_cert=b"not a cert", client_key=b"not a key"))
    with pytest.raises(CredentialsError, match='client certificate of user "u"'):
        creds.ssl_context()
