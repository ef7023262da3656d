"""Fixtures of the proxy suite: one kubegate that may reach loopback backends, the
backends of each test, and a fresh namespace per test (see ``harness``)."""

from __future__ import annotations

from integration.proxy.harness import backends_fixture, cluster_fixture, kubegate_fixture

# One server for the whole suite: every test works in its own namespace.
kg = kubegate_fixture("--proxy-allow-cidrs", "127.0.0.0/8", scope="session")
backends = backends_fixture()
cluster = cluster_fixture("kg")
