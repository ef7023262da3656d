"""Validation of Services, Endpoints and EndpointSlices: one passing and one failing case per rule."""

from __future__ import annotations

from typing import Any

import pytest

from kubegate.api.validation import collect
from unit.validation_kit import Edit, Obj, causes, edited


def spec_set(**fields: Any) -> Edit:
    return lambda o: o["spec"].update(fields)


def port_set(index: int, **fields: Any) -> Edit:
    return lambda o: o["spec"]["ports"][index].update(fields)


SERVICE: Obj = {
    "kind": "Service",
    "metadata": {"name": "web", "namespace": "default"},
    "spec": {
        "type": "ClusterIP",
        "selector": {"app": "web"},
        "ports": [
            {"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"},
            {"name": "https", "port": 443, "targetPort": "https", "protocol": "TCP"},
        ],
    },
}


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda o: None, []),
        (spec_set(ports=[]), [("FieldValueRequired", "spec.ports")]),
        (spec_set(ports=[], clusterIP="None"), []),
        (port_set(0, port=0), [("FieldValueInvalid", "spec.ports[0].port")]),
        (port_set(0, port=65536), [("FieldValueInvalid", "spec.ports[0].port")]),
        (port_set(0, port=65535), []),
        (port_set(0, targetPort=0), []),
        (port_set(0, targetPort=70000), [("FieldValueInvalid", "spec.ports[0].targetPort")]),
        (port_set(0, targetPort="http-alt"), []),
        (port_set(0, targetPort="HTTP"), [("FieldValueInvalid", "spec.ports[0].targetPort")] * 2),
        (port_set(0, targetPort="a--b"), [("FieldValueInvalid", "spec.ports[0].targetPort")]),
        (port_set(0, protocol="SCTP"), []),
        (port_set(0, protocol="HTTP"), [("FieldValueNotSupported", "spec.ports[0].protocol")]),
        (port_set(1, name="http"), [("FieldValueDuplicate", "spec.ports[1].name")]),
        (port_set(1, name=""), [("FieldValueRequired", "spec.ports[1].name")]),
        (port_set(1, name="Bad_Name"), [("FieldValueInvalid", "spec.ports[1].name")]),
        (spec_set(ports=[{"port": 80}]), []),
        (port_set(1, port=80), [("FieldValueDuplicate", "spec.ports[1]")]),
        (port_set(1, port=80, protocol="UDP"), []),
        (port_set(0, appProtocol="kubernetes.io/h2c"), []),
        (
            port_set(0, appProtocol="bad proto"),
            [("FieldValueInvalid", "spec.ports[0].appProtocol")],
        ),
        (spec_set(type="Weird"), [("FieldValueNotSupported", "spec.type")]),
        (spec_set(type="NodePort"), []),
        (port_set(0, nodePort=30080), [("FieldValueForbidden", "spec.ports[0].nodePort")]),
        (
            lambda o: (spec_set(type="NodePort")(o), port_set(0, nodePort=70000)(o)),
            [("FieldValueInvalid", "spec.ports[0].nodePort")],
        ),
        (
            lambda o: (
                spec_set(type="NodePort")(o),
                port_set(0, nodePort=30000)(o),
                port_set(1, nodePort=30000)(o),
            ),
            [("FieldValueDuplicate", "spec.ports[1].nodePort")],
        ),
        (spec_set(selector={"app": "-bad"}), [("FieldValueInvalid", "spec.selector")]),
        (spec_set(sessionAffinity="ClientIP"), []),
        (spec_set(sessionAffinity="Sticky"), [("FieldValueNotSupported", "spec.sessionAffinity")]),
        (spec_set(externalIPs=["203.0.113.7"]), []),
        (spec_set(externalIPs=["not-an-ip"]), [("FieldValueInvalid", "spec.externalIPs[0]")]),
        (spec_set(externalIPs=["127.0.0.1"]), [("FieldValueInvalid", "spec.externalIPs[0]")]),
        (spec_set(externalTrafficPolicy="Local"), []),
        (
            spec_set(externalTrafficPolicy="Nearby"),
            [("FieldValueNotSupported", "spec.externalTrafficPolicy")],
        ),
    ],
)
def test_service_spec(edit: Edit, expected: list[tuple[str, str]]) -> None:
    """Ports, protocols, types and selectors follow ValidateService."""
    assert causes("Service", edited(SERVICE, edit)) == expected


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"clusterIP": "10.96.0.10"}, []),
        ({"clusterIP": "10.96.0.10", "clusterIPs": ["10.96.0.10", "fd00::a"]}, []),
        ({"clusterIP": ""}, []),
        ({"clusterIP": "None"}, []),
        ({"clusterIP": "10.96.0.300"}, [("FieldValueInvalid", "spec.clusterIPs[0]")]),
        ({"clusterIP": "010.96.0.1"}, [("FieldValueInvalid", "spec.clusterIPs[0]")]),
        (
            {"clusterIP": "10.96.0.10", "clusterIPs": ["10.96.0.11"]},
            [("FieldValueInvalid", "spec.clusterIPs")],
        ),
        ({"clusterIPs": ["10.96.0.11"]}, [("FieldValueInvalid", "spec.clusterIPs")]),
        (
            {"clusterIP": "None", "clusterIPs": ["None", "10.0.0.1"]},
            [("FieldValueInvalid", "spec.clusterIPs")],
        ),
        ({"ipFamilies": ["IPv4", "IPv6"]}, []),
        ({"ipFamilies": ["IPv5"]}, [("FieldValueNotSupported", "spec.ipFamilies[0]")]),
        ({"ipFamilies": ["IPv4", "IPv4"]}, [("FieldValueDuplicate", "spec.ipFamilies[1]")]),
        ({"ipFamilyPolicy": "PreferDualStack"}, []),
        ({"ipFamilyPolicy": "Maybe"}, [("FieldValueNotSupported", "spec.ipFamilyPolicy")]),
        (
            {"clusterIP": "fd00::a", "ipFamilies": ["IPv4"]},
            [("FieldValueInvalid", "spec.clusterIPs[0]")],
        ),
        ({"type": "NodePort", "clusterIP": "None"}, [("FieldValueInvalid", "spec.clusterIPs[0]")]),
        (
            {"type": "LoadBalancer", "clusterIP": "None"},
            [("FieldValueInvalid", "spec.clusterIPs[0]")],
        ),
    ],
)
def test_service_cluster_ips(spec: Obj, expected: list[tuple[str, str]]) -> None:
    """clusterIP is "", "None" or a valid IP, consistent with clusterIPs and ipFamilies."""
    service = edited(SERVICE, lambda o: o["spec"].update(spec))
    assert causes("Service", service) == expected


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"type": "ExternalName", "externalName": "db.example.com"}, []),
        ({"type": "ExternalName", "externalName": "db.example.com."}, []),
        ({"type": "ExternalName"}, [("FieldValueRequired", "spec.externalName")]),
        (
            {"type": "ExternalName", "externalName": "DB_host"},
            [("FieldValueInvalid", "spec.externalName")],
        ),
        (
            {"type": "ExternalName", "externalName": "db.example.com", "clusterIP": "10.0.0.1"},
            [("FieldValueForbidden", "spec.clusterIPs")],
        ),
    ],
)
def test_external_name_service(spec: Obj, expected: list[tuple[str, str]]) -> None:
    """ExternalName Services need a DNS name and no cluster IP; ports are optional."""
    service = {"metadata": {"name": "db", "namespace": "d"}, "spec": spec}
    assert causes("Service", service) == expected


