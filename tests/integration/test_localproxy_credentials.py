"""The credentials ``kubegate proxy`` adds come from the kubeconfig: a bearer token, or an exec
plugin (re-run after the API server answers 401), against a kubegate with a token file."""

from __future__ import annotations

import json
import stat
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from integration.localproxy_harness import start_kubegate_proxy
from serverkit import ServerProcess, start_server_process

GOOD = "good-token-0123456789"


@pytest.fixture(scope="module")
def kg(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess, Path]]:
    data = tmp_path_factory.mktemp("localproxy-creds")
    tokens = data / "tokens.csv"
    tokens.write_text(f'{GOOD},alice,u1,"system:masters"\n')
    srv = start_server_process(data / "kg", "--token-auth-file", str(tokens))
    yield srv, data
    srv.stop()


def _kubeconfig(path: Path, server: ServerProcess, user: dict) -> str:  # type: ignore[type-arg]
    ca = (server.data_dir / "ca.crt").resolve()
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": "c",
        "clusters": [
            {"name": "c", "cluster": {"server": server.url, "certificate-authority": str(ca)}}
        ],
        "users": [{"name": "u", "user": user}],
        "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}],
    }
    path.write_text(json.dumps(doc))
    return str(path)


async def test_bearer_token_from_the_kubeconfig(
    kg: tuple[ServerProcess, Path], tmp_path: Path
) -> None:
    """A kubeconfig token authenticates every proxied request; a wrong one is the server's 401."""
    server, _ = kg
    good = start_kubegate_proxy(_kubeconfig(tmp_path / "good", server, {"token": GOOD}))
    bad = start_kubegate_proxy(_kubeconfig(tmp_path / "bad", server, {"token": "wrong"}))
    try:
        assert (await good.request("GET", "/api/v1/namespaces")).status == 200
        assert (await bad.request("GET", "/api/v1/namespaces")).status == 401
    finally:
        good.stop()
        bad.stop()


async def test_exec_plugin_is_rerun_after_a_401(
    kg: tuple[ServerProcess, Path], tmp_path: Path
) -> None:
    """An exec plugin's token is used; after a 401 the plugin runs again and its new token works."""
    server, _ = kg
    current, runs = tmp_path / "current-token", tmp_path / "runs"
    current.write_text("stale-token")
    plugin = tmp_path / "plugin.py"
    plugin.write_text(
        f"#!{sys.executable}\n"
        "import json, pathlib\n"
        f"pathlib.Path({str(runs)!r}).open('a').write('run\\n')\n"
        f"token = pathlib.Path({str(current)!r}).read_text().strip()\n"
        "print(json.dumps({'apiVersion': 'client.authentication.k8s.io/v1', "
        "'kind': 'ExecCredential', 'status': {'token': token}}))\n"
    )
    plugin.chmod(plugin.stat().st_mode | stat.S_IXUSR)
    user = {
        "exec": {
            "apiVersion": "client.authentication.k8s.io/v1",
            "command": str(plugin),
            "interactiveMode": "Never",
        }
    }
    running = start_kubegate_proxy(_kubeconfig(tmp_path / "config", server, user))
    try:
        assert (await running.request("GET", "/api/v1/namespaces")).status == 401
        current.write_text(GOOD)
        assert (await running.request("GET", "/api/v1/namespaces")).status == 200
        assert (await running.request("GET", "/api/v1/namespaces")).status == 200
        assert runs.read_text().count("run") == 2  # cached between 401s
    finally:
        running.stop()
