"""Which kubeconfig files kubectl reads, and how it merges them (client-go ``loader.go``).

- ``--kubeconfig`` names one file, which must exist;
- otherwise ``KUBECONFIG`` is a colon-separated list, merged in order: for the clusters, users
  and contexts maps the first file to define a name wins (the whole entry), and
  ``current-context`` comes from the first file that sets it; missing files are skipped;
- otherwise ``$HOME/.kube/config`` (absent means an empty configuration);
- file references (certificate-authority, client-certificate, client-key, tokenFile, and an
  exec command containing a ``/``) are relative to the directory of the file that holds them.

A file that cannot be read or is not a kubeconfig is a ``KubeconfigError`` with kubectl's
line. What the merged entries become is :mod:`kubegate.client.kubeconfig_loader`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from kubegate.client.kubeconfig import KubeconfigError

__all__ = ["MergedKubeconfig", "merge_kubeconfigs"]


@dataclass(slots=True)
class MergedKubeconfig:
    """The named entries of all files, each file reference made absolute and the entry's
    file recorded under ``__file__`` (for messages and relative paths)."""

    clusters: dict[str, dict[str, Any]]
    users: dict[str, dict[str, Any]]
    contexts: dict[str, dict[str, Any]]
    current_context: str = ""
    files: int = 0  # files that contributed anything


def merge_kubeconfigs(explicit: str | None, env: Mapping[str, str], cwd: Path) -> MergedKubeconfig:
    """Every kubeconfig file kubectl would read for ``--kubeconfig=explicit``, merged."""
    merged = MergedKubeconfig({}, {}, {})
    for path, shown in _kubeconfig_files(explicit, env, cwd):
        _merge_file(merged, path, shown)
    return merged


def _kubeconfig_files(
    explicit: str | None, env: Mapping[str, str], cwd: Path
) -> list[tuple[Path, str]]:
    """The files to merge, in order, each with its name as the user wrote it."""
    if explicit:
        path = cwd / explicit
        if not path.exists():
            raise KubeconfigError(f"error: stat {explicit}: no such file or directory")
        return [(path, explicit)]
    listed = [entry for entry in env.get("KUBECONFIG", "").split(":") if entry]
    if listed:
        unique = list(dict.fromkeys(listed))  # kubectl drops repeated entries
        return [(cwd / entry, entry) for entry in unique if (cwd / entry).exists()]
    home = env.get("HOME")
    if home:
        default = Path(home, ".kube", "config")
        if default.exists():
            return [(default, str(default))]
    return []


def _merge_file(merged: MergedKubeconfig, path: Path, shown: str) -> None:
    """Add one file's entries: names already defined by an earlier file keep their entry."""
    raw = _read_yaml(path, shown)
    if not raw:
        return
    merged.files += 1
    base = path.parent.resolve()
    for section, key, target in (
        ("clusters", "cluster", merged.clusters),
        ("users", "user", merged.users),
        ("contexts", "context", merged.contexts),
    ):
        for name, entry in _named_entries(shown, raw, section, key).items():
            if name not in target:
                target[name] = _resolve_paths(section, entry, base, path)
    if not merged.current_context:
        merged.current_context = str(raw.get("current-context") or "")


def _read_yaml(path: Path, shown: str) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        reason = (exc.strerror or str(exc)).lower()
        raise KubeconfigError(
            f'error: error loading config file "{shown}": open {shown}: {reason}'
        ) from exc
    except UnicodeDecodeError as exc:
        raise KubeconfigError(
            f'error: error loading config file "{shown}": not UTF-8 text'
        ) from exc
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        detail = f"yaml: line {mark.line + 1}: {problem}" if mark is not None else problem
        raise KubeconfigError(f'error: error loading config file "{shown}": {detail}') from exc
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise KubeconfigError(
            f'error: error loading config file "{shown}": not a kubeconfig (expected a YAML '
            f"mapping, got a {type(raw).__name__})"
        )
    kind = raw.get("kind") or "Config"
    if kind != "Config":
        version = raw.get("apiVersion") or "v1"
        raise KubeconfigError(
            f'error: error loading config file "{shown}": no kind "{kind}" is registered for '
            f'version "{version}"'
        )
    return raw


def _named_entries(
    path: str, raw: dict[str, Any], section: str, key: str
) -> dict[str, dict[str, Any]]:
    items = raw.get(section) or []
    if not isinstance(items, list):
        raise KubeconfigError(f'error: error loading config file "{path}": {section} is not a list')
    entries: dict[str, dict[str, Any]] = {}
    for item in items:
        if not isinstance(item, dict):
            raise KubeconfigError(
                f'error: error loading config file "{path}": an entry of {section} is not a mapping'
            )
        name = str(item.get("name") or "")
        body = item.get(key) or {}
        if not isinstance(body, dict):
            raise KubeconfigError(
                f'error: error loading config file "{path}": {section} entry "{name}" has no '
                f"{key} mapping"
            )
        if name in entries:
            raise KubeconfigError(
                f'error: error loading config file "{path}": duplicate name "{name}" in {section}'
            )
        entries[name] = body
    return entries


_FILE_FIELDS = {
    "clusters": ("certificate-authority",),
    "users": ("client-certificate", "client-key", "tokenFile"),
    "contexts": (),
}


def _resolve_paths(section: str, entry: dict[str, Any], base: Path, path: Path) -> dict[str, Any]:
    """A copy of ``entry`` with its file references made absolute, and where it came from."""
    entry = dict(entry)
    for field in _FILE_FIELDS[section]:
        value = entry.get(field)
        if value:
            entry[field] = str(base / str(value))
    exec_entry = entry.get("exec")
    if section == "users" and isinstance(exec_entry, dict):
        command = str(exec_entry.get("command") or "")
        if "/" in command and not command.startswith("/"):
            entry["exec"] = {**exec_entry, "command": str(base / command)}
    entry["__file__"] = str(path)
    return entry
