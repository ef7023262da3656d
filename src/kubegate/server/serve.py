"""The server lifecycle: set up, bind, serve, shut down gracefully.

setup     data dir (CA, certificates, admin kubeconfig), store, bootstrap objects
bind      the one HTTPS port shared by the API and the proxy (port 0 picks one)
serve     controllers and optional demo backends run beside the server
shutdown  on SIGTERM/SIGINT: stop accepting, end watches cleanly, drain in-flight
          requests (bounded by --shutdown-grace), stop controllers, close the store
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import TextIO

from prometheus_client import ProcessCollector

from kubegate.api import strategy
from kubegate.auth.impersonation import impersonate
from kubegate.http.limits import Limits
from kubegate.http.pool import UpstreamPool
from kubegate.http.server import HTTPServer
from kubegate.proxy.cache import ProxyCache
from kubegate.proxy.handler import ProxyHandler
from kubegate.server.allocators import Allocators
from kubegate.server.app import APIServer
from kubegate.server.audit_log import open_auditor
from kubegate.server.authn import build_authentication
from kubegate.server.authz_wiring import escalation_check_for, start_authorizer
from kubegate.server.datadir_setup import ensure_data_dir
from kubegate.server.debug_tasks import DebugTasks
from kubegate.server.http_rejects import RejectedRequests
from kubegate.server.leadership import start_controllers
from kubegate.server.limits import RequestLimiter
from kubegate.server.logging_setup import AccessLog
from kubegate.server.metrics import APIMetrics
from kubegate.server.namespaces import NamespaceLifecycle
from kubegate.server.operations_metrics import OperationsCollector
from kubegate.server.proxywiring import build_proxy
from kubegate.server.resources import ResourceHandlers
from kubegate.server.rewrite_memo_metrics import RewriteMemoCollector
from kubegate.server.settings import ServeSettings
from kubegate.server.tls_reload import serving_tls
from kubegate.server.ui.wiring import install_browser_ui, serving_hosts_for_apps
from kubegate.server.watch import WatchSettings
from kubegate.store.base import KeyExists, Store, object_key
from kubegate.store.factory import open_store

log = logging.getLogger("kubegate.serve")


@dataclass(slots=True)
class RunningServer:
    """What a started server exposes to its owner (the CLI or a test)."""

    url: str
    kubeconfig: str
    http: HTTPServer
    app: APIServer
    store: Store
    closing: asyncio.Event


def _url(host: str, port: int) -> str:
    return f"https://[{host}]:{port}" if ":" in host else f"https://{host}:{port}"


async def _seed_kubernetes_service(store: Store, allocators: Allocators, port: int) -> None:
    svc = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": "kubernetes",
            "labels": {"component": "apiserver", "provider": "kubernetes"},
        },
        "spec": {
            "clusterIP": allocators.kubernetes_service_ip(),
            "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": port}],
        },
    }
    strategy.prepare_create("Service", svc, namespace="default")
    svc["spec"]["clusterIPs"] = [svc["spec"]["clusterIP"]]
    svc["spec"]["ipFamilies"] = ["IPv4"]
    svc["spec"]["ipFamilyPolicy"] = "SingleStack"
    with contextlib.suppress(KeyExists):
        await store.create(object_key("services", "default", "kubernetes"), svc)


async def start_server(
    settings: ServeSettings, out: TextIO = sys.stdout
) -> tuple[RunningServer, Callable[[], object]]:
    """Start everything; returns the running server and an async ``stop`` callable."""
    bind = settings.bind_address
    host_for_url = settings.advertise_address or (
        "127.0.0.1" if bind in ("0.0.0.0", "::", "") else bind
    )
    auditor = open_auditor(settings)  # first: a bad policy file fails before anything starts
    datadir = ensure_data_dir(
        settings.data_dir,
        server_url=_url(host_for_url, settings.secure_port or 6443),
        advertise_address=settings.advertise_address,
        extra_hosts=serving_hosts_for_apps(settings, host_for_url),
    )
    ops = settings.operations
    tls = serving_tls(  # reloaded when its files change (certificate rotation)
        datadir,
        client_ca=settings.client_ca_file,
        cert_file=settings.tls_cert_file,
        key_file=settings.tls_private_key_file,
        interval=ops.tls_reload_interval,
    )
    store = open_store(settings.effective_store_url)
    authn = build_authentication(settings.authn, datadir, store)  # bad auth files stop here
    await store.start()
    allocators = Allocators(store, settings.service_cluster_ip_range)
    namespaces = NamespaceLifecycle(store, allocators)
    await namespaces.bootstrap(resume_deletions=settings.mirror is None)
    authorizer, stop_authorizer = await start_authorizer(settings.authorization_mode, store, out)
    closing = asyncio.Event()
    mirror = None
    if settings.mirror is not None:  # mirror mode: the upstream's objects, read-only
        from kubegate.server.mirror import Mirror

        mirror = Mirror(settings.mirror, store)
    escalation = escalation_check_for(authorizer, store)
    handlers = (
        ResourceHandlers(store, allocators, escalation_check=escalation)
        if mirror is None
        else mirror.read_only_handlers(allocators, escalation_check=escalation)
    )
    await authn.start()
    metrics = APIMetrics(proxy_target_limit=settings.metrics_proxy_target_labels)
    app = APIServer(
        store,
        handlers,
        namespaces,
        server_address=f"{host_for_url}:{settings.secure_port}",
        closing=closing,
        watch_settings=WatchSettings(
            bookmark_interval=settings.watch_bookmark_interval, watchers=metrics.watcher_gauge
        ),
        authenticator=authn.authenticator,
        authorizer=authorizer,
        auditor=auditor,
    )
    app.impersonation = impersonate  # always on, as in kube; the authorizer decides
    app.token_api = authn.token_api
    if mirror is not None:  # via-apiserver: a local ServiceAccount token is an upstream one
        authn.token_api.refusal = mirror.token_request_refusal()
    app.unauthorized_headers = authn.challenges
    app.login = authn.login  # /login, /logout, /oauth2/callback; sessions in the store
    app.metrics = metrics
    app.limiter = RequestLimiter(settings.limits, long_running_gauge=metrics.long_running_gauge)
    metrics.watch_limiter(app.limiter)
    app.access_log = AccessLog() if settings.access_log else None
    http = HTTPServer(
        app, Limits(max_connections=ops.max_connections), ssl_context=tls.listener_context
    )
    rejects = http.on_reject = RejectedRequests(auditor)  # audited and counted
    metrics.add_collector(OperationsCollector(rejects, auditor, tls))
    # kube's process_* families: open and max file descriptors, RSS, CPU, start time.
    metrics.add_collector(ProcessCollector(registry=None))
    app.debug_tasks = DebugTasks(http, app.limiter, auditor)
    bound = await http.start(bind or "0.0.0.0", settings.secure_port, reuse_port=ops.reuse_port)
    tls.start()
    port = bound[0][1]
    proxy_cache = ProxyCache(store)
    proxy_cache.start()
    pool = UpstreamPool(
        response_header_timeout=ops.proxy_response_header_timeout,
        idle_timeout=ops.proxy_idle_timeout,
    )
    metrics.watch_pool(pool.stats)
    app.proxy = build_proxy(
        settings, store, proxy_cache, pool, closing, listen=tuple(bound), mirror=mirror
    )
    if isinstance(app.proxy, ProxyHandler) and app.proxy.rewriter.memo is not None:
        metrics.add_collector(RewriteMemoCollector(app.proxy.rewriter.memo.stats))
    url = _url(host_for_url, port)
    app.server_address = f"{host_for_url}:{port}"
    if port != settings.secure_port:
        datadir = ensure_data_dir(
            settings.data_dir,
            server_url=url,
            advertise_address=settings.advertise_address,
            extra_hosts=serving_hosts_for_apps(settings, host_for_url),
        )
    install_browser_ui(
        app, settings, proxy_cache, app.proxy, advertised_host=host_for_url, sessions=authn.sessions
    )
    if mirror is None:  # a mirror serves the upstream's own default/kubernetes
        await _seed_kubernetes_service(store, allocators, port)

    stop_controllers = None
    if settings.run_controllers and mirror is None:
        # Behind leader election: with several replicas on one etcd only one runs them.
        _, stop_controllers = start_controllers(settings, store, metrics)
    demo = None
    if settings.demo:
        from kubegate.demo.run import start_demo

        demo = await start_demo(store, datadir, allocators)
    if mirror is not None:
        # Not ready until every mirrored resource has been listed once.
        mirror.start(metrics, on_synced=lambda: setattr(app, "ready", not closing.is_set()))
    app.ready = mirror is None or mirror.synced
    print(f"kubegate API server listening on {url}", file=out, flush=True)
    print(f"Admin kubeconfig: {datadir.kubeconfig}", file=out, flush=True)
    print(f"Try: kubectl --kubeconfig {datadir.kubeconfig} get svc -A", file=out, flush=True)

    async def stop() -> None:
        app.ready = False
        if ops.shutdown_delay > 0:
            # kube's --shutdown-delay-duration: serve on while load balancers see /readyz fail.
            await asyncio.sleep(ops.shutdown_delay)
        closing.set()
        await tls.stop()
        if stop_controllers is not None:
            # First, and releasing the Lease: another replica takes over while we drain.
            await stop_controllers()
        await http.shutdown(settings.shutdown_grace)
        await pool.close()
        await proxy_cache.stop()
        if demo is not None:
            await demo.close()
        if mirror is not None:
            await mirror.stop()
        await namespaces.close()
        await authn.stop()
        await stop_authorizer()
        await store.close()
        if auditor is not None:
            auditor.close()  # last: every request, drained ones included, has its record

    running = RunningServer(url, str(datadir.kubeconfig), http, app, store, closing)
    return running, stop


def tune_gc() -> None:
    """Fewer, cheaper collections: a 10k-object list allocates about a million objects, and
    CPython's default gen-0 threshold (700) turns that into hundreds of collections. The
    objects alive at start-up (modules, schema) are frozen out of every later collection."""
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)


async def serve_forever(settings: ServeSettings, out: TextIO = sys.stdout) -> None:
    """Run until SIGTERM or SIGINT, then shut down gracefully."""
    stopped = asyncio.Event()
    loop = asyncio.get_running_loop()
    # Installed before start_server announces the address: a SIGTERM sent as soon as a
    # supervisor sees that line must shut down gracefully, not kill with the default action.
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopped.set)
    _, stop = await start_server(settings, out)
    tune_gc()
    await stopped.wait()
    print("Shutting down: draining in-flight requests", file=out, flush=True)
    await stop()  # type: ignore[misc]
