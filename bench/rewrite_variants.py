"""The rewrite suite's backend variants beyond the one repeated page, and how to read the
server's rewrite memo (proxy/rewrite_memo.py) around a run.

The memo answers a byte-identical page from its last rewrite, so the same page fetched
over and over measures memo hits, not the rewriter. The honest cost needs pages the memo
has never seen:

cold       ``/cold/N.html`` (``text/html``) and ``/cold-bin/N.html`` (the same files as
           ``application/octet-stream``): COLD_PAGES copies of the page, each with its own
           marker comment, served as static files (``Content-Length``, so the rewritten
           ones take the whole-body path and are looked up in the memo). wrk cycles through
           them (:func:`rotation_script`); there are more of them than the memo holds, so
           with its least-recently-used order every lookup misses. ``/cold-gz/`` and
           ``/cold-gz-bin/`` the same, gzip-compressed (more files: they are smaller).
chunked    ``/uniq/page.html`` and ``/uniq/page.bin``: nginx's ``sub_filter`` puts
           ``$request_id`` into the page's marker, so every answer differs; sub_filter drops
           ``Content-Length`` (the body goes chunked), so the rewritten page streams and
           the memo is not consulted.
floor      ``/floor.bin``: the rewritten page's own bytes (fetched once through kubegate),
           served as ``application/octet-stream``. Relaying them costs what relaying the
           bigger output costs any rewriter (prefixes and the shim make the page larger),
           with no rewriting at all.
"""

from __future__ import annotations

import gzip
import http.client
import re
import ssl
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bench.proxy_load import WRK_SCRIPT

MARKER = b"<!--uniq-->"
# A 200 KiB page and its rewrite hold about 480 KiB of the memo's 32 MiB (about 68 entries),
# a gzip one about 70 KiB (about 470): twice as many pages as fit, whatever the order.
COLD_PAGES = 160
COLD_GZIP_PAGES = 960
GZIP_LEVEL = 6  # as the repeated gzip page


def with_marker(page: bytes) -> bytes:
    """The page with MARKER at the start of its main content (where sub_filter finds it)."""
    anchor = b'<main id="content">\n'
    assert anchor in page
    return page.replace(anchor, anchor + MARKER + b"\n", 1)


def locations(docroot: Path) -> str:
    """The nginx ``location`` blocks of the variants (inside the backend's ``server``)."""
    octet = "types { } default_type application/octet-stream;"
    html = "types { } default_type text/html;"
    gz = "add_header Content-Encoding gzip;"
    sub = (
        f"sub_filter '{MARKER.decode()}' '<!--$request_id-->'; sub_filter_once on;"
        " sub_filter_types text/html application/octet-stream; output_buffers 1 512k;"
    )
    return f"""
    location /cold/ {{ {html} }}
    location /cold-bin/ {{ alias {docroot}/cold/; {octet} }}
    location /cold-gz/ {{ {html} {gz} }}
    location /cold-gz-bin/ {{ alias {docroot}/cold-gz/; {octet} {gz} }}
    location = /uniq/page.html {{ alias {docroot}/uniq.html; {html} {sub} }}
    location = /uniq/page.bin {{ alias {docroot}/uniq.html; {octet} {sub} }}
    location = /floor.bin {{ {octet} }}
"""


def write_files(docroot: Path, page: bytes) -> None:
    """The cold pages (each unique) and the page with the marker for sub_filter."""
    marked = with_marker(page)
    (docroot / "uniq.html").write_bytes(marked)
    for folder, count in (("cold", COLD_PAGES), ("cold-gz", COLD_GZIP_PAGES)):
        (docroot / folder).mkdir()
        for n in range(count):
            data = marked.replace(MARKER, b"<!--cold-%06d-->" % n, 1)
            if folder == "cold-gz":
                data = gzip.compress(data, GZIP_LEVEL, mtime=0)
            (docroot / folder / f"{n}.html").write_bytes(data)


def cold_paths(folder: str) -> list[str]:
    count = COLD_GZIP_PAGES if folder.startswith("cold-gz") else COLD_PAGES
    return [f"/{folder}/{n}.html" for n in range(count)]


def rotation_script(path: Path, url_prefix: str, paths: list[str]) -> Path:
    """A wrk script whose requests cycle through ``paths`` (under ``url_prefix``, the
    proxy path), with the suite's usual ``done`` report. Each wrk run goes on where the
    last run of the same script stopped (kept in ``<path>.next``): a new run starting
    again from the first page would find the previous run's pages in the memo."""
    quoted = ",\n  ".join(f'"{url_prefix}{p}"' for p in paths)
    state = str(path) + ".next"
    path.write_text(
        f"local paths = {{\n  {quoted}\n}}\n"
        f'local state = "{state}"\n'
        + """\
local function saved_start()
  local f = io.open(state, "r")
  if f == nil then return 0 end
  local n = tonumber(f:read("*l")) or 0
  f:close()
  return n
end
local start = saved_start()
local i = start
request = function()
  local p = paths[i % #paths + 1]
  i = i + 1
  return wrk.format(nil, p)
end
"""
        + WRK_SCRIPT
        + """\
local report = done
done = function(summary, latency, requests)
  local f = io.open(state, "w")
  f:write(string.format("%d\\n", (start + summary.requests + 1) % #paths))
  f:close()
  report(summary, latency, requests)
end
"""
    )
    return path


_LOOKUPS = re.compile(
    r'^kubegate_proxy_rewrite_memo_lookups_total\{result="(hit|miss)"\} (\S+)$', re.M
)


def memo_lookups(url: str, headers: dict[str, str], context: ssl.SSLContext) -> dict[str, int]:
    """The server's memo hits and misses so far (its /metrics), zeros without a memo."""
    parts = urlsplit(url)
    conn = http.client.HTTPSConnection(
        parts.hostname or "127.0.0.1", parts.port, context=context, timeout=30
    )
    try:
        conn.request("GET", "/metrics", headers=headers)
        reply = conn.getresponse()
        text = reply.read().decode()
    finally:
        conn.close()
    if reply.status != 200:
        raise RuntimeError(f"GET /metrics: {reply.status}")
    found = {name: int(float(value)) for name, value in _LOOKUPS.findall(text)}
    return {"hit": found.get("hit", 0), "miss": found.get("miss", 0)}


def lookups_delta(before: dict[str, int], after: dict[str, int]) -> dict[str, Any]:
    return {key: after[key] - before[key] for key in ("hit", "miss")}