OLD_SERVICE = edited(
    SERVICE, spec_set(clusterIP="10.96.0.10", clusterIPs=["10.96.0.10"], ipFamilies=["IPv4"])
)


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda o: None, []),
        (port_set(0, port=81), []),
        (
            spec_set(clusterIP="10.96.0.11", clusterIPs=["10.96.0.11"]),
            [("FieldValueInvalid", "spec.clusterIPs[0]")],
        ),
        (lambda o: (o["spec"].pop("clusterIP"), o["spec"].pop("clusterIPs")), []),
        (spec_set(clusterIPs=["10.96.0.10", "fd00::a"], ipFamilies=["IPv4", "IPv6"]), []),
        (
            spec_set(ipFamilies=["IPv6"], clusterIP="fd00::a", clusterIPs=["fd00::a"]),
            [
                ("FieldValueInvalid", "spec.clusterIPs[0]"),
                ("FieldValueInvalid", "spec.ipFamilies[0]"),
            ],
        ),
        (
            lambda o: o["spec"].update(
                type="ExternalName",
                externalName="x.example.com",
                clusterIP="",
                clusterIPs=[],
                ipFamilies=[],
            ),
            [],
        ),
    ],
)
def test_service_update(edit: Edit, expected: list[tuple[str, str]]) -> None:
    """Allocated cluster IPs and families stay fixed, except to or from ExternalName."""
    assert causes("Service", edited(OLD_SERVICE, edit), OLD_SERVICE) == expected


