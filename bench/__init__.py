"""kubegate's benchmark harness, behind ``make bench`` (``python -m bench``).

A suite is one module with ``main(argv) -> int``, listed in :data:`SUITES`:

api     a fresh API server under create, list, watch fan-out and memory load (the default)
store   the Store backends in-process, without HTTP (``bench/store_bench.py``)
proxy   kubegate's service proxy next to nginx and ``kubectl proxy`` (``bench/proxy.py``)
rewrite HTML rewriting on the service proxy vs plain proxying (``bench/rewrite.py``)
rewrite-cpu  the rewriter's CPU time per page in-process, and content-coding costs
watch-cpu  the watch serving loop's CPU per event per watcher, in-process (``bench/watch_cpu.py``)
localproxy  ``kubegate proxy`` next to ``kubectl proxy`` in front of one API server
ha      replicas on one etcd: proxy rps behind HAProxy, watch fan-out over 3 (``bench/ha.py``)
hardening  proxy rps with every limit on vs off; idle WebSocket tunnels held (``bench/hardening.py``)

``python -m bench all`` runs the suites of :data:`ALL_SUITES` in turn with the options they
share (``--quick``, ``--no-pin``, ``--results-dir``).

Shared pieces: :mod:`bench.suite` (the frame of every suite's ``main``: common flags, results
document, exit codes, report), :mod:`bench.server` (the server process), :mod:`bench.machine`
(pinning and ``/proc`` readings), :mod:`bench.stats` and :mod:`bench.report` (targets, table,
JSON).
"""

SUITES = {
    "api": "bench.api",
    "store": "bench.store_bench",
    "proxy": "bench.proxy",
    "localproxy": "bench.localproxy",
    "ha": "bench.ha",
    "rewrite": "bench.rewrite",
    "rewrite-cpu": "bench.rewrite_cpu",
    "watch-cpu": "bench.watch_cpu",
    "hardening": "bench.hardening",
}
DEFAULT_SUITE = "api"
ALL_SUITES = ("api", "proxy", "localproxy", "rewrite", "hardening")
