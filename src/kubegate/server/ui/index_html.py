"""The service index as HTML (no JavaScript needed; a copy button is added by a small
nonce-tagged script when scripts run). Every value from the API goes through ``escape``;
shell commands are single-quoted for a POSIX shell first, then escaped for HTML."""

from __future__ import annotations

from kubegate.server.ui.catalog import Catalog, NamespaceGroup, PodEntry, PortLink, ServiceEntry
from kubegate.server.ui.layout import escape

LOCAL_PROXY = "http://127.0.0.1:8001"

COPY_SCRIPT = (
    "(function(){if(!navigator.clipboard)return;"
    "document.querySelectorAll('.cmd code').forEach(function(code){"
    "var b=document.createElement('button');b.type='button';b.className='copy';"
    "b.textContent='Copy';b.addEventListener('click',function(){"
    "navigator.clipboard.writeText(code.textContent).then(function(){"
    "b.textContent='Copied';setTimeout(function(){b.textContent='Copy';},1500);});});"
    "code.parentNode.appendChild(b);});})();"
)


def render_index(catalog: Catalog, *, base_url: str, query: str) -> str:
    """The page body: filter, cluster-info, one section per namespace, then nodes."""
    count = sum(len(g.services) for g in catalog.namespaces)
    parts = [
        "<h1>Services</h1>",
        _filter_form(query),
        _cluster_info(catalog, base_url),
    ]
    if not catalog.namespaces and not catalog.nodes:
        what = "matching your filter" if query else "you may reach through the proxy"
        parts.append(f'<div class="card empty">No services, pods or nodes {what}.</div>')
    else:
        parts.append(
            f'<p class="muted small">{count} service{"s" if count != 1 else ""} in '
            f"{len(catalog.namespaces)} namespace{'s' if len(catalog.namespaces) != 1 else ''}. "
            "Links open the service through kubegate's proxy.</p>"
        )
    parts.extend(_namespace_section(group, base_url) for group in catalog.namespaces)
    if catalog.nodes:
        parts.append(_nodes_section(catalog))
    return "".join(parts)


def _filter_form(query: str) -> str:
    clear = ' <a class="small" href="/">Clear</a>' if query else ""
    return (
        '<form class="filter" method="get" action="/" role="search">'
        f'<input type="search" name="q" value="{escape(query)}" '
        'placeholder="Filter by namespace or name" aria-label="Filter">'
        f'<button type="submit">Filter</button>{clear}</form>'
    )


def _cluster_info(catalog: Catalog, base_url: str) -> str:
    """The clickable ``kubectl cluster-info``."""
    lines = [
        "<li>Kubernetes control plane is running at "
        f'<a href="{escape(base_url)}/">{escape(base_url)}</a></li>'
    ]
    for svc in catalog.cluster_services:
        if not svc.ports:
            continue  # (an ExternalName service: nothing to link)
        link = svc.ports[0]
        title = svc.title or svc.name
        lines.append(
            f"<li>{escape(title)} is running at "
            f'<a href="{escape(link.path)}">{escape(base_url + link.path.rstrip("/"))}</a></li>'
        )
    return (
        '<section class="card cluster-info" id="cluster-info"><h3>Cluster info</h3>'
        f'<ul class="plain">{"".join(lines)}</ul></section>'
    )


def _namespace_section(group: NamespaceGroup, base_url: str) -> str:
    parts = [
        f'<section class="namespace" id="ns-{escape(group.name)}"><h2>{escape(group.name)}</h2>'
    ]
    if group.services:
        rows = "".join(_service_row(svc, base_url) for svc in group.services)
        parts.append(
            '<div class="table-wrap"><table class="services"><thead><tr>'
            "<th>Service</th><th>Ports</th><th>Endpoints</th></tr></thead>"
            f"<tbody>{rows}</tbody></table></div>"
        )
    if group.pods:
        total = len(group.pods) + group.pods_hidden
        rows = "".join(_pod_row(pod) for pod in group.pods)
        more = (
            f'<p class="muted small">{group.pods_hidden} more pods not shown; use the filter.</p>'
            if group.pods_hidden
            else ""
        )
        parts.append(
            f'<details class="pods"><summary>Pods ({total})</summary>'
            '<div class="table-wrap"><table><thead><tr><th>Pod</th><th>Status</th>'
            f"<th>Ports</th></tr></thead><tbody>{rows}</tbody></table></div>{more}</details>"
        )
    parts.append("</section>")
    return "".join(parts)