def test_port_range_message() -> None:
    """Port numbers outside 1-65535 get kube's range message."""
    (cause,) = collect("Service", edited(SERVICE, port_set(0, port=0))).causes
    assert cause.message == "Invalid value: 0: must be between 1 and 65535, inclusive"


# -- Endpoints ----------------------------------------------------------------------

ENDPOINTS: Obj = {
    "metadata": {"name": "web", "namespace": "default"},
    "subsets": [
        {
            "addresses": [{"ip": "10.1.0.5", "nodeName": "node-a", "hostname": "web-0"}],
            "notReadyAddresses": [{"ip": "10.1.0.6"}],
            "ports": [
                {"name": "http", "port": 8080, "protocol": "TCP"},
                {"name": "metrics", "port": 9090},
            ],
        }
    ],
}


def address_set(**fields: Any) -> Edit:
    return lambda o: o["subsets"][0]["addresses"][0].update(fields)


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda o: None, []),
        (
            lambda o: o["subsets"][0].update(addresses=[], notReadyAddresses=[]),
            [("FieldValueRequired", "subsets[0]")],
        ),
        (lambda o: o["subsets"][0].update(addresses=[]), []),
        (address_set(ip="10.1.0.999"), [("FieldValueInvalid", "subsets[0].addresses[0].ip")] * 2),
        (address_set(ip="127.0.0.1"), [("FieldValueInvalid", "subsets[0].addresses[0].ip")]),
        (address_set(ip="169.254.1.1"), [("FieldValueInvalid", "subsets[0].addresses[0].ip")]),
        (address_set(ip="0.0.0.0"), [("FieldValueInvalid", "subsets[0].addresses[0].ip")]),
        (address_set(ip="224.0.0.5"), [("FieldValueInvalid", "subsets[0].addresses[0].ip")]),
        (address_set(ip="fd00::5"), []),
        (
            address_set(hostname="Web_0"),
            [("FieldValueInvalid", "subsets[0].addresses[0].hostname")],
        ),
        (
            address_set(nodeName="Node A"),
            [("FieldValueInvalid", "subsets[0].addresses[0].nodeName")],
        ),
        (
            lambda o: o["subsets"][0]["notReadyAddresses"][0].update(ip="::1"),
            [("FieldValueInvalid", "subsets[0].notReadyAddresses[0].ip")],
        ),
        (
            lambda o: o["subsets"][0]["ports"][0].update(port=0),
            [("FieldValueInvalid", "subsets[0].ports[0].port")],
        ),
        (
            lambda o: o["subsets"][0]["ports"][1].pop("name"),
            [("FieldValueRequired", "subsets[0].ports[1].name")],
        ),
        (lambda o: o["subsets"][0].update(ports=[{"port": 80}]), []),
        (
            lambda o: o["subsets"][0]["ports"][0].update(protocol="ICMP"),
            [("FieldValueNotSupported", "subsets[0].ports[0].protocol")],
        ),
        (lambda o: o["subsets"][0].pop("ports"), []),
    ],
)
def test_endpoints(edit: Edit, expected: list[tuple[str, str]]) -> None:
    """Endpoint IPs must be real, non-special addresses; ports are named when several."""
    assert causes("Endpoints", edited(ENDPOINTS, edit)) == expected


def test_loopback_endpoint_message() -> None:
    """Loopback endpoint IPs are refused with kube's message."""
    (cause,) = collect("Endpoints", edited(ENDPOINTS, address_set(ip="127.0.0.1"))).causes
    assert (
        cause.message
        == 'Invalid value: "127.0.0.1": may not be in the loopback range (127.0.0.0/8, ::1/128)'
    )


# -- EndpointSlice ------------------------------------------------------------------

