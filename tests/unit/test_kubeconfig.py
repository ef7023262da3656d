"""Kubeconfig loading: kubectl's file selection, merge precedence, overrides, paths, errors."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
import yaml

from kubegate.client.kubeconfig import ClientConfig, KubeconfigError
from kubegate.client.kubeconfig_loader import load_client_config


def kubeconfig(
    *,
    clusters: dict[str, dict[str, Any]] | None = None,
    users: dict[str, dict[str, Any]] | None = None,
    contexts: dict[str, dict[str, Any]] | None = None,
    current: str | None = None,
) -> dict[str, Any]:
    doc: dict[str, Any] = {"apiVersion": "v1", "kind": "Config"}
    if clusters is not None:
        doc["clusters"] = [{"name": n, "cluster": c} for n, c in clusters.items()]
    if users is not None:
        doc["users"] = [{"name": n, "user": u} for n, u in users.items()]
    if contexts is not None:
        doc["contexts"] = [{"name": n, "context": c} for n, c in contexts.items()]
    if current is not None:
        doc["current-context"] = current
    return doc


def simple(server: str = "https://10.0.0.1:6443", **user: Any) -> dict[str, Any]:
    return kubeconfig(
        clusters={"c": {"server": server}},
        users={"u": user or {"token": "t"}},
        contexts={"ctx": {"cluster": "c", "user": "u"}},
        current="ctx",
    )


def write(path: Path, doc: dict[str, Any] | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(doc if isinstance(doc, str) else yaml.safe_dump(doc))
    return path


def load(
    tmp_path: Path,
    *,
    kubeconfig: str | None = None,
    env: dict[str, str] | None = None,
    context: str | None = None,
    cluster: str | None = None,
    user: str | None = None,
    namespace: str | None = None,
) -> ClientConfig:
    return load_client_config(
        kubeconfig=kubeconfig,
        context=context,
        cluster=cluster,
        user=user,
        namespace=namespace,
        env=env if env is not None else {"HOME": str(tmp_path / "home")},
        cwd=tmp_path,
        in_cluster_root=tmp_path / "no-in-cluster",
    )


# -- which files ----------------------------------------------------------------------------------


def test_explicit_kubeconfig_relative_to_cwd(tmp_path):
    """--kubeconfig is read relative to the working directory."""
    write(tmp_path / "conf" / "kc.yaml", simple())
    config = load(tmp_path, kubeconfig="conf/kc.yaml")
    assert (config.server, config.context, config.cluster_name, config.user_name) == (
        "https://10.0.0.1:6443",
        "ctx",
        "c",
        "u",
    )


def test_explicit_kubeconfig_wins_over_env(tmp_path):
    """--kubeconfig ignores KUBECONFIG entirely."""
    write(tmp_path / "a.yaml", simple("https://a:1"))
    write(tmp_path / "b.yaml", simple("https://b:1"))
    config = load(tmp_path, kubeconfig="b.yaml", env={"KUBECONFIG": "a.yaml"})
    assert config.server == "https://b:1"


def test_home_kube_config_is_the_default(tmp_path):
    """Without --kubeconfig or KUBECONFIG, $HOME/.kube/config is read."""
    write(tmp_path / "home" / ".kube" / "config", simple("https://home:6443"))
    assert load(tmp_path).server == "https://home:6443"


def test_empty_kubeconfig_env_falls_back_to_home(tmp_path):
    """An empty KUBECONFIG is as if unset."""
    write(tmp_path / "home" / ".kube" / "config", simple("https://home:6443"))
    env = {"KUBECONFIG": "", "HOME": str(tmp_path / "home")}
    assert load(tmp_path, env=env).server == "https://home:6443"


# -- merging --------------------------------------------------------------------------------------

A = kubeconfig(
    clusters={"shared": {"server": "https://from-a:1"}, "only-a": {"server": "https://a-only:1"}},
    users={"admin": {"token": "token-a"}},
    contexts={"both": {"cluster": "shared", "user": "admin", "namespace": "ns-a"}},
    current="both",
)
B = kubeconfig(
    clusters={"shared": {"server": "https://from-b:1"}, "only-b": {"server": "https://b-only:1"}},
    users={"admin": {"token": "token-b"}, "viewer": {"token": "token-v"}},
    contexts={
        "both": {"cluster": "only-b", "user": "viewer"},
        "b-ctx": {"cluster": "only-b", "user": "viewer", "namespace": "ns-b"},
    },
    current="b-ctx",
)
NO_CURRENT = kubeconfig(clusters={"x": {"server": "https://x:1"}})


@pytest.mark.parametrize(
    ("files", "flags", "expected"),
    [
        # the first file to define a name wins, for every map, whole entries
        (["a", "b"], {}, ("https://from-a:1", "token-a", "ns-a", "both")),
        (["b", "a"], {}, ("https://b-only:1", "token-v", "ns-b", "b-ctx")),
        # current-context from the first file that sets it, even if a later file defines it
        (["none", "b", "a"], {}, ("https://b-only:1", "token-v", "ns-b", "b-ctx")),
        # names only a later file defines are still there
        (["a", "b"], {"context": "b-ctx"}, ("https://b-only:1", "token-v", "ns-b", "b-ctx")),
        (["a", "b"], {"cluster": "only-b"}, ("https://b-only:1", "token-a", "ns-a", "both")),
        (["a", "b"], {"user": "viewer"}, ("https://from-a:1", "token-v", "ns-a", "both")),
        (["a", "b"], {"namespace": "flag-ns"}, ("https://from-a:1", "token-a", "flag-ns", "both")),
        # missing files and repeated entries are skipped
        (["missing", "b", "b", "a"], {}, ("https://b-only:1", "token-v", "ns-b", "b-ctx")),
    ],
)
def test_kubeconfig_env_merge(tmp_path, files, flags, expected):
    """KUBECONFIG files merge with kubectl's precedence; flags override the context."""
    for name, doc in (("a", A), ("b", B), ("none", NO_CURRENT)):
        write(tmp_path / f"{name}.yaml", doc)
    env = {"KUBECONFIG": ":".join(f"{f}.yaml" for f in files)}
    config = load(tmp_path, env=env, **flags)
    assert (config.server, config.token, config.namespace, config.context) == expected


