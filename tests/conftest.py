"""Shared fixtures: a real kubegate server process on a free port, and the pinned kubectl.

The helpers behind them live in ``serverkit.py``; import them from there. They are
re-exported here only so that tests still saying ``from conftest import ...`` keep working.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from serverkit import ROOT, Kubectl, ServerProcess, kubectl_binary, start_server_process

__all__ = ["ROOT", "Kubectl", "ServerProcess", "kubectl_binary", "start_server_process"]


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One kubegate server (memory store, demo services) shared by the e2e session."""
    data_dir = tmp_path_factory.mktemp("kubegate-e2e")
    srv = start_server_process(data_dir, "--demo")
    yield srv
    srv.stop()


@pytest.fixture(scope="session")
def kubectl(server: ServerProcess, tmp_path_factory: pytest.TempPathFactory) -> Kubectl:
    return Kubectl(server.kubeconfig, tmp_path_factory.mktemp("kubectl-cache"))