SLICE: Obj = {
    "metadata": {"name": "web-abc", "namespace": "default"},
    "addressType": "IPv4",
    "endpoints": [{"addresses": ["10.1.0.5"], "nodeName": "node-a", "hostname": "web-0"}],
    "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
}


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda o: None, []),
        (lambda o: o.pop("addressType"), [("FieldValueRequired", "addressType")]),
        (lambda o: o.update(addressType="IP"), [("FieldValueNotSupported", "addressType")]),
        (
            lambda o: o["endpoints"][0].update(addresses=[]),
            [("FieldValueRequired", "endpoints[0].addresses")],
        ),
        (lambda o: o["endpoints"][0].update(addresses=[f"10.1.0.{i}" for i in range(1, 101)]), []),
        (
            lambda o: o["endpoints"][0].update(
                addresses=[f"10.1.{i // 200}.{i % 200 + 1}" for i in range(101)]
            ),
            [("FieldValueTooMany", "endpoints[0].addresses")],
        ),
        (
            lambda o: o["endpoints"][0].update(addresses=["fd00::1"]),
            [("FieldValueInvalid", "endpoints[0].addresses[0]")],
        ),
        (
            lambda o: o["endpoints"][0].update(addresses=["127.0.0.1"]),
            [("FieldValueInvalid", "endpoints[0].addresses[0]")],
        ),
        (
            lambda o: (
                o.update(addressType="IPv6"),
                o["endpoints"][0].update(addresses=["fd00::1"]),
            ),
            [],
        ),
        (
            lambda o: (
                o.update(addressType="IPv6"),
                o["endpoints"][0].update(addresses=["10.0.0.1"]),
            ),
            [("FieldValueInvalid", "endpoints[0].addresses[0]")],
        ),
        (
            lambda o: (
                o.update(addressType="FQDN"),
                o["endpoints"][0].update(addresses=["web.example.com"]),
            ),
            [],
        ),
        (
            lambda o: (
                o.update(addressType="FQDN"),
                o["endpoints"][0].update(addresses=["localhost"]),
            ),
            [("FieldValueInvalid", "endpoints[0].addresses[0]")],
        ),
        (
            lambda o: o["endpoints"][0].update(hostname="Web"),
            [("FieldValueInvalid", "endpoints[0].hostname")],
        ),
        (
            lambda o: o["endpoints"][0].update(nodeName="Node_A"),
            [("FieldValueInvalid", "endpoints[0].nodeName")],
        ),
        (lambda o: o.update(endpoints=[{"addresses": ["10.1.0.5"]}] * 1000), []),
        (
            lambda o: o.update(endpoints=[{"addresses": ["10.1.0.5"]}] * 1001),
            [("FieldValueTooMany", "endpoints")],
        ),
        (lambda o: o["ports"][0].update(name="Bad_Name"), [("FieldValueInvalid", "ports[0].name")]),
        (
            lambda o: o["ports"].append({"name": "http", "port": 9}),
            [("FieldValueDuplicate", "ports[1].name")],
        ),
        (
            lambda o: o["ports"][0].update(protocol="GRE"),
            [("FieldValueNotSupported", "ports[0].protocol")],
        ),
        (lambda o: o["ports"][0].update(appProtocol="https"), []),
    ],
)
def test_endpoint_slice(edit: Edit, expected: list[tuple[str, str]]) -> None:
    """Slices hold 1-100 valid addresses per endpoint and at most 1000 endpoints."""
    assert causes("EndpointSlice", edited(SLICE, edit)) == expected


def test_endpoint_slice_too_many_message() -> None:
    """Too many endpoints reports the count and the limit."""
    (cause,) = collect(
        "EndpointSlice",
        edited(SLICE, lambda o: o.update(endpoints=[{"addresses": ["10.0.0.1"]}] * 1001)),
    ).causes
    assert cause.message == "Too many: 1001: must have at most 1000 items"


def test_endpoint_slice_address_type_is_immutable() -> None:
    """A slice's address type cannot change."""
    new = edited(
        SLICE,
        lambda o: (o.update(addressType="IPv6"), o["endpoints"][0].update(addresses=["fd00::1"])),
    )
    assert causes("EndpointSlice", new, SLICE) == [("FieldValueInvalid", "addressType")]
    assert causes("EndpointSlice", SLICE, SLICE) == []
