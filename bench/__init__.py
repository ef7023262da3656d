"""kubegate's benchmark harness, behind ``make bench`` (``python -m bench``).

A suite is one module with ``main(argv) -> int``, listed in :data:`SUITES`:

api     a fresh API server under create, list, watch fan-out and memory load (the default)
store   the Store backends in-process, without HTTP (``bench/store_bench.py``)

Shared pieces: :mod:`bench.server` (the server process), :mod:`bench.machine` (pinning and
``/proc`` readings), :mod:`bench.stats` and :mod:`bench.report` (targets, table, JSON).
"""

SUITES = {
    "api": "bench.api",
    "store": "bench.store_bench",
}
DEFAULT_SUITE = "api"
