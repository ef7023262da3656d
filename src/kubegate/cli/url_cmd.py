"""``kubegate url``: print the proxy URL of a service, pod or node; ``--check`` it first.

The URL is built by client/urls.py without contacting the server. ``--check`` asks the server
whether the URL can work: the object exists, the port is one it has, and there is a ready
endpoint (services) or a pod IP (pods). The URL goes to stdout, everything else to stderr, so
``curl "$(kubegate url svc/echo -n kube-system --check)"`` is safe.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any, TextIO

from kubegate.cli.kubeconfig_flags import add_kubeconfig_flags, client_config_from_args
from kubegate.client.api import APIClient, APIClientError
from kubegate.client.kubeconfig import KubeconfigError
from kubegate.client.urls import ProxyURL, UrlError, check_port, parse_target, proxy_url
from kubegate.core.proxy_backends import (
    node_backend,
    pod_backend,
    resolve_service_port,
    service_endpoints,
)
from kubegate.core.proxy_target import ProxyError

EXAMPLES = """\
examples:
  # the services proxy URL of kube-system/echo
  kubegate url service/echo -n kube-system
  # a named port over https, with a path and a query string
  kubegate url svc/secure-echo -n kube-system --https --port https --path '/status?verbose=1'
  # check that the service, the port and a ready endpoint exist before printing
  kubegate url service/echo -n kube-system --check
  # the same URL through a local `kubegate proxy --port 8080`
  kubegate url service/echo -n kube-system --via-proxy http://localhost:8080
  # a pod's port 8080, a node's kubelet
  kubegate url pod/web-0 --port 8080
  kubegate url node/worker-1 --path /healthz