def test_context_without_namespace_uses_default(tmp_path):
    """A context without a namespace means namespace "default"."""
    write(tmp_path / "kc", simple())
    assert load(tmp_path, kubeconfig="kc").namespace == "default"


# -- paths and inline data ----------------------------------------------------------------------


def test_relative_file_references_resolve_against_the_kubeconfig_dir(tmp_path):
    """certificate-authority, client-certificate, client-key and tokenFile are file-relative."""
    conf = tmp_path / "conf"
    write(conf / "pki" / "ca.crt", "CA-PEM")
    write(conf / "pki" / "me.crt", "CERT-PEM")
    write(conf / "pki" / "me.key", "KEY-PEM")
    doc = kubeconfig(
        clusters={"c": {"server": "https://s:1", "certificate-authority": "pki/ca.crt"}},
        users={"u": {"client-certificate": "pki/me.crt", "client-key": "pki/me.key"}},
        contexts={"ctx": {"cluster": "c", "user": "u"}},
        current="ctx",
    )
    write(conf / "kc.yaml", doc)
    config = load(tmp_path, env={"KUBECONFIG": "conf/kc.yaml"})
    assert (config.ca_data, config.client_cert, config.client_key) == (
        b"CA-PEM",
        b"CERT-PEM",
        b"KEY-PEM",
    )


def test_token_file_is_made_absolute(tmp_path):
    """tokenFile is resolved against the kubeconfig directory, and not read at load time."""
    write(tmp_path / "conf" / "kc", simple(tokenFile="token"))
    config = load(tmp_path, kubeconfig="conf/kc")
    assert config.token_file == str(tmp_path / "conf" / "token")


def test_exec_command_with_a_slash_is_file_relative(tmp_path):
    """An exec command with a "/" is relative to the kubeconfig; a bare name is left for PATH."""
    exec_rel = {"command": "./bin/plugin", "apiVersion": "client.authentication.k8s.io/v1"}
    exec_bare = {"command": "plugin", "apiVersion": "client.authentication.k8s.io/v1"}
    write(tmp_path / "conf" / "rel", simple(exec=exec_rel))
    write(tmp_path / "conf" / "bare", simple(exec=exec_bare))
    rel = load(tmp_path, kubeconfig="conf/rel").exec
    bare = load(tmp_path, kubeconfig="conf/bare").exec
    assert rel is not None and rel.command == str(tmp_path / "conf" / "bin" / "plugin")
    assert bare is not None and bare.command == "plugin"


def test_inline_data_is_base64_and_wins_over_files(tmp_path):
    """*-data fields are decoded; certificate-authority-data wins over certificate-authority."""
    b64 = lambda s: base64.b64encode(s.encode()).decode()  # noqa: E731
    doc = kubeconfig(
        clusters={
            "c": {
                "server": "https://s:1",
                "certificate-authority": "missing.crt",
                "certificate-authority-data": b64("INLINE-CA"),
                "insecure-skip-tls-verify": True,
                "tls-server-name": "api.internal",
                "proxy-url": "http://proxy:3128",
            }
        },
        users={"u": {"client-certificate-data": b64("C"), "client-key-data": b64("K")}},
        contexts={"ctx": {"cluster": "c", "user": "u"}},
        current="ctx",
    )
    write(tmp_path / "kc", doc)
    config = load(tmp_path, kubeconfig="kc")
    assert (config.ca_data, config.client_cert, config.client_key) == (b"INLINE-CA", b"C", b"K")
    assert (config.insecure, config.tls_server_name, config.proxy_url) == (
        True,
        "api.internal",
        "http://proxy:3128",
    )


