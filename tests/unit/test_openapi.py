"""The OpenAPI documents and the schema behind them, checked without a server."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from typing import Any

import pytest

from kubegate.api import openapi, schema
from kubegate.api.resources import RESOURCE_TYPES

TOP_LEVEL = [(r.group, r.version, r.kind) for r in RESOURCE_TYPES]
LISTED = [(r.group, r.version, r.list_kind) for r in RESOURCE_TYPES if "list" in r.verbs]
GROUP_VERSIONS = sorted(
    {f"api/{r.version}" if not r.group else f"apis/{r.group}/{r.version}" for r in RESOURCE_TYPES}
)


def v3(gv_path: str) -> dict[str, Any]:
    body = openapi.openapi_v3_group(gv_path)
    assert body is not None
    return json.loads(body)


# --- schema -------------------------------------------------------------------------------


@pytest.mark.parametrize("gvk", TOP_LEVEL + LISTED, ids=lambda g: "/".join(g))
def test_every_served_kind_has_a_gvk_definition(gvk: tuple[str, str, str]) -> None:
    """Each served kind and list kind has a definition tagged with its group-version-kind."""
    definition = schema.for_gvk(*gvk)
    assert definition is not None
    assert {"group": gvk[0], "version": gvk[1], "kind": gvk[2]} in definition[
        "x-kubernetes-group-version-kind"
    ]
    assert definition["description"]


def test_definitions_use_kube_names() -> None:
    """Definitions carry kube's OpenAPI names, including the scalar types."""
    for name in (
        "io.k8s.api.core.v1.Service",
        "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta",
        "io.k8s.api.discovery.v1.EndpointSlice",
        "io.k8s.api.core.v1.ObjectReference",
        "io.k8s.api.authentication.v1.TokenRequest",
    ):
        assert schema.definition(name) is not None, name
    int_or_string = schema.definition("io.k8s.apimachinery.pkg.util.intstr.IntOrString")
    assert int_or_string is not None
    assert (int_or_string["type"], int_or_string["format"]) == ("string", "int-or-string")
    assert schema.definition("io.k8s.apimachinery.pkg.api.resource.Quantity") is not None


def test_every_ref_resolves() -> None:
    """Every $ref in the definitions names a definition that exists."""
    missing = {
        ref
        for d in schema.all_definitions().values()
        for ref in _refs(d)
        if schema.definition(ref) is None
    }
    assert not missing


@pytest.mark.parametrize(
    ("definition", "field", "key", "strategy"),
    [
        ("io.k8s.api.core.v1.PodSpec", "containers", "name", "merge"),
        ("io.k8s.api.core.v1.PodSpec", "initContainers", "name", "merge"),
        ("io.k8s.api.core.v1.PodSpec", "ephemeralContainers", "name", "merge"),
        ("io.k8s.api.core.v1.PodSpec", "volumes", "name", "merge,retainKeys"),
        ("io.k8s.api.core.v1.PodSpec", "imagePullSecrets", "name", "merge"),
        ("io.k8s.api.core.v1.Container", "ports", "containerPort", "merge"),
        ("io.k8s.api.core.v1.Container", "env", "name", "merge"),
        ("io.k8s.api.core.v1.Container", "volumeMounts", "mountPath", "merge"),
        ("io.k8s.api.core.v1.ServiceSpec", "ports", "port", "merge"),
        ("io.k8s.api.core.v1.PodStatus", "conditions", "type", "merge"),
        ("io.k8s.api.core.v1.NodeStatus", "addresses", "type", "merge"),
        ("io.k8s.api.core.v1.NodeStatus", "conditions", "type", "merge"),
        ("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta", "ownerReferences", "uid", "merge"),
    ],
)
def test_patch_merge_keys(definition: str, field: str, key: str, strategy: str) -> None:
    """Lists kube merges by key carry the strategic-merge extensions."""
    d = schema.definition(definition)
    assert d is not None
    prop = d["properties"][field]
    assert prop["x-kubernetes-patch-merge-key"] == key
    assert prop["x-kubernetes-patch-strategy"] == strategy


