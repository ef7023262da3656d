"""The proxy {id} grammar and target resolution (k8s-proxy-semantics.md §1.2, §1.4-§1.6)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kubegate.core.go_strconv import go_quote
from kubegate.core.proxy_backends import (
    Endpoint,
    NodeBackend,
    PodBackend,
    ServicePortChoice,
    node_backend,
    pod_backend,
    resolve_service_port,
    service_endpoints,
)
from kubegate.core.proxy_target import (
    InvalidProxyId,
    ProxyError,
    ProxyId,
    ProxyResolutionError,
    parse_proxy_id,
    render_proxy_id,
)

# -- the {id} grammar ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw_id", "expected"),
    [
        ("svc", ProxyId("", "svc", "")),
        ("svc:80", ProxyId("", "svc", "80")),
        ("svc:http", ProxyId("", "svc", "http")),
        ("svc:", ProxyId("", "svc", "")),
        ("http:svc:80", ProxyId("http", "svc", "80")),
        ("https:svc:443", ProxyId("https", "svc", "443")),
        ("https:svc:", ProxyId("https", "svc", "")),  # documented: https, unnamed port
        ("https:svc", ProxyId("", "https", "svc")),  # the pitfall: service "https", port "svc"
        (":svc:", ProxyId("", "svc", "")),
        ("svc:-1", ProxyId("", "svc", "-1")),  # the port is not validated by the grammar
    ],
)
def test_parse_proxy_id(raw_id: str, expected: ProxyId) -> None:
    """Ids split on ':' into scheme, name and port exactly as SplitSchemeNamePort does."""
    assert parse_proxy_id(raw_id, "services") == expected


@pytest.mark.parametrize(
    "raw_id",
    ["", ":", ":80", "ftp:x:80", "HTTP:x:80", "a:b:c:d", "http::80", "https::", "::::"],
)
def test_parse_proxy_id_rejects(raw_id: str) -> None:
    """Empty names, unknown schemes and more than three parts are invalid (A23)."""
    with pytest.raises(InvalidProxyId) as caught:
        parse_proxy_id(raw_id, "services")
    assert (caught.value.code, caught.value.reason) == (400, "BadRequest")
    assert str(caught.value) == f'invalid service request "{raw_id}"'


@pytest.mark.parametrize(
    ("resource", "message"),
    [
        ("services", 'invalid service request "a:b:c:d"'),
        ("pods", 'invalid pod request "a:b:c:d"'),
        ("nodes", 'invalid node request "a:b:c:d"'),
    ],
)
def test_invalid_id_message_names_the_resource(resource: Any, message: str) -> None:
    """The message is kube's, per resource."""
    with pytest.raises(InvalidProxyId, match=message):
        parse_proxy_id("a:b:c:d", resource)


def test_invalid_id_message_quotes_like_go() -> None:
    """Quotes, backslashes and control characters in the id are escaped as Go's %q does."""
    with pytest.raises(InvalidProxyId) as caught:
        parse_proxy_id('a"\\\n:b:c:d', "pods")
    assert caught.value.message == 'invalid pod request "a\\"\\\\\\n:b:c:d"'


@pytest.mark.parametrize(
    ("text", "quoted"),
    [
        ("plain", '"plain"'),
        ('q"b\\', '"q\\"b\\\\"'),
        ("\t\x01\x7f", '"\\t\\x01\\x7f"'),
        ("café", '"café"'),
        ("\u200b", '"\\u200b"'),
        ("\U000e0001", '"\\U000e0001"'),
    ],
)
def test_go_quote(text: str, quoted: str) -> None:
    """go_quote follows strconv.Quote: printable runes kept, the rest escaped."""
    assert go_quote(text) == quoted


@pytest.mark.parametrize(
    ("proxy_id", "rendered"),
    [
        (ProxyId("", "svc", ""), "svc"),
        (ProxyId("", "svc", "80"), "svc:80"),
        (ProxyId("https", "svc", ""), "https:svc:"),
        (ProxyId("http", "svc", "web"), "http:svc:web"),
    ],
)
def test_render_proxy_id(proxy_id: ProxyId, rendered: str) -> None:
    """render_proxy_id is JoinSchemeNamePort."""
    assert render_proxy_id(proxy_id) == rendered


@pytest.mark.parametrize(
    "fields", [("ftp", "svc", ""), ("", "", "80"), ("", "a:b", ""), ("", "svc", "8:0")]
)
def test_proxy_id_cannot_be_built_invalid(fields: tuple[str, str, str]) -> None:
    """A ProxyId value is always renderable: bad schemes, empty names and ':' are refused."""
    with pytest.raises(ValueError):
        ProxyId(*fields)


