"""``kubegate cluster-info`` and ``kubegate cluster-info dump``: kubectl's output, and more.

The default output is byte for byte ``kubectl cluster-info``'s (client/clusterinfo.py says
how it is built); failures print kubectl's hint and error line and exit 1.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any, TextIO

import yaml

from kubegate.cli.kubeconfig_flags import add_kubeconfig_flags, client_config_from_args
from kubegate.client.api import APIClient, APIClientError
from kubegate.client.clusterinfo import (
    CLUSTER_SERVICE_SELECTOR,
    DUMP_HINT,
    DumpList,
    cluster_info_text,
    dump_lists,
    ready_endpoints,
)
from kubegate.client.kubeconfig import ClientConfig, KubeconfigError

EXAMPLES = """\
examples:
  # the control plane and the cluster services of kube-system (kubectl's output)
  kubegate cluster-info
  # cluster services of every namespace, with ready endpoints
  kubegate cluster-info -A -o wide
  # the links as seen through a local `kubegate proxy --port 8080` (or kubectl proxy)
  kubegate cluster-info --via-proxy http://localhost:8080
  # dump the state of kube-system and the context namespace, or of everything, to a dir
  kubegate cluster-info dump
  kubegate cluster-info dump -A --output-directory /tmp/cluster-state
"""

DUMP_EXAMPLES = """\
examples:
  # nodes, then events, services, pods ... of kube-system and the context namespace (JSON)
  kubegate cluster-info dump
  # selected namespaces as YAML
  kubegate cluster-info dump --namespaces default,team-a -o yaml
  # every namespace, one file per list: DIR/nodes.json, DIR/<ns>/pods.json, DIR/<ns>/<pod>/logs.txt
  kubegate cluster-info dump -A --output-directory /tmp/cluster-state
