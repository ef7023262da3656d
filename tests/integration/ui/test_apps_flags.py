"""``kubegate serve --apps-domain`` refuses values that cannot name app origins."""

from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.mark.parametrize("domain", ["localhost", "*.apps.localhost", "apps_x.localhost", "a..b"])
def test_bad_apps_domain_stops_the_start(tmp_path, domain):
    """A domain that is not a DNS name of two or more labels exits 2 before anything starts."""
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "kubegate.cli.main",
            "serve",
            "--data-dir",
            str(tmp_path / "d"),
            "--store",
            "memory:",
            "--secure-port",
            "0",
            "--apps-domain",
            domain,
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2, result
    assert "--apps-domain" in result.stderr
    assert not (tmp_path / "d").exists()
