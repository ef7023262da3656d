"""Shared fixtures: a real kubegate server process on a free port, and the pinned kubectl.

The helpers behind them live in ``serverkit.py``; import them from there. They are
re-exported here only so that tests still saying ``from conftest import ...`` keep working.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator

import pytest
from hypothesis import settings

from kubegate.store.memory import MemoryStore
from serverkit import ROOT, Kubectl, ServerProcess, kubectl_binary, start_server_process

__all__ = ["ROOT", "Kubectl", "ServerProcess", "kubectl_binary", "start_server_process"]

# Property tests: `make test` (CI) replays a fixed sequence of examples so a red build always
# means a change broke something; `make test-all` explores new random examples each run (a
# failure there is a new finding: add it as an @example and fix it).
settings.register_profile("ci", derandomize=True, print_blob=True)
settings.register_profile("explore", print_blob=True)
settings.load_profile(os.environ.get("KUBEGATE_HYPOTHESIS_PROFILE", "ci"))


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


@pytest.fixture
async def store() -> AsyncIterator[MemoryStore]:
    """An empty, started in-memory Store (the reference backend), closed afterwards."""
    memory = MemoryStore()
    await memory.start()
    yield memory
    await memory.close()