"""


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "cluster-info",
        help="print the control plane and cluster service URLs (as kubectl cluster-info)",
        description="Print the address of the control plane and of the services labelled "
        "kubernetes.io/cluster-service=true, exactly as kubectl cluster-info does.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_kubeconfig_flags(
        p, namespace_help="namespace of the cluster services (default kube-system)"
    )
    p.add_argument(
        "-A",
        "--all-namespaces",
        action="store_true",
        help="list cluster services of every namespace",
    )
    p.add_argument(
        "-o", "--output", choices=("wide",), default=None, help="wide: add ready endpoint counts"
    )
    p.add_argument(
        "--via-proxy",
        metavar="URL",
        default=None,
        help="print each URL as reached through a local proxy at URL (e.g. http://localhost:8080)",
    )
    p.set_defaults(run=run_cluster_info)
    nested = p.add_subparsers(dest="clusterinfo_command", metavar="COMMAND")
    d = nested.add_parser(
        "dump",
        help="dump nodes, services, pods ... and pod logs for debugging",
        description="Dump the cluster state for debugging: nodes, then for each namespace its "
        "events, replication controllers, services, daemon sets, deployments, replica sets, "
        "pods and their container logs. Lists the server does not serve are reported and "
        "written empty.",
        epilog=DUMP_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_kubeconfig_flags(d, nested=True, namespace_help="the context namespace to dump")
    d.add_argument(
        "--namespaces",
        metavar="NS[,NS...]",
        default=None,
        help="namespaces to dump (default: kube-system and the context namespace)",
    )
    d.add_argument(
        "-A",
        "--all-namespaces",
        action="store_true",
        default=argparse.SUPPRESS,
        help="dump every namespace",
    )
    d.add_argument(
        "-o",
        "--output",
        choices=("json", "yaml"),
        default=argparse.SUPPRESS,
        help="output format (default json)",
    )
    d.add_argument(
        "--output-directory",
        metavar="DIR",
        default=None,
        help="write one file per list under DIR instead of printing",
    )
    d.set_defaults(run=run_dump)


# -- cluster-info ---------------------------------------------------------------------------------


def run_cluster_info(args: argparse.Namespace) -> int:
    if args.via_proxy and not args.via_proxy.startswith(("http://", "https://")):
        print(f'error: --via-proxy "{args.via_proxy}" is not an http(s) URL', file=sys.stderr)
        return 2
    try:
        config = client_config_from_args(args)
    except KubeconfigError as exc:
        print(exc, file=sys.stderr)
        return 1
    return asyncio.run(_cluster_info(args, config, sys.stdout, sys.stderr))


async def _cluster_info(
    args: argparse.Namespace, config: ClientConfig, out: TextIO, err: TextIO
) -> int:
    # kubectl: -n, else kube-system; the context's namespace is not used.
    namespace = args.namespace or "kube-system"
    prefix = "/api/v1" if args.all_namespaces else f"/api/v1/namespaces/{namespace}"
    try:
        async with APIClient(config) as api:
            services = await api.list_all(
                f"{prefix}/services", {"labelSelector": CLUSTER_SERVICE_SELECTOR}
            )
            readiness = None
            if args.output == "wide":
                readiness = await _readiness(api, services["items"], args, namespace, err)
    except (APIClientError, KubeconfigError) as exc:
        out.write(DUMP_HINT)
        out.flush()
        print(_error_text(exc), file=err)
        return 1
    out.write(
        cluster_info_text(
            config.host_as_written,
            services["items"],
            link_base=args.via_proxy,
            readiness=readiness,
        )
    )
    return 0


async def _readiness(
    api: APIClient,
    services: list[dict[str, Any]],
    args: argparse.Namespace,
    namespace: str,
    err: TextIO,
) -> dict[tuple[str, str], tuple[int, int]] | None:
    """(ready, total) endpoints per service, from EndpointSlices; None (and a warning) if the
    slices cannot be listed."""
    path = "/apis/discovery.k8s.io/v1/endpointslices"
    if not args.all_namespaces:
        path = f"/apis/discovery.k8s.io/v1/namespaces/{namespace}/endpointslices"
    try:
        slices = (await api.list_all(path))["items"]
    except APIClientError as exc:
        print(f"warning: cannot count ready endpoints: {_error_text(exc)}", file=err)
        return None
    counts = {}
    for service in services:
        meta = service.get("metadata") or {}
        ns, name = meta.get("namespace", ""), meta.get("name", "")
        same_ns = [s for s in slices if (s.get("metadata") or {}).get("namespace") == ns]
        counts[(ns, name)] = ready_endpoints(name, same_ns)
    return counts


def _error_text(exc: Exception) -> str:
    return exc.kubectl_text() if isinstance(exc, APIClientError) else str(exc)


# -- dump -----------------------------------------------------------------------------------------


def run_dump(args: argparse.Namespace) -> int:
    output = getattr(args, "output", None) or "json"
    if output not in ("json", "yaml"):
        print(f'error: cluster-info dump writes json or yaml, not "{output}"', file=sys.stderr)
        return 2
    try:
        config = client_config_from_args(args)
    except KubeconfigError as exc:
        print(exc, file=sys.stderr)
        return 1
    directory = Path(args.output_directory) if args.output_directory else None
    try:
        return asyncio.run(_dump(args, config, output, directory))
    except (APIClientError, KubeconfigError) as exc:
        print(_error_text(exc), file=sys.stderr)
        return 1
    except BrokenPipeError:
        # the reader went away (`| head`): stop quietly, as kubectl does
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except OSError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


async def _dump(
    args: argparse.Namespace, config: ClientConfig, output: str, directory: Path | None
) -> int:
    async with APIClient(config) as api:
        if getattr(args, "all_namespaces", False):
            listed = await api.list_all("/api/v1/namespaces")
            namespaces = [item["metadata"]["name"] for item in listed["items"]]
        elif args.namespaces:
            namespaces = [ns for ns in args.namespaces.split(",") if ns]
        else:
            namespaces = list(dict.fromkeys(["kube-system", config.namespace]))
        writer = _DumpWriter(output, directory)
        for item in dump_lists(namespaces):
            doc = await _fetch_list(api, item)
            writer.write_list(item, doc)
            if item.kind == "PodList":
                for pod in doc.get("items") or []:
                    writer.write_logs(item.namespace or "", pod, await _pod_logs(api, pod))
    if directory is not None:
        print(f"Cluster info dumped to {directory}")
    return 0


async def _fetch_list(api: APIClient, item: DumpList) -> dict[str, Any]:
    try:
        return await api.list_all(item.path)
    except APIClientError as exc:
        if exc.code != 404:
            raise
        print(
            f"warning: the server does not serve {item.path} ({exc.message}); written empty",
            file=sys.stderr,
        )
        return {"kind": item.kind, "apiVersion": item.api_version, "metadata": {}, "items": []}


async def _pod_logs(api: APIClient, pod: dict[str, Any]) -> str:
    """Every init container's and container's log, framed as kubectl frames them."""
    meta = pod.get("metadata") or {}
    namespace, name = meta.get("namespace", ""), meta.get("name", "")
    spec = pod.get("spec") or {}
    chunks = []
    for container in [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]:
        cname = container.get("name", "")
        where = f"container {cname} of pod {namespace}/{name}"
        chunks.append(f"==== START logs for {where} ====\n")
        try:
            data = await api.get_bytes(
                f"/api/v1/namespaces/{namespace}/pods/{name}/log", {"container": cname}
            )
            chunks.append(data.decode("utf-8", "replace"))
        except APIClientError as exc:
            chunks.append(f"Request log error: {exc.message}\n")
        chunks.append(f"==== END logs for {where} ====\n")
    return "".join(chunks)


class _DumpWriter:
    """To stdout, or one file per list (dirs 0700, files 0600, as kubectl writes them)."""

    def __init__(self, output: str, directory: Path | None) -> None:
        self.output = output
        self.directory = directory
        self.printed = 0

    def write_list(self, item: DumpList, doc: dict[str, Any]) -> None:
        if self.output == "json":
            text = json.dumps(doc, indent=4, ensure_ascii=False) + "\n"
        else:
            text = yaml.safe_dump(doc, default_flow_style=False, allow_unicode=True)
        if self.directory is None:
            if self.output == "yaml" and self.printed:
                text = "---\n" + text
            self.printed += 1
            sys.stdout.write(text)
            return
        parts = [item.namespace] if item.namespace else []
        self._write_file(Path(*parts, f"{item.file_stem}.{self.output}"), text)

    def write_logs(self, namespace: str, pod: dict[str, Any], text: str) -> None:
        if self.directory is None:
            sys.stdout.write(text)
            return
        name = (pod.get("metadata") or {}).get("name", "")
        self._write_file(Path(namespace, name, "logs.txt"), text)

    def _write_file(self, relative: Path, text: str) -> None:
        assert self.directory is not None
        path = self.directory / relative
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