def test_errors_share_one_base() -> None:
    """Every refusal is a ProxyError (and a ValueError) carrying code, reason and message."""
    assert issubclass(InvalidProxyId, ProxyResolutionError)
    assert issubclass(ProxyResolutionError, ProxyError)
    assert issubclass(ProxyError, ValueError)


# -- services --------------------------------------------------------------------------------


def service(
    name: str = "web", ports: list[dict[str, Any]] | None = None, **spec: Any
) -> dict[str, Any]:
    ports = [{"name": "http", "port": 80, "targetPort": 8080}] if ports is None else ports
    return {"metadata": {"name": name, "namespace": "ns"}, "spec": {"ports": ports, **spec}}


TWO_PORTS = [
    {"name": "http", "port": 80, "targetPort": 8080},
    {"name": "metrics", "port": 9090, "targetPort": "metrics"},
]


@pytest.mark.parametrize(
    ("svc", "port", "expected"),
    [
        (service(ports=TWO_PORTS), "80", ServicePortChoice("http", 80)),
        (service(ports=TWO_PORTS), "9090", ServicePortChoice("metrics", 9090)),
        (service(ports=TWO_PORTS), "+80", ServicePortChoice("http", 80)),  # Go ParseInt
        (service(ports=TWO_PORTS), "080", ServicePortChoice("http", 80)),
        (service(ports=TWO_PORTS), "metrics", ServicePortChoice("metrics")),
        (service(ports=TWO_PORTS), "nope", ServicePortChoice("nope")),  # names not checked
        (service(ports=TWO_PORTS), "", ServicePortChoice("")),  # kube: unnamed port only
        (service(ports=[{"port": 80}]), "80", ServicePortChoice("", 80)),
        # improvement: a single port is selected by '' whatever its name
        (service(), "", ServicePortChoice("http", 80)),
        (service(ports=[{"port": 80}]), "", ServicePortChoice("", 80)),
        (service(ports=[]), "", ServicePortChoice("")),
        (
            service(ports=TWO_PORTS),
            "99999999999999999999",
            ServicePortChoice("99999999999999999999"),
        ),
    ],
)
def test_resolve_service_port(svc: dict[str, Any], port: str, expected: ServicePortChoice) -> None:
    """Numbers match spec.ports[].port and become its name; names pass; '' is unnamed."""
    assert resolve_service_port(svc, port) == expected


@pytest.mark.parametrize("port", ["8080", "0", "-1"])
def test_resolve_service_port_unknown_number(port: str) -> None:
    """A number that is not a service port (targetPort does not count) is 503 (A23)."""
    with pytest.raises(ProxyResolutionError) as caught:
        resolve_service_port(service(ports=TWO_PORTS), port)
    assert (caught.value.code, caught.value.reason) == (503, "ServiceUnavailable")
    assert caught.value.message == f'no service port {int(port)} found for service "web"'


def eps_slice(
    address_type: str = "IPv4",
    endpoints: list[dict[str, Any]] | None = None,
    ports: list[dict[str, Any]] | None = None,
    service_name: str = "web",
) -> dict[str, Any]:
    return {
        "metadata": {"labels": {"kubernetes.io/service-name": service_name}},
        "addressType": address_type,
        "endpoints": endpoints if endpoints is not None else [{"addresses": ["10.0.0.1"]}],
        "ports": ports if ports is not None else [{"name": "http", "port": 8080}],
    }


def test_service_endpoints_basic() -> None:
    """Ready endpoints with the named slice port become (addresses[0], port)."""
    found = service_endpoints(
        service(),
        [
            eps_slice(
                endpoints=[
                    {"addresses": ["10.0.0.1", "10.0.0.9"], "targetRef": {"name": "p1"}},
                    {"addresses": ["10.0.0.2"], "conditions": {"ready": True}},
                ]
            )
        ],
        "http",
    )
    assert found == [Endpoint("10.0.0.1", 8080, "IPv4", "p1"), Endpoint("10.0.0.2", 8080, "IPv4")]


def test_service_endpoints_skips_not_ready() -> None:
    """conditions.ready false is skipped; a missing ready counts as ready."""
    found = service_endpoints(
        service(),
        [
            eps_slice(
                endpoints=[
                    {"addresses": ["10.0.0.1"], "conditions": {"ready": False}},
                    {"addresses": ["10.0.0.2"], "conditions": {}},
                    {"addresses": ["10.0.0.3"], "conditions": {"ready": None, "serving": True}},
                ]
            )
        ],
        "http",
    )
    assert [e.ip for e in found] == ["10.0.0.2", "10.0.0.3"]