@pytest.mark.parametrize(
    ("definition", "field"),
    [
        ("io.k8s.api.core.v1.PodSpec", "tolerations"),
        ("io.k8s.api.rbac.v1.Role", "rules"),
        ("io.k8s.api.rbac.v1.ClusterRoleBinding", "subjects"),
        ("io.k8s.api.discovery.v1.EndpointSlice", "endpoints"),
        ("io.k8s.api.core.v1.Endpoints", "subsets"),
    ],
)
def test_atomic_lists_have_no_patch_strategy(definition: str, field: str) -> None:
    """Lists kube declares atomic are replaced by strategic merge patches."""
    d = schema.definition(definition)
    assert d is not None
    prop = d["properties"][field]
    assert "x-kubernetes-patch-strategy" not in prop
    assert prop["x-kubernetes-list-type"] == "atomic"


def test_finalizers_merge_as_a_set() -> None:
    """metadata.finalizers merge (as a set) with no merge key."""
    d = schema.definition("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta")
    assert d is not None
    prop = d["properties"]["finalizers"]
    assert prop["x-kubernetes-patch-strategy"] == "merge"
    assert prop["x-kubernetes-list-type"] == "set"


def test_required_fields_are_listed() -> None:
    """Required fields from the client models appear in ``required``."""
    port = schema.definition("io.k8s.api.core.v1.ServicePort")
    container = schema.definition("io.k8s.api.core.v1.Container")
    assert port is not None and container is not None
    assert port["required"] == ["port"]
    assert container["required"] == ["name"]


# --- swagger 2.0 --------------------------------------------------------------------------


def test_v2_json_document() -> None:
    """/openapi/v2 as JSON is Swagger 2.0 with paths and definitions."""
    doc = json.loads(openapi.openapi_v2())
    assert doc["swagger"] == "2.0"
    assert "/api/v1/namespaces/{namespace}/services/{name}" in doc["paths"]
    assert doc["definitions"]["io.k8s.api.core.v1.Service"]["x-kubernetes-group-version-kind"]


def test_v2_patch_operations_declare_field_validation() -> None:
    """Every PATCH in the v2 document has the fieldValidation query parameter and a GVK."""
    doc = json.loads(openapi.openapi_v2())
    patches = [item["patch"] for item in doc["paths"].values() if "patch" in item]
    assert patches
    for op in patches:
        assert "fieldValidation" in {p["name"] for p in op["parameters"]}
        assert op["x-kubernetes-group-version-kind"]["kind"]


def test_v2_protobuf_is_the_gnostic_document() -> None:
    """The protobuf form decodes as openapi.v2.Document with the same definitions."""
    doc = dict(_fields(openapi.openapi_v2_protobuf()))
    assert doc[1] == b"2.0"
    names = [dict(_fields(named))[1].decode() for _, named in _fields(doc[9])]
    assert names == sorted(json.loads(openapi.openapi_v2())["definitions"])


def test_v2_protobuf_carries_vendor_extensions_as_yaml() -> None:
    """Schema vendor extensions are NamedAny values whose yaml is the JSON value."""
    definitions = {
        dict(_fields(n))[1].decode(): dict(_fields(n))[2]
        for _, n in _fields(dict(_fields(openapi.openapi_v2_protobuf()))[9])
    }
    service = definitions["io.k8s.api.core.v1.Service"]
    extensions = {}
    for number, named in _fields(service):
        if number == 31:
            fields = dict(_fields(named))
            extensions[fields[1].decode()] = json.loads(dict(_fields(fields[2]))[2])
    assert extensions["x-kubernetes-group-version-kind"] == [
        {"group": "", "kind": "Service", "version": "v1"}
    ]


# --- openapi 3.0 --------------------------------------------------------------------------


