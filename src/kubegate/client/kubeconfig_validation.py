"""kubectl's kubeconfig validation (client-go ``clientcmd/validation.go``): same checks, same
messages, same order, so that ``Error in configuration`` reads as kubectl's. Pure, apart from
checking that referenced files can be opened."""

from __future__ import annotations

from typing import Any

__all__ = ["EXEC_API_VERSIONS", "validate"]

EXEC_API_VERSIONS = ("client.authentication.k8s.io/v1", "client.authentication.k8s.io/v1beta1")


def validate(
    cluster_name: str, cluster: dict[str, Any], user_name: str, user: dict[str, Any]
) -> list[str]:
    """kubectl's ``validateClusterInfo`` and ``validateAuthInfo``, same messages and order."""
    errors: list[str] = []
    if not cluster.get("server"):
        errors.append("cluster has no server defined")
    has_cert = bool(user.get("client-certificate") or user.get("client-certificate-data"))
    has_key = bool(user.get("client-key") or user.get("client-key-data"))
    if has_cert or has_key:
        if user.get("client-certificate") and user.get("client-certificate-data"):
            errors.append(
                f"client-cert-data and client-cert are both specified for {user_name}. "
                "client-cert-data will override."
            )
        if user.get("client-key") and user.get("client-key-data"):
            errors.append(
                f"client-key-data and client-key are both specified for {user_name}; "
                "client-key-data will override"
            )
        if not has_key:
            errors.append(
                f"client-key-data or client-key must be specified for {user_name} to use the "
                "clientCert authentication method."
            )
        if not has_cert:
            errors.append(
                f"client-cert-data or client-cert must be specified for {user_name} to use the "
                "clientCert authentication method."
            )
        for field, label in (("client-certificate", "client-cert"), ("client-key", "client-key")):
            problem = _unreadable(user.get(field))
            if problem:
                errors.append(
                    f"unable to read {label} {user[field]} for {user_name} due to {problem}"
                )
    methods = []
    if user.get("token") or user.get("tokenFile"):
        methods.append("token")
    if user.get("username") or user.get("password"):
        methods.append("basicAuth")
    if len(methods) > 1:
        errors.append(
            f"more than one authentication method found for {user_name}; found "
            f"[{' '.join(methods)}], only one is allowed"
        )
    exec_entry = user.get("exec")
    if exec_entry is not None:
        errors += _validate_exec(user_name, user, exec_entry)
    if not cluster.get("certificate-authority-data"):
        problem = _unreadable(cluster.get("certificate-authority"))
        if problem:
            errors.append(
                f"unable to read certificate-authority {cluster['certificate-authority']} for "
                f"{cluster_name} due to {problem}"
            )
    return errors


def _validate_exec(user_name: str, user: dict[str, Any], exec_entry: Any) -> list[str]:
    if not isinstance(exec_entry, dict):
        return [f"exec for {user_name} is not a mapping"]
    errors = []
    if user.get("auth-provider"):
        errors.append(
            f"authProvider cannot be provided in combination with an exec plugin for {user_name}"
        )
    if not exec_entry.get("command"):
        errors.append(
            f"command must be specified for {user_name} to use exec authentication plugin"
        )
    version = exec_entry.get("apiVersion")
    if not version:
        errors.append(
            f"apiVersion must be specified for {user_name} to use exec authentication plugin"
        )
    elif version not in EXEC_API_VERSIONS:
        errors.append(
            f'exec plugin: invalid apiVersion "{version}" for {user_name} (kubegate supports '
            f"{' and '.join(EXEC_API_VERSIONS)})"
        )
    for item in exec_entry.get("env") or []:
        if not isinstance(item, dict) or not item.get("name"):
            errors.append(
                f"env variable name must be specified for {user_name} to use exec "
                "authentication plugin"
            )
    return errors


def _unreadable(path: Any) -> str | None:
    if not path:
        return None
    try:
        with open(path, "rb"):
            return None
    except OSError as exc:
        return f"open {path}: {(exc.strerror or str(exc)).lower()}"