@pytest.mark.parametrize(
    ("slice_ports", "port_name", "expected"),
    [
        ([{"name": "http", "port": 8080}], "http", [8080]),
        ([{"name": "http", "port": 8080}], "", []),
        ([{"port": 8080}], "", [8080]),  # a missing name counts as ''
        ([{"name": None, "port": 8080}], "", [8080]),
        ([{"name": "", "port": 8080}], "", [8080]),
        ([{"name": "http"}], "http", []),  # a missing port number is skipped
        ([{"name": "http", "port": 0}], "http", []),
        ([{"name": "m", "port": 1}, {"name": "http", "port": 2}], "http", [2]),
    ],
)
def test_service_endpoints_port_matching(
    slice_ports: list[dict[str, Any]], port_name: str, expected: list[int]
) -> None:
    """The slice port is matched by name; unusable ports are skipped."""
    slices = [eps_slice(ports=slice_ports)]
    if not expected:
        with pytest.raises(ProxyResolutionError):
            service_endpoints(service(), slices, port_name)
        return
    assert [e.port for e in service_endpoints(service(), slices, port_name)] == expected


def test_service_endpoints_primary_family_first() -> None:
    """Slices of spec.ipFamilies[0] come first, then the other family."""
    slices = [
        eps_slice("IPv4", [{"addresses": ["10.0.0.1"]}]),
        eps_slice("IPv6", [{"addresses": ["fd00::1"]}]),
    ]
    v6_first = service_endpoints(service(ipFamilies=["IPv6", "IPv4"]), slices, "http")
    v4_first = service_endpoints(service(ipFamilies=["IPv4", "IPv6"]), slices, "http")
    assert [e.ip for e in v6_first] == ["fd00::1", "10.0.0.1"]
    assert [e.ip for e in v4_first] == ["10.0.0.1", "fd00::1"]


def test_service_endpoints_ignores_foreign_and_fqdn_slices() -> None:
    """Only slices labelled for the service and holding IPs are read."""
    slices = [
        eps_slice(service_name="other", endpoints=[{"addresses": ["10.9.9.9"]}]),
        eps_slice("FQDN", [{"addresses": ["db.example.com"]}]),
        eps_slice(endpoints=[{"addresses": ["10.0.0.1"]}]),
    ]
    assert [e.ip for e in service_endpoints(service(), slices, "http")] == ["10.0.0.1"]


def test_service_endpoints_dedupes() -> None:
    """The same address and port in two slices (mid-update) is listed once."""
    slices = [eps_slice(), eps_slice()]
    assert len(service_endpoints(service(), slices, "http")) == 1


@pytest.mark.parametrize(
    "slices",
    [
        [],
        [eps_slice(endpoints=[])],
        [eps_slice(endpoints=[{"addresses": []}])],
        [eps_slice(endpoints=[{"addresses": ["10.0.0.1"], "conditions": {"ready": False}}])],
    ],
)
def test_service_endpoints_none(slices: list[dict[str, Any]]) -> None:
    """No usable endpoint is 503 with kube's message naming the service."""
    with pytest.raises(ProxyResolutionError) as caught:
        service_endpoints(service(), slices, "http")
    assert (caught.value.code, caught.value.reason) == (503, "ServiceUnavailable")
    assert caught.value.message == 'no endpoints available for service "web"'


# -- pods ------------------------------------------------------------------------------------


def pod(
    containers: list[dict[str, Any]] | None = None, status: dict[str, Any] | None = None
) -> dict[str, Any]:
    return {
        "metadata": {"name": "p", "namespace": "ns"},
        "spec": {"containers": containers if containers is not None else []},
        "status": status
        if status is not None
        else {"podIP": "10.1.0.5", "podIPs": [{"ip": "10.1.0.5"}]},
    }


SIDECAR_FIRST: list[dict[str, Any]] = [
    {"name": "init-like", "ports": []},
    {"name": "app", "ports": [{"name": "web", "containerPort": 8080}, {"containerPort": 9000}]},
    {"name": "side", "ports": [{"name": "admin", "containerPort": 9901}]},
]