def _service_row(svc: ServiceEntry, base_url: str) -> str:
    title = (
        f'<div class="muted small">{escape(svc.title)}</div>'
        if svc.title and svc.title != svc.name
        else ""
    )
    description = f'<div class="small">{escape(svc.description)}</div>' if svc.description else ""
    flags = "".join(
        f' <span class="badge muted" title="{escape(k)}: {escape(v)}">{escape(k.removeprefix("kubegate.io/"))}={escape(v)}</span>'
        for k, v in sorted(svc.annotations.items())
        if k != "kubegate.io/description"
    )
    ports = "".join(_port_link(link) for link in svc.ports)
    ports += "".join(
        f'<span class="port muted">{escape(label)}</span>' for label in svc.unlinked_ports
    )
    state = "ok" if svc.ready else ("bad" if svc.total else "warn")
    # The commands get a full-width row of their own: long URLs must not squeeze the columns.
    commands = (
        f'<tr class="more"><td colspan="3">{_commands(svc.ports[0], base_url)}</td></tr>'
        if svc.ports
        else ""
    )
    return (
        f'<tr class="svc" data-service="{escape(svc.namespace)}/{escape(svc.name)}">'
        f"<td><strong>{escape(svc.name)}</strong>{flags}{title}{description}</td>"
        f'<td><div class="ports">{ports}</div></td>'
        f'<td><span class="badge {state}" title="ready / total endpoint addresses">'
        f"{svc.ready}/{svc.total} ready</span></td></tr>{commands}"
    )


def _port_link(link: PortLink) -> str:
    html = f'<a class="port" href="{escape(link.path)}">{escape(link.label)}</a>'
    if link.app_url:
        html += (
            f'<a class="port app" href="{escape(link.app_url)}" title="open on its own origin '
            f'(--apps-domain)">{escape(link.port or link.label)} &#8599;</a>'
        )
    return html


def _commands(link: PortLink, base_url: str) -> str:
    """kubectl, curl and local-proxy commands for one link, quoted for a POSIX shell."""
    commands = (
        ("kubectl", f"kubectl get --raw {shell_quote(link.path)}"),
        (
            "curl",
            f'curl --cacert ca.crt -H "Authorization: Bearer $TOKEN" {shell_quote(base_url + link.path)}',
        ),
        ("local proxy", f"kubegate proxy & curl {shell_quote(LOCAL_PROXY + link.path)}"),
    )
    rows = "".join(
        f'<div class="cmd"><span class="label">{escape(label)}</span><code>{escape(cmd)}</code></div>'
        for label, cmd in commands
    )
    return f"<details><summary>Commands</summary>{rows}</details>"


def shell_quote(text: str) -> str:
    """``text`` as one single-quoted POSIX shell word (always quoted, so it reads the same
    for every URL; a ``'`` inside becomes ``'\\''``)."""
    return "'" + text.replace("'", "'\\''") + "'"


def _pod_row(pod: PodEntry) -> str:
    state = "ok" if pod.ready else "warn"
    ports = "".join(_port_link(link) for link in pod.ports)
    return (
        f"<tr><td>{escape(pod.name)}</td>"
        f'<td><span class="badge {state}">{escape(pod.phase)}{"" if pod.ready else ", not ready"}</span></td>'
        f'<td><div class="ports">{ports}</div></td></tr>'
    )


def _nodes_section(catalog: Catalog) -> str:
    rows = "".join(
        f"<tr><td>{escape(node.name)}</td>"
        f'<td><span class="badge {"ok" if node.ready else "warn"}">{"Ready" if node.ready else "NotReady"}</span></td>'
        f'<td><div class="ports">{_port_link(node.link)}</div></td></tr>'
        for node in catalog.nodes
    )
    return (
        '<section class="nodes" id="nodes"><h2>Nodes</h2><div class="table-wrap"><table>'
        "<thead><tr><th>Node</th><th>Status</th><th>Proxy</th></tr></thead>"
        f"<tbody>{rows}</tbody></table></div></section>"
    )