def test_v3_index_lists_every_group_version_by_hash() -> None:
    """/openapi/v3 maps each group-version to its document URL with the SHA-512 hash."""
    index = json.loads(openapi.openapi_v3_index())["paths"]
    assert sorted(index) == GROUP_VERSIONS
    for gv_path, entry in index.items():
        body = openapi.openapi_v3_group(gv_path)
        assert body is not None
        digest = hashlib.sha512(body).hexdigest().upper()
        assert entry["serverRelativeURL"] == f"/openapi/v3/{gv_path}?hash={digest}"


@pytest.mark.parametrize("gv_path", GROUP_VERSIONS)
def test_v3_group_documents_are_closed(gv_path: str) -> None:
    """A group-version document defines every schema it references."""
    doc = v3(gv_path)
    assert doc["openapi"].startswith("3.")
    schemas = doc["components"]["schemas"]
    refs = {r.removeprefix("#/components/schemas/") for r in _v3_refs(doc)}
    assert refs <= set(schemas)


@pytest.mark.parametrize(
    "rt", [r for r in RESOURCE_TYPES if "patch" in r.verbs], ids=lambda r: r.qualified
)
def test_v3_patch_declares_field_validation_for_each_kind(rt: Any) -> None:
    """kubectl finds a PATCH with fieldValidation tagged with each patchable kind's GVK."""
    doc = v3(f"api/{rt.version}" if not rt.group else f"apis/{rt.group}/{rt.version}")
    gvk = {"group": rt.group, "version": rt.version, "kind": rt.kind}
    found = [
        op
        for item in doc["paths"].values()
        for method, op in item.items()
        if method == "patch" and op["x-kubernetes-group-version-kind"] == gvk
    ]
    assert found
    assert "fieldValidation" in {p["name"] for p in found[0]["parameters"]}


def test_v3_refs_with_descriptions_use_all_of() -> None:
    """A field pointing at another schema keeps its description beside an allOf, as kube's."""
    spec = v3("api/v1")["components"]["schemas"]["io.k8s.api.core.v1.Service"]["properties"]
    assert spec["spec"]["allOf"] == [
        {"$ref": "#/components/schemas/io.k8s.api.core.v1.ServiceSpec"}
    ]
    assert spec["spec"]["description"].startswith("Spec defines the behavior of a service")


def test_v3_int_or_string_is_one_of() -> None:
    """IntOrString is published with oneOf integer/string (kube's OpenAPIV3OneOfTypes)."""
    schemas = v3("api/v1")["components"]["schemas"]
    assert schemas["io.k8s.apimachinery.pkg.util.intstr.IntOrString"]["oneOf"] == [
        {"type": "integer"},
        {"type": "string"},
    ]


def test_v3_merge_keys_survive_conversion() -> None:
    """The v3 documents carry the patch merge keys kubectl apply reads."""
    containers = v3("api/v1")["components"]["schemas"]["io.k8s.api.core.v1.PodSpec"]["properties"][
        "containers"
    ]
    assert containers["x-kubernetes-patch-merge-key"] == "name"
    assert containers["x-kubernetes-patch-strategy"] == "merge"


def test_serviceaccount_token_is_a_token_request() -> None:
    """serviceaccounts/token is a POST of authentication.k8s.io/v1 TokenRequest."""
    item = v3("api/v1")["paths"]["/api/v1/namespaces/{namespace}/serviceaccounts/{name}/token"]
    assert item["post"]["x-kubernetes-group-version-kind"] == {
        "group": "authentication.k8s.io",
        "version": "v1",
        "kind": "TokenRequest",
    }


def test_unknown_group_version_has_no_document() -> None:
    """A group-version kubegate does not serve has no v3 document."""
    assert openapi.openapi_v3_group("apis/apps/v1") is None


# --- responses ----------------------------------------------------------------------------