@pytest.mark.parametrize(
    ("written", "server", "host"),
    [
        ("https://1.2.3.4:6443", "https://1.2.3.4:6443", "https://1.2.3.4:6443"),
        ("https://1.2.3.4:6443/", "https://1.2.3.4:6443", "https://1.2.3.4:6443/"),
        ("https://h/prefix/", "https://h/prefix", "https://h/prefix/"),
        ("https://h/prefix?x=1#f", "https://h/prefix", "https://h/prefix"),
        ("https://h?x=1", "https://h", "https://h?x=1"),
        ("10.0.0.1:8080", "http://10.0.0.1:8080", "10.0.0.1:8080"),
    ],
)
def test_server_url_and_host_as_written(tmp_path, written, server, host):
    """server is the request base; host_as_written is what kubectl's REST config holds."""
    write(tmp_path / "kc", simple(written))
    config = load(tmp_path, kubeconfig="kc")
    assert (config.server, config.host_as_written) == (server, host)


def test_exec_config_fields(tmp_path):
    """Every exec field is carried, and the cluster's exec extension rides along."""
    exec_entry = {
        "command": "/bin/plugin",
        "args": ["get-token", "--x"],
        "env": [{"name": "A", "value": "1"}],
        "apiVersion": "client.authentication.k8s.io/v1beta1",
        "installHint": "install it",
        "provideClusterInfo": True,
        "interactiveMode": "Never",
    }
    doc = simple(exec=exec_entry)
    doc["clusters"][0]["cluster"]["extensions"] = [
        {"name": "client.authentication.k8s.io/exec", "extension": {"audience": "me"}}
    ]
    write(tmp_path / "kc", doc)
    spec = load(tmp_path, kubeconfig="kc").exec
    assert spec is not None
    assert (spec.args, spec.env, spec.api_version, spec.install_hint) == (
        ("get-token", "--x"),
        (("A", "1"),),
        "client.authentication.k8s.io/v1beta1",
        "install it",
    )
    assert (spec.provide_cluster_info, spec.interactive_mode, spec.cluster_config) == (
        True,
        "Never",
        {"audience": "me"},
    )


def test_oidc_auth_provider_id_token_is_a_bearer_token(tmp_path):
    """The legacy oidc auth-provider's id-token is used as the bearer token."""
    provider = {"name": "oidc", "config": {"id-token": "jwt", "idp-issuer-url": "https://i"}}
    write(tmp_path / "kc", simple(**{"auth-provider": provider}))
    assert load(tmp_path, kubeconfig="kc").token == "jwt"


def test_kubernetes_master_names_the_server_of_an_empty_config(tmp_path):
    """With no kubeconfig at all, KUBERNETES_MASTER is the server."""
    config = load(tmp_path, env={"KUBERNETES_MASTER": "http://127.0.0.1:8080"})
    assert (config.server, config.namespace) == ("http://127.0.0.1:8080", "default")


def test_in_cluster_config(tmp_path):
    """In a pod with no kubeconfig, the service-account token and CA are used."""
    root = tmp_path / "sa"
    write(root / "token", "sa-token\n")
    write(root / "ca.crt", "CA")
    write(root / "namespace", "team-a")
    config = load_client_config(
        kubeconfig=None,
        context=None,
        cluster=None,
        user=None,
        namespace=None,
        env={"KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443"},
        cwd=tmp_path,
        in_cluster_root=root,
    )
    assert (config.server, config.token_file, config.ca_data, config.namespace) == (
        "https://10.96.0.1:443",
        str(root / "token"),
        b"CA",
        "team-a",
    )


# -- errors ---------------------------------------------------------------------------------------

BAD_FILES = {
    "not-yaml": "clusters: [",
    "a-list": "- a\n- b\n",
    "a-pod": "apiVersion: v1\nkind: Pod\n",
    "dup": yaml.safe_dump(
        {"clusters": [{"name": "c", "cluster": {}}, {"name": "c", "cluster": {}}]}
    ),
    "bad-b64": yaml.safe_dump(
        simple(**{"client-certificate-data": "!!not base64", "client-key-data": "QQ=="})
    ),
}


