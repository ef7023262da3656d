"""Kubeconfig loading: files, merge, overrides -> one frozen ``ClientConfig``.

kubectl's rules (client-go ``tools/clientcmd``: ``loader.go``, ``client_config.go``,
``validation.go``), so that a kubeconfig means the same thing to kubegate as to kubectl:

- the files and how they merge (``--kubeconfig``, ``KUBECONFIG``, ``$HOME/.kube/config``):
  :mod:`kubegate.client.kubeconfig_merge`;
- ``--context`` picks the context, ``--cluster`` and ``--user`` replace its cluster and user,
  ``-n`` its namespace (``default`` when none is set);
- the chosen entries are checked as kubectl checks them
  (:mod:`kubegate.client.kubeconfig_validation`); ``*-data`` fields are inline base64, the
  other file references were made absolute by the merge;
- the forward proxy is the cluster's ``proxy-url``, else ``HTTPS_PROXY``/``HTTP_PROXY`` less
  ``NO_PROXY`` from ``env`` (:mod:`kubegate.client.kubeconfig_proxy`).

Unlike kubectl, an empty configuration is an error rather than a silent
``http://localhost:8080`` (unless ``KUBERNETES_MASTER`` names a server, or the process runs
in a pod with a mounted service-account token, as client-go's in-cluster config).

Every problem is a ``KubeconfigError`` whose text is the line kubectl prints for it. Nothing
here reads ``os.environ``: the caller passes ``env`` and ``cwd``.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from kubegate.client.kubeconfig import IN_CLUSTER_ROOT, ClientConfig, ExecConfig, KubeconfigError
from kubegate.client.kubeconfig_merge import merge_kubeconfigs
from kubegate.client.kubeconfig_proxy import ProxyURLError, choose_proxy
from kubegate.client.kubeconfig_validation import validate
from kubegate.core.forward_proxy import ForwardProxy

__all__ = ["load_client_config"]

_EXEC_EXTENSION = "client.authentication.k8s.io/exec"  # cluster extension handed to plugins
_EMPTY_CONFIG = (
    "error: no configuration has been provided, try setting KUBERNETES_MASTER environment variable"
)


def load_client_config(
    *,
    kubeconfig: str | None,
    context: str | None,
    cluster: str | None,
    user: str | None,
    namespace: str | None,
    env: Mapping[str, str],
    cwd: Path,
    in_cluster_root: Path = IN_CLUSTER_ROOT,
) -> ClientConfig:
    """Load, merge and resolve the kubeconfig the way kubectl would for these flags."""
    merged = merge_kubeconfigs(kubeconfig, env, cwd)
    context_name = context or merged.current_context
    if context and context not in merged.contexts:
        raise KubeconfigError(f'error: context "{context}" does not exist')
    if cluster and cluster not in merged.clusters:
        raise KubeconfigError(f'error: cluster "{cluster}" does not exist')
    if user and user not in merged.users:
        raise KubeconfigError(f'error: auth info "{user}" does not exist')
    if context_name and context_name not in merged.contexts:
        raise KubeconfigError(
            "Error in configuration: context was not found for specified context: " + context_name
        )
    ctx = merged.contexts.get(context_name, {})
    cluster_name = cluster or ctx.get("cluster") or ""
    user_name = user or ctx.get("user") or ""
    ns = namespace or ctx.get("namespace") or "default"
    if not cluster_name:
        fallback = _fallback_config(env, in_cluster_root, ns, merged.files == 0)
        if fallback is not None:
            return fallback
    if cluster_name not in merged.clusters:
        if not cluster_name:
            raise KubeconfigError(_EMPTY_CONFIG)
        raise KubeconfigError(
            f'Error in configuration: cluster "{cluster_name}" was not found for context '
            f'"{context_name}"'
        )
    cluster_entry = merged.clusters[cluster_name]
    user_entry = merged.users.get(user_name, {})  # an unknown user is anonymous, as in kubectl
    errors = validate(cluster_name, cluster_entry, user_name, user_entry)
    if errors:
        raise KubeconfigError(_configuration_error(errors))
    return _client_config(cluster_entry, user_entry, ns, context_name, cluster_name, user_name, env)


def _configuration_error(errors: list[str]) -> str:
    if len(errors) == 1:
        return f"Error in configuration: {errors[0]}"
    return "Error in configuration: \n" + "\n".join(f"* {e}" for e in errors)


def _client_config(
    cluster: dict[str, Any],
    user: dict[str, Any],
    namespace: str,
    context_name: str,
    cluster_name: str,
    user_name: str,
    env: Mapping[str, str],
) -> ClientConfig:
    origin = str(cluster.get("__file__", ""))
    ca_data = _data(cluster, "certificate-authority", origin)
    client_cert = _data(user, "client-certificate", str(user.get("__file__", "")))
    client_key = _data(user, "client-key", str(user.get("__file__", "")))
    insecure = bool(cluster.get("insecure-skip-tls-verify"))
    token = _str_or_none(user.get("token"))
    provider = user.get("auth-provider")
    if provider:
        token = _auth_provider_token(user_name, provider)
    written = str(cluster["server"])
    server = _normalise_server(written, bool(ca_data or client_cert or insecure))
    proxy_url = _str_or_none(cluster.get("proxy-url"))
    return ClientConfig(
        server=server,
        ca_data=ca_data,
        insecure=insecure,
        tls_server_name=_str_or_none(cluster.get("tls-server-name")),
        client_cert=client_cert,
        client_key=client_key,
        token=token,
        token_file=_str_or_none(user.get("tokenFile")),
        username=_str_or_none(user.get("username")),
        password=_str_or_none(user.get("password")),
        exec=_exec_config(user.get("exec"), cluster),
        proxy_url=proxy_url,
        namespace=namespace,
        context=context_name,
        cluster_name=cluster_name,
        user_name=user_name,
        host_as_written=_rest_config_host(written),
        proxy=_proxy(cluster_name, proxy_url, server, env),
    )


def _proxy(
    cluster_name: str, proxy_url: str | None, server: str, env: Mapping[str, str]
) -> ForwardProxy | None:
    try:
        return choose_proxy(cluster_name, proxy_url, server, env)
    except ProxyURLError as exc:
        raise KubeconfigError(str(exc)) from None


def _data(entry: dict[str, Any], field: str, origin: str) -> bytes | None:
    """``<field>-data`` (base64, wins) or the contents of the file ``<field>`` names."""
    inline = entry.get(f"{field}-data")
    if inline:
        try:
            return base64.b64decode(str(inline), validate=True)
        except (binascii.Error, ValueError) as exc:
            raise KubeconfigError(
                f'error: error loading config file "{origin}": {field}-data is not valid '
                f"base64: {exc}"
            ) from exc
    path = entry.get(field)
    if path:
        return Path(path).read_bytes()  # validated readable just before
    return None


def _str_or_none(value: Any) -> str | None:
    return str(value) if value not in (None, "") else None


def _auth_provider_token(user_name: str, provider: Any) -> str:
    """The legacy auth-provider: only an oidc ``id-token`` is used (as is, never refreshed)."""
    name = str(provider.get("name", "")) if isinstance(provider, dict) else ""
    config = provider.get("config") or {} if isinstance(provider, dict) else {}
    if name == "oidc" and config.get("id-token"):
        return str(config["id-token"])
    raise KubeconfigError(
        f'error: the auth-provider "{name}" of user "{user_name}" is not supported; use an exec '
        "credential plugin instead (gke-gcloud-auth-plugin for GKE, kubelogin for Azure and "
        "OIDC)"
    )


def _exec_config(entry: Any, cluster: dict[str, Any]) -> ExecConfig | None:
    if not entry:
        return None
    extension = None
    for item in cluster.get("extensions") or []:
        if isinstance(item, dict) and item.get("name") == _EXEC_EXTENSION:
            extension = item.get("extension")
    return ExecConfig(
        command=str(entry["command"]),
        args=tuple(str(a) for a in entry.get("args") or ()),
        env=tuple((str(e["name"]), str(e.get("value", ""))) for e in entry.get("env") or ()),
        api_version=str(entry["apiVersion"]),
        install_hint=str(entry.get("installHint") or ""),
        provide_cluster_info=bool(entry.get("provideClusterInfo")),
        interactive_mode=str(entry.get("interactiveMode") or ""),
        cluster_config=extension,
    )


def _rest_config_host(written: str) -> str:
    """client-go keeps the server as written, except that a URL with a path loses its query
    and fragment (``DirectClientConfig.ClientConfig``); kubectl cluster-info prints this."""
    scheme, sep, rest = written.partition("://")
    if not sep:
        return written
    authority_end = min((i for i in (rest.find(c) for c in "/?#") if i >= 0), default=len(rest))
    path = rest[authority_end:].split("?", 1)[0].split("#", 1)[0]
    if len(path) > 1:
        return f"{scheme}://{rest[:authority_end]}{path}"
    return written


def _normalise_server(written: str, default_tls: bool) -> str:
    """The URL requests go to: a missing scheme is https only with TLS material (client-go's
    ``DefaultServerURL``); no query, fragment or trailing slash."""
    url = written if "://" in written else ("https://" if default_tls else "http://") + written
    url = url.split("#", 1)[0].split("?", 1)[0]
    return url.rstrip("/")


def _fallback_config(
    env: Mapping[str, str], in_cluster_root: Path, namespace: str, empty: bool
) -> ClientConfig | None:
    """With no cluster chosen: ``KUBERNETES_MASTER``, or client-go's in-cluster config."""
    master = env.get("KUBERNETES_MASTER")
    if master:
        return _bare_config(master, namespace, env)
    host, port = env.get("KUBERNETES_SERVICE_HOST"), env.get("KUBERNETES_SERVICE_PORT")
    token_file = in_cluster_root / "token"
    if not (empty and host and port and token_file.exists()):
        return None
    hostport = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    ca_file = in_cluster_root / "ca.crt"
    ns_file = in_cluster_root / "namespace"
    if namespace == "default" and ns_file.exists():
        namespace = ns_file.read_text().strip() or namespace
    return _bare_config(
        f"https://{hostport}",
        namespace,
        env,
        ca_data=ca_file.read_bytes() if ca_file.exists() else None,
        token_file=str(token_file),
    )


def _bare_config(
    server: str,
    namespace: str,
    env: Mapping[str, str],
    *,
    ca_data: bytes | None = None,
    token_file: str | None = None,
) -> ClientConfig:
    """A configuration that no kubeconfig cluster describes (KUBERNETES_MASTER, in-cluster)."""
    normalised = _normalise_server(server, False)
    return ClientConfig(
        server=normalised,
        ca_data=ca_data,
        insecure=False,
        tls_server_name=None,
        client_cert=None,
        client_key=None,
        token=None,
        token_file=token_file,
        username=None,
        password=None,
        exec=None,
        proxy_url=None,
        namespace=namespace,
        context="",
        cluster_name="",
        user_name="",
        host_as_written=server,
        proxy=_proxy("", None, normalised, env),
    )
