"""A realistic server-rendered HTML page for the rewrite suite, built deterministically.

Shaped like a documentation or dashboard page written for the root of its host: a head of
stylesheets and scripts with root-relative URLs, an inline ``<style>`` with ``url()`` and an
inline ``<script>`` holding markup-like strings, a navigation of root-relative links, and a
body of sections — prose, tables whose rows link root-relative, relative and external
pages, images with ``srcset``, forms, comments, a ``<pre>`` code block. Per 200 KiB about
5,000 tags, 900 URL attributes of which 550 root-relative.
"""

from __future__ import annotations

import random

WORDS = (
    "service pod node namespace proxy gateway cluster request response endpoint slice "
    "policy token session cookie header prefix rewrite stream buffer latency throughput "
    "the a of to and in is for with on that by this from as are be it an or"
).split()


def _sentence(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n)).capitalize() + "."


def _head(rng: random.Random) -> str:
    links = "".join(
        f'<link rel="stylesheet" href="/static/css/{name}.css?v=3">'
        for name in ("base", "layout", "theme", "code")
    )
    scripts = "".join(
        f'<script src="/static/js/{name}.js" defer></script>'
        for name in ("vendor", "app", "search")
    )
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        "<title>Cluster overview - kubegate bench page</title>\n"
        '<link rel="icon" href="/favicon.ico">' + links + "\n<style>\n"
        ".hero { background: url(/static/img/hero.jpg) center/cover; }\n"
        ".logo { background-image: url('/static/img/logo.svg'); }\n"
        "table.data td { padding: 2px 6px; border-bottom: 1px solid #ddd; }\n</style>\n"
        + scripts
        + "\n<script>window.config = {api: '/api/v1', tpl: '<a href=\"/x\">'}; if (1 < 2) {}</script>\n"
        "</head>\n"
    )


def _nav(rng: random.Random) -> str:
    items = "".join(
        f'<li class="nav-item"><a class="nav-link" href="/docs/section-{i}/">{rng.choice(WORDS).title()} {i}</a></li>'
        for i in range(60)
    )
    return f'<body class="page">\n<header class="hero"><a href="/"><img src="/static/img/logo.png" alt="logo" width="120" height="40"></a>\n<nav><ul class="nav">{items}</ul></nav></header>\n<main id="content">\n'


def _section(rng: random.Random, index: int) -> str:
    prose = "".join(
        f'<p>{_sentence(rng, rng.randint(12, 30))} <a href="/docs/ref-{index}-{j}">see also</a> {_sentence(rng, 8)}</p>\n'
        for j in range(3)
    )
    rows = []
    for j in range(14):
        kind = j % 4
        href = (
            f"/api/v1/objects/{index}/{j}"
            if kind in (0, 1)
            else (
                f"details/{index}-{j}.html" if kind == 2 else f"https://example.com/ext/{index}/{j}"
            )
        )
        rows.append(
            f'<tr class="row-{j % 2}"><td><a href="{href}">{rng.choice(WORDS)}-{j}</a></td>'
            f'<td>{rng.randint(0, 9999)}</td><td><span class="badge badge-ok" title="{rng.choice(WORDS)}">ok</span></td>'
            f'<td><img src="/static/icons/{rng.choice(WORDS)}.svg" alt="" width="16" height="16"></td></tr>\n'
        )
    image = (
        f'<figure><img src="/media/{index}.png" srcset="/media/{index}.png 1x, /media/{index}@2x.png 2x" '
        f'alt="figure {index}" loading="lazy"><figcaption>{_sentence(rng, 6)}</figcaption></figure>\n'
    )
    form = (
        '<form action="/search" method="get" class="inline"><input type="text" name="q" value="" placeholder="search">'
        '<button type="submit" formaction="/search/advanced">Go</button></form>\n'
    )
    code = f"<pre><code>kubectl get --raw /api/v1/namespaces/default/services/web-{index}:http/proxy/\n&lt;div&gt; {_sentence(rng, 5)}</code></pre>\n"
    return (
        f'<section id="s{index}" class="card"><h2><a href="#s{index}">Section {index}</a></h2>\n<!-- section {index} -->\n'
        + prose
        + f'<table class="data"><thead><tr><th>name</th><th>count</th><th>state</th><th></th></tr></thead><tbody>\n{"".join(rows)}</tbody></table>\n'
        + image
        + form
        + code
        + "</section>\n"
    )


def page(size: int, seed: int = 1) -> bytes:
    """A page of about ``size`` bytes (whole sections, then the closing tags)."""
    rng = random.Random(seed)
    parts = [_head(rng), _nav(rng)]
    total = sum(len(p) for p in parts)
    index = 0
    tail = '</main>\n<footer><a href="/about">About</a> <a href="/privacy">Privacy</a></footer>\n</body>\n</html>\n'
    while total + len(tail) < size:
        section = _section(rng, index)
        parts.append(section)
        total += len(section)
        index += 1
    parts.append(tail)
    return "".join(parts).encode("utf-8")