@pytest.mark.parametrize(
    ("containers", "port", "expected"),
    [
        (SIDECAR_FIRST, "", PodBackend("10.1.0.5", 8080)),  # first container declaring ports
        ([{"name": "a"}], "", PodBackend("10.1.0.5", None)),  # none: the scheme's default
        ([], "", PodBackend("10.1.0.5", None)),
        (SIDECAR_FIRST, "9000", PodBackend("10.1.0.5", 9000)),
        (SIDECAR_FIRST, "1234", PodBackend("10.1.0.5", 1234)),  # numbers are used as is
        (SIDECAR_FIRST, "web", PodBackend("10.1.0.5", 8080)),  # improvement: named ports
        (SIDECAR_FIRST, "admin", PodBackend("10.1.0.5", 9901)),
    ],
)
def test_pod_backend(containers: list[dict[str, Any]], port: str, expected: PodBackend) -> None:
    """Ports follow kube's pod ResourceLocation, plus named container ports."""
    assert pod_backend(pod(containers), port) == expected


def test_pod_backend_unknown_port_name() -> None:
    """A port name no container declares is 503 with a clear message."""
    with pytest.raises(ProxyResolutionError) as caught:
        pod_backend(pod(SIDECAR_FIRST), "grpc")
    assert caught.value.code == 503
    assert caught.value.message == 'no container port named "grpc" found for pod "p"'


@pytest.mark.parametrize("port", ["0", "65536", "99999999"])
def test_pod_backend_port_out_of_range(port: str) -> None:
    """A numeric port outside 1-65535 is 400."""
    with pytest.raises(ProxyResolutionError) as caught:
        pod_backend(pod(SIDECAR_FIRST), port)
    assert caught.value.code == 400


@pytest.mark.parametrize(
    ("status", "ip"),
    [
        ({"podIP": "10.1.0.5", "podIPs": [{"ip": "fd00::5"}, {"ip": "10.1.0.5"}]}, "fd00::5"),
        ({"podIP": "10.1.0.7"}, "10.1.0.7"),
        ({"podIPs": [], "podIP": "10.1.0.8"}, "10.1.0.8"),
    ],
)
def test_pod_backend_ip(status: dict[str, Any], ip: str) -> None:
    """The IP is status.podIPs[0].ip, else status.podIP."""
    assert pod_backend(pod([], status), "").ip == ip


@pytest.mark.parametrize(
    "status",
    [
        {},  # Pending: no IP yet
        {"phase": "Pending", "podIP": ""},
        {"podIP": "not-an-ip"},
        {"podIP": "2130706433"},
        {"podIP": "127.1"},
        {"podIP": "0177.0.0.1"},
        {"podIP": "fe80::1%eth0"},
        {"podIPs": [{"ip": " 10.1.0.5"}]},
        {"podIPs": [{"ip": 167837957}]},
    ],
)
def test_pod_backend_bad_ip(status: dict[str, Any]) -> None:
    """A missing or unparsable pod IP is 400 ``address not allowed``."""
    with pytest.raises(ProxyResolutionError) as caught:
        pod_backend(pod([], status), "")
    assert (caught.value.code, caught.value.message) == (400, "address not allowed")


# -- nodes -----------------------------------------------------------------------------------


def node(
    addresses: list[dict[str, str]],
    kubelet_port: int | None = None,
    labels: dict[str, str] | None = None,
) -> dict[str, Any]:
    status: dict[str, Any] = {"addresses": addresses}
    if kubelet_port is not None:
        status["daemonEndpoints"] = {"kubeletEndpoint": {"Port": kubelet_port}}
    return {"metadata": {"name": "n1", "labels": labels or {}}, "status": status}


ADDRS = [
    {"type": "ExternalIP", "address": "203.0.113.7"},
    {"type": "InternalIP", "address": "10.0.0.7"},
    {"type": "Hostname", "address": "n1.internal"},
]


@pytest.mark.parametrize(
    ("addresses", "preferred", "host"),
    [
        (ADDRS, None, "n1.internal"),  # default order: Hostname first
        (ADDRS[:2], None, "10.0.0.7"),  # InternalIP before ExternalIP
        (ADDRS, ("InternalIP", "Hostname"), "10.0.0.7"),
        (ADDRS, ("ExternalIP",), "203.0.113.7"),
    ],
)
def test_node_backend_address(
    addresses: list[dict[str, str]], preferred: tuple[str, ...] | None, host: str
) -> None:
    """The address is the first of the earliest preferred type."""
    node_obj = node(addresses)
    found = (
        node_backend(node_obj, "", "")
        if preferred is None
        else node_backend(node_obj, "", "", preferred)
    )
    assert found.host == host


def test_node_backend_hostname_label_fallback() -> None:
    """A missing Hostname address falls back to the kubernetes.io/hostname label."""
    labelled = node(ADDRS[:2], labels={"kubernetes.io/hostname": "n1-label"})
    assert node_backend(labelled, "", "").host == "n1-label"


