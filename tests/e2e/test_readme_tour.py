"""The README's tour runs as written: its shell blocks, run by bash against `kubegate serve
--demo` (the server `make run` starts), succeed and print what the tour says they print.

The blocks are taken from README.md at test time, so an edit that breaks the tour fails
here. Only what cannot hold on a test machine is changed, textually and visibly below: the
server's port (6443 → a free one), the local proxies' ports (8080/8081 → free ones), the
interactive watch (bounded with ``timeout``), and the fixed ``sleep`` before the local
proxies answer (replaced by polling them). kubectl's discovery cache lands in the test's
own HOME, never in the user's ``~/.kube/cache``.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from serverkit import ROOT, ServerProcess, start_server_process

README = ROOT / "README.md"
TOUR_SECTIONS = (
    "## A short tour",
    "### Reaching services through the API server proxy",
    "### Local proxy",
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def readme_block(heading: str) -> str:
    """The first ```sh block after ``heading`` in README.md."""
    text = README.read_text()
    start = text.index(heading + "\n")
    match = re.compile(r"```sh\n(.*?)```", re.S).search(text, start)
    assert match is not None, f"no sh block after {heading!r}"
    return match.group(1)


def _poll_ports(ports: tuple[int, ...]) -> str:
    """Shell that waits (up to 30 s) until each local port accepts connections."""
    checks = " && ".join(f"curl -s -o /dev/null http://127.0.0.1:{p}/" for p in ports)
    return f"for i in $(seq 300); do {checks} && break; sleep 0.1; done"


@pytest.fixture(scope="module")
def tour(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess, Path]]:
    """A working directory laid out like the repository after `make run`: `.venv` and the
    server's state in `./.kubegate`, with `kubegate serve --demo` on the default store."""
    work = tmp_path_factory.mktemp("tour")
    (work / ".venv").symlink_to(ROOT / ".venv")
    (work / "home").mkdir()
    state = work / ".kubegate"
    server = start_server_process(state, "--demo", store=f"sqlite:{state}/state.db")
    yield server, work
    server.stop()


def run_block(tour: tuple[ServerProcess, Path], script: str) -> str:
    server, work = tour
    env = {
        **os.environ,
        "HOME": str(work / "home"),
        "KUBECONFIG": str(work / ".kubegate" / "admin.kubeconfig"),
        "NO_PROXY": "*",
    }
    env.pop("HTTPS_PROXY", None)
    env.pop("HTTP_PROXY", None)
    script = script.replace("https://127.0.0.1:6443", server.url)
    result = subprocess.run(
        ["bash", "-e", "-o", "pipefail", "-c", script],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, f"tour block failed:\n{script}\n{result.stdout}\n{result.stderr}"
    return result.stdout


def test_the_server_tour_runs(tour: tuple[ServerProcess, Path]) -> None:
    """The first block (kubectl against the server: cluster-info, a Service with its
    EndpointSlice, label, patch, watch, explain, namespace deletion) succeeds."""
    block = readme_block(TOUR_SECTIONS[0])
    watch = "$K get svc -n shop -w"
    assert watch in block
    script = block.replace(watch, f"timeout 3 {watch} || test $? -eq 124")
    out = run_block(tour, script)
    assert "Kubernetes control plane is running at" in out
    assert re.search(r"is running at \S*/api/v1/namespaces/kube-system/services/\S*echo", out), out
    assert "service/web created" in out and "endpointslice.discovery.k8s.io/web-1 created" in out
    assert "service/web labeled" in out and "service/web patched" in out
    assert 'namespace "shop" deleted' in out


def test_the_proxy_tour_reaches_the_demo_services(tour: tuple[ServerProcess, Path]) -> None:
    """Every curl and kubectl line of the proxy block reaches its demo backend, which echoes
    the path and query and never sees the bearer token."""
    block = readme_block(TOUR_SECTIONS[1])
    out = run_block(tour, block)
    token = (tour[1] / ".kubegate" / "admin.token").read_text().strip()
    assert token not in out
    assert out.count('"/hello"') + out.count('"path": "/hello"') >= 1, out
    assert "x=1" in out
    assert "X-Forwarded-Prefix" in out or "x-forwarded-prefix" in out.lower()
    assert "Status" not in out, out


def test_the_local_proxy_tour_serves_both_ways(tour: tuple[ServerProcess, Path]) -> None:
    """The local proxy block: `kubegate proxy` on a port and in service mode at `/` both
    answer, and both background proxies are stopped by the block's own `kill`."""
    block = readme_block(TOUR_SECTIONS[2])
    api_port, service_port = _free_port(), _free_port()
    sleep = re.search(r"^sleep 2 .*$", block, re.M)
    assert sleep is not None, block
    script = (
        block.replace(sleep.group(0), _poll_ports((api_port, service_port)))
        .replace("8080", str(api_port))
        .replace("8081", str(service_port))
    )
    out = run_block(tour, script)
    assert '"path"' in out or "/proxy/" in out, out
    assert "<html" in out.lower(), out
    for port in (api_port, service_port):
        with socket.socket() as s:
            s.settimeout(2)
            assert s.connect_ex(("127.0.0.1", port)) != 0, f"port {port} still served"