"""

CHECK_FAILED = 1


class CheckFailed(Exception):
    """--check found a reason the URL will not work; ``str()`` says which."""


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "url",
        help="print the API server proxy URL of a service, pod or node",
        description="Print the API server proxy URL of a service, pod or node "
        "(<server>/api/v1/namespaces/NS/services/[https:]NAME[:PORT]/proxy/PATH).",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("target", metavar="TYPE/NAME", help="service/NAME, pod/NAME or node/NAME")
    add_kubeconfig_flags(p)
    p.add_argument(
        "--port", default="", metavar="NAME|NUMBER", help="the port (default: the default port)"
    )
    p.add_argument(
        "--https", action="store_true", help="ask the API server to use https to the backend"
    )
    p.add_argument(
        "--path", default="", metavar="/PATH[?QUERY]", help="path (and query) on the backend"
    )
    p.add_argument(
        "--via-proxy",
        metavar="URL",
        default=None,
        help="print the URL as reached through a local proxy at URL (e.g. http://localhost:8080)",
    )
    p.add_argument(
        "--check",
        action="store_true",
        help="verify with the server that the target, port and a ready endpoint exist",
    )
    p.set_defaults(run=run_url)


def run_url(args: argparse.Namespace) -> int:
    if args.via_proxy and not args.via_proxy.startswith(("http://", "https://")):
        print(f'error: --via-proxy "{args.via_proxy}" is not an http(s) URL', file=sys.stderr)
        return 2
    try:
        kind, name = parse_target(args.target)
        check_port(args.port)
    except UrlError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        config = client_config_from_args(args)
    except KubeconfigError as exc:
        print(exc, file=sys.stderr)
        return 1
    target = ProxyURL(
        kind=kind,
        name=name,
        namespace=None if kind == "node" else config.namespace,
        port=args.port,
        https=args.https,
        path=args.path,
    )
    try:
        url = proxy_url(args.via_proxy or config.server, target)
    except UrlError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.check:
        try:
            asyncio.run(_check(APIClient(config), target, sys.stderr))
        except CheckFailed as exc:
            print(f"error: {exc}", file=sys.stderr)
            return CHECK_FAILED
        except APIClientError as exc:
            print(exc.kubectl_text(), file=sys.stderr)
            return 1
        except KubeconfigError as exc:
            print(exc, file=sys.stderr)
            return 1
    print(url)
    return 0


async def _check(api: APIClient, target: ProxyURL, err: TextIO) -> None:
    async with api:
        if target.kind == "service":
            await _check_service(api, target, err)
        elif target.kind == "pod":
            await _check_pod(api, target, err)
        else:
            await _check_node(api, target, err)


async def _get(api: APIClient, path: str, missing: str) -> dict[str, Any]:
    try:
        return await api.get_json(path)
    except APIClientError as exc:
        if exc.code == 404:
            raise CheckFailed(missing) from None
        raise


async def _check_service(api: APIClient, target: ProxyURL, err: TextIO) -> None:
    ns, name = target.namespace, target.name
    service = await _get(
        api,
        f"/api/v1/namespaces/{ns}/services/{name}",
        f'service "{name}" not found in namespace "{ns}"',
    )
    ports = [p for p in (service.get("spec") or {}).get("ports") or [] if isinstance(p, dict)]
    names = [str(p.get("name") or "") for p in ports]
    listing = ", ".join(
        f"{n} ({p.get('port')})" if n else str(p.get("port"))
        for n, p in zip(names, ports, strict=True)
    )
    if (service.get("spec") or {}).get("type") == "ExternalName":
        raise CheckFailed(f'service "{name}" is an ExternalName service; it cannot be proxied')
    if not ports:
        raise CheckFailed(f'service "{name}" has no ports')
    port = target.port
    if port == "" and len(ports) > 1 and "" not in names:
        raise CheckFailed(
            f'service "{name}" has {len(ports)} ports; name one of: {", ".join(names)}'
        )
    if port and not port.isdigit() and port not in names:
        raise CheckFailed(f'service "{name}" has no port named "{port}"; ports: {listing}')
    try:
        choice = resolve_service_port(service, port)
    except ProxyError:
        raise CheckFailed(f'service "{name}" has no port {port}; ports: {listing}') from None
    slices = await api.list_all(
        f"/apis/discovery.k8s.io/v1/namespaces/{ns}/endpointslices",
        {"labelSelector": f"kubernetes.io/service-name={name}"},
    )
    try:
        endpoints = service_endpoints(service, slices["items"], choice.port_name)
    except ProxyError:
        raise CheckFailed(f'no ready endpoints for service "{name}"') from None
    if port == "" and choice.port_name:
        print(
            f"note: kube-apiserver needs the port name here (--port {choice.port_name}); "
            "kubegate picks a service's only port itself",
            file=err,
        )
    count = len(endpoints)
    shown = choice.port_name or str(choice.service_port or "")
    print(
        f'service "{name}" port "{shown}": {count} ready endpoint{"s" if count != 1 else ""}',
        file=err,
    )


async def _check_pod(api: APIClient, target: ProxyURL, err: TextIO) -> None:
    ns, name = target.namespace, target.name
    pod = await _get(
        api, f"/api/v1/namespaces/{ns}/pods/{name}", f'pod "{name}" not found in namespace "{ns}"'
    )
    phase = (pod.get("status") or {}).get("phase") or "Unknown"
    try:
        backend = pod_backend(pod, target.port)
    except ProxyError as exc:
        if exc.message == "address not allowed":
            raise CheckFailed(f'pod "{name}" has no IP address yet (phase {phase})') from None
        raise CheckFailed(exc.message) from None
    conditions = (pod.get("status") or {}).get("conditions") or []
    ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)
    if not ready:
        raise CheckFailed(f'pod "{name}" is not ready (phase {phase})')
    port = backend.port or (443 if target.https else 80)
    print(f'pod "{name}": ready at {backend.ip}:{port}', file=err)


async def _check_node(api: APIClient, target: ProxyURL, err: TextIO) -> None:
    name = target.name
    node = await _get(api, f"/api/v1/nodes/{name}", f'node "{name}" not found')
    try:
        backend = node_backend(node, target.port, "https" if target.https else "")
    except ProxyError as exc:
        raise CheckFailed(f'node "{name}": {exc.message}') from None
    conditions = (node.get("status") or {}).get("conditions") or []
    if not any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions):
        raise CheckFailed(f'node "{name}" is not ready')
    print(f'node "{name}": ready at {backend.host}:{backend.port}', file=err)