@pytest.mark.parametrize(
    ("kubelet_port", "port", "scheme", "expected"),
    [
        (None, "", "", NodeBackend("10.0.0.7", 10250, "https", True)),
        (None, "", "http", NodeBackend("10.0.0.7", 10250, "https", True)),  # scheme ignored
        (None, "10250", "http", NodeBackend("10.0.0.7", 10250, "https", True)),
        (0, "", "", NodeBackend("10.0.0.7", 10250, "https", True)),
        (10255, "", "", NodeBackend("10.0.0.7", 10255, "https", True)),
        (10255, "10255", "", NodeBackend("10.0.0.7", 10255, "https", True)),
        (10255, "10250", "", NodeBackend("10.0.0.7", 10250, "http", False)),
        (None, "9100", "", NodeBackend("10.0.0.7", 9100, "http", False)),
        (None, "9100", "https", NodeBackend("10.0.0.7", 9100, "https", False)),
        (70000, "", "", NodeBackend("10.0.0.7", 10250, "https", True)),  # invalid: default
    ],
)
def test_node_backend_ports(
    kubelet_port: int | None, port: str, scheme: str, expected: NodeBackend
) -> None:
    """'' or the kubelet port is the kubelet (https, credentials); others are plain."""
    assert node_backend(node(ADDRS[1:2], kubelet_port), port, scheme) == expected


@pytest.mark.parametrize("port", ["010250", "+80", "0", "65536", "http", "-1", "1e3"])
def test_node_backend_rejects_odd_ports(port: str) -> None:
    """Non-canonical or named node ports are 400 (no kubelet port by another spelling)."""
    with pytest.raises(ProxyResolutionError) as caught:
        node_backend(node(ADDRS[1:2]), port, "")
    assert caught.value.code == 400


def test_node_backend_no_address() -> None:
    """No preferred address is 400 with kube's message listing the known ones."""
    with pytest.raises(ProxyResolutionError) as caught:
        node_backend(
            node([{"type": "ExternalIP", "address": "203.0.113.7"}]), "", "", ("InternalIP",)
        )
    assert caught.value.code == 400
    assert caught.value.message == (
        "no preferred addresses found; known addresses: [{ExternalIP 203.0.113.7}]"
    )


def test_node_backend_no_addresses_at_all() -> None:
    """An empty address list prints as Go's empty slice."""
    with pytest.raises(ProxyResolutionError, match=r"known addresses: \[\]$"):
        node_backend(node([]), "", "")


@pytest.mark.parametrize("address", ["evil.com:80@x", "a b", "http://x", "-bad-", "x/y"])
def test_node_backend_rejects_unusable_addresses(address: str) -> None:
    """An address that is neither an IP literal nor a hostname is 400 address not allowed."""
    with pytest.raises(ProxyResolutionError, match="address not allowed"):
        node_backend(node([{"type": "Hostname", "address": address}]), "", "")


# -- properties ------------------------------------------------------------------------------

ID_ALPHABET = "ab:-.hpst0189%/ \x00é"


@given(st.text(alphabet=ID_ALPHABET, max_size=24), st.sampled_from(["services", "pods", "nodes"]))
def test_parse_never_raises_anything_else(raw_id: str, resource: Any) -> None:
    """Any text parses or raises InvalidProxyId (never another exception)."""
    try:
        parse_proxy_id(raw_id, resource)
    except InvalidProxyId as exc:
        assert exc.code == 400


@given(st.text(max_size=40))
def test_parse_survives_arbitrary_text(raw_id: str) -> None:
    """Arbitrary unicode parses or raises InvalidProxyId."""
    try:
        parse_proxy_id(raw_id, "pods")
    except InvalidProxyId:
        pass


parts = st.text(alphabet=st.characters(blacklist_characters=":"), max_size=8)


@given(st.sampled_from(["", "http", "https"]), parts.filter(bool), parts)
def test_render_then_parse_round_trips(scheme: str, name: str, port: str) -> None:
    """parse(render(p)) == p for every ProxyId."""
    proxy_id = ProxyId(scheme, name, port)
    assert parse_proxy_id(render_proxy_id(proxy_id), "services") == proxy_id


@given(st.text(alphabet=ID_ALPHABET, max_size=24))
def test_parse_render_parse_is_stable(raw_id: str) -> None:
    """Rendering a parsed id gives an id with the same meaning."""
    try:
        parsed = parse_proxy_id(raw_id, "services")
    except InvalidProxyId:
        return
    assert parse_proxy_id(render_proxy_id(parsed), "services") == parsed
