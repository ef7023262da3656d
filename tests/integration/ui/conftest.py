"""Fixtures of the browser-pages suite: one kubegate (loopback backends allowed, plus a
token user ``bob`` with no rights of his own) per module, backends and a namespace per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from integration.proxy.harness import Kubegate, backends_fixture, cluster_fixture, running_kubegate

BOB_TOKEN = "bob-token-0123456789abcdef"

backends = backends_fixture()
cluster = cluster_fixture("kg")


@pytest.fixture(scope="module")
def kg(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kubegate]:
    tokens = tmp_path_factory.mktemp("ui-auth") / "tokens.csv"
    tokens.write_text(f"{BOB_TOKEN},bob,bob-uid\n")
    with running_kubegate(
        "--proxy-allow-cidrs", "127.0.0.0/8", "--token-auth-file", str(tokens)
    ) as running:
        yield running