def test_response_v2_protobuf_when_asked() -> None:
    """kubectl's Accept for v2 gets protobuf with the media type client-go can parse."""
    found = openapi.openapi_response(
        "/openapi/v2", "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"
    )
    assert found is not None
    status, content_type, body = found
    assert (status, content_type) == (
        200,
        "application/com.github.proto-openapi.spec.v2.v1.0+protobuf",
    )
    assert body == openapi.openapi_v2_protobuf()


def test_response_v2_json_by_default() -> None:
    """Without a protobuf Accept, /openapi/v2 is JSON."""
    found = openapi.openapi_response("/openapi/v2", "application/json")
    assert found is not None and found.content_type == "application/json"
    assert json.loads(found.body)["swagger"] == "2.0"


def test_response_v3_group_with_hash_query_and_etag() -> None:
    """A v3 group URL (hash query included) answers the document with its hash as ETag."""
    index = json.loads(openapi.openapi_v3_index())["paths"]
    url = index["apis/discovery.k8s.io/v1"]["serverRelativeURL"]
    found = openapi.openapi_response(url, "application/json")
    assert found is not None and found.status == 200
    assert found.etag == '"' + url.split("hash=")[1] + '"'


def test_response_not_modified() -> None:
    """If-None-Match with the current ETag gets 304 and no body."""
    first = openapi.openapi_response("/openapi/v3", "")
    assert first is not None
    again = openapi.openapi_response("/openapi/v3", "", if_none_match=first.etag)
    assert again is not None and (again.status, again.body) == (304, b"")


@pytest.mark.parametrize("path", ["/openapi/v1", "/openapi/v3/apis/apps/v1", "/api/v1"])
def test_response_unknown_paths(path: str) -> None:
    """Paths that are not OpenAPI documents answer None (the caller's 404)."""
    assert openapi.openapi_response(path, "") is None


def test_documents_are_built_once() -> None:
    """The encoded documents are cached: the same bytes object every time."""
    assert openapi.openapi_v2() is openapi.openapi_v2()
    assert openapi.openapi_v3_group("api/v1") is openapi.openapi_v3_group("/openapi/v3/api/v1")


# --- helpers ------------------------------------------------------------------------------


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        if isinstance(node.get("$ref"), str):
            yield node["$ref"].removeprefix("#/definitions/")
        for value in node.values():
            yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def _v3_refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        if isinstance(node.get("$ref"), str):
            yield node["$ref"]
        for value in node.values():
            yield from _v3_refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _v3_refs(value)


def _fields(buf: bytes) -> Iterator[tuple[int, Any]]:
    """Decode protobuf wire format one level deep: (field number, int or bytes)."""
    i = 0
    while i < len(buf):
        key, i = _read_varint(buf, i)
        number, wire_type = key >> 3, key & 7
        if wire_type == 0:
            value, i = _read_varint(buf, i)
            yield number, value
        elif wire_type == 2:
            length, i = _read_varint(buf, i)
            yield number, buf[i : i + length]
            i += length
        else:
            raise AssertionError(f"unexpected wire type {wire_type}")


def _read_varint(buf: bytes, i: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = buf[i]
        i += 1
        result |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return result, i


def test_schema_json_is_what_the_generator_writes() -> None:
    """data/schema.json matches tools/gen_schema.py's output (same client version only)."""
    import importlib.util
    from pathlib import Path

    kubernetes = pytest.importorskip("kubernetes")
    root = Path(__file__).resolve().parents[2]
    committed = (root / "src/kubegate/api/data/schema.json").read_text("utf-8")
    if f"python client {kubernetes.__version__};" not in committed.splitlines()[1]:
        pytest.skip("schema.json was generated from another kubernetes client version")
    spec = importlib.util.spec_from_file_location("gen_schema", root / "tools/gen_schema.py")
    assert spec is not None and spec.loader is not None
    gen_schema = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen_schema)
    generator = gen_schema.Generator()
    generator.build()
    assert gen_schema.render(generator.definitions) == committed
