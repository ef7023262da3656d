"""The controllers' Lease as kubectl shows it, and the leadership gauge, on a single server."""

from __future__ import annotations

import re
import time

import pytest

pytestmark = pytest.mark.e2e


def test_kubectl_get_lease_shows_this_server_as_the_holder(kubectl) -> None:
    """A single server takes the Lease at start: `kubectl get lease` lists it with a holder."""
    deadline = time.monotonic() + 10
    while True:
        result = kubectl.run("get", "lease", "-n", "kube-system", check=False)
        row = re.search(r"^kubegate-controller-manager\s+(\S+)\s+\S+$", result.stdout, re.M)
        if row or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert result.stdout.splitlines()[0].split() == ["NAME", "HOLDER", "AGE"]
    assert row is not None, result.stdout + result.stderr
    lease = kubectl.json("get", "lease", "-n", "kube-system", "kubegate-controller-manager")
    assert row.group(1) == lease["spec"]["holderIdentity"]


def test_metrics_report_this_server_as_the_leader(kubectl) -> None:
    """/metrics carries leader_election_master_status 1 for the controller Lease."""
    leading = 'leader_election_master_status{name="kubegate-controller-manager"} 1.0'
    deadline = time.monotonic() + 10
    while leading not in (metrics := kubectl.run("get", "--raw", "/metrics").stdout):
        assert time.monotonic() < deadline, [m for m in metrics.splitlines() if "leader" in m]
        time.sleep(0.1)