@pytest.mark.parametrize(
    ("kind", "flags", "message"),
    [
        ("none", {}, "error: no configuration has been provided, try setting KUBERNETES_MASTER"),
        ("missing", {}, "error: stat missing.yaml: no such file or directory"),
        ("not-yaml", {}, 'error: error loading config file "not-yaml": yaml: line 1:'),
        ("a-list", {}, 'error: error loading config file "a-list": not a kubeconfig'),
        ("a-pod", {}, 'no kind "Pod" is registered for version "v1"'),
        ("dup", {}, 'duplicate name "c" in clusters'),
        ("bad-b64", {}, "client-certificate-data is not valid base64"),
        ("good", {"context": "nope"}, 'error: context "nope" does not exist'),
        ("good", {"cluster": "nope"}, 'error: cluster "nope" does not exist'),
        ("good", {"user": "nope"}, 'error: auth info "nope" does not exist'),
        ("ghost", {}, "Error in configuration: context was not found for specified context: gh"),
        ("no-cluster", {}, 'Error in configuration: cluster "gone" was not found for context'),
        ("no-server", {}, "Error in configuration: cluster has no server defined"),
    ],
)
def test_unusable_kubeconfig_errors(tmp_path, kind, flags, message):
    """Every unusable configuration is a KubeconfigError with kubectl's text."""
    for name, text in BAD_FILES.items():
        write(tmp_path / name, text)
    write(tmp_path / "good", simple())
    write(tmp_path / "ghost", kubeconfig(current="ghost"))
    write(tmp_path / "no-cluster", kubeconfig(contexts={"x": {"cluster": "gone"}}, current="x"))
    write(
        tmp_path / "no-server",
        kubeconfig(clusters={"c": {}}, contexts={"x": {"cluster": "c"}}, current="x"),
    )
    path = {"none": None, "missing": "missing.yaml"}.get(kind, kind)
    with pytest.raises(KubeconfigError) as info:
        load(tmp_path, kubeconfig=path, **flags)
    assert str(info.value).startswith(message) or message in str(info.value)


@pytest.mark.parametrize(
    ("user", "problems"),
    [
        (
            {"client-certificate": "x.crt"},
            [
                "client-key-data or client-key must be specified for u to use the clientCert "
                "authentication method.",
                "unable to read client-cert {dir}/x.crt for u due to open {dir}/x.crt: no such "
                "file or directory",
            ],
        ),
        (
            {
                "client-certificate-data": "QQ==",
                "client-certificate": "c.pem",
                "client-key-data": "QQ==",
            },
            [
                "client-cert-data and client-cert are both specified for u. client-cert-data will override."
            ],
        ),
        (
            {"token": "t", "username": "a", "password": "b"},
            [
                "more than one authentication method found for u; found [token basicAuth], only one is allowed"
            ],
        ),
        (
            {"exec": {"args": ["x"]}},
            [
                "command must be specified for u to use exec authentication plugin",
                "apiVersion must be specified for u to use exec authentication plugin",
            ],
        ),
        (
            {"auth-provider": {"name": "gcp"}},
            None,  # not a validation error: a one-line "not supported"
        ),
    ],
)
def test_invalid_user_is_reported_like_kubectl(tmp_path, user, problems):
    """Validation problems are listed the way kubectl prints them, one bullet each."""
    write(tmp_path / "c.pem", "PEM")
    write(tmp_path / "kc", simple(**user))
    with pytest.raises(KubeconfigError) as info:
        load(tmp_path, kubeconfig="kc")
    text = str(info.value)
    if problems is None:
        assert text.startswith('error: the auth-provider "gcp" of user "u" is not supported')
        assert "\n" not in text
        return
    problems = [p.format(dir=tmp_path) for p in problems]
    if len(problems) == 1:
        assert text == f"Error in configuration: {problems[0]}"
    else:
        assert text == "Error in configuration: \n" + "\n".join(f"* {p}" for p in problems)


def test_unreadable_certificate_authority(tmp_path):
    """A certificate-authority file that cannot be read is named with its cluster."""
    doc = simple()
    doc["clusters"][0]["cluster"]["certificate-authority"] = "ca.crt"
    write(tmp_path / "kc", doc)
    with pytest.raises(
        KubeconfigError, match=r"unable to read certificate-authority .*ca.crt for c"
    ):
        load(tmp_path, kubeconfig="kc")


def test_unknown_context_user_is_anonymous(tmp_path):
    """A context naming an undefined user connects without credentials, as kubectl does."""
    doc = kubeconfig(
        clusters={"c": {"server": "https://s:1"}},
        contexts={"ctx": {"cluster": "c", "user": "ghost"}},
        current="ctx",
    )
    write(tmp_path / "kc", doc)
    config = load(tmp_path, kubeconfig="kc")
    assert (config.token, config.client_cert, config.user_name) == (None, None, "ghost")
