"""Request-info parsing: one canonical reading of every API path."""

import pytest

from kubegate.core.requestinfo import PathError, parse_request_info

CASES = [
    # method, path, query -> (verb, group, version, namespace, resource, name, subresource, subpath)
    (
        "GET",
        "/api/v1/namespaces/default/services",
        "",
        ("list", "", "v1", "default", "services", "", "", ""),
    ),
    ("GET", "/api/v1/services", "", ("list", "", "v1", "", "services", "", "", "")),
    (
        "GET",
        "/api/v1/namespaces/default/services",
        "watch=1",
        ("watch", "", "v1", "default", "services", "", "", ""),
    ),
    (
        "GET",
        "/api/v1/namespaces/default/services",
        "watch=true",
        ("watch", "", "v1", "default", "services", "", "", ""),
    ),
    (
        "GET",
        "/api/v1/namespaces/default/services",
        "watch=0",
        ("list", "", "v1", "default", "services", "", "", ""),
    ),
    (
        "GET",
        "/api/v1/namespaces/default",
        "",
        ("get", "", "v1", "", "namespaces", "default", "", ""),
    ),
    (
        "PUT",
        "/api/v1/namespaces/default/status",
        "",
        ("update", "", "v1", "", "namespaces", "default", "status", ""),
    ),
    (
        "PUT",
        "/api/v1/namespaces/default/finalize",
        "",
        ("update", "", "v1", "", "namespaces", "default", "finalize", ""),
    ),
    ("POST", "/api/v1/namespaces", "", ("create", "", "v1", "", "namespaces", "", "", "")),
    (
        "DELETE",
        "/api/v1/namespaces/x/pods",
        "",
        ("deletecollection", "", "v1", "x", "pods", "", "", ""),
    ),
    ("DELETE", "/api/v1/namespaces/x/pods/p", "", ("delete", "", "v1", "x", "pods", "p", "", "")),
    (
        "PATCH",
        "/api/v1/namespaces/x/pods/p/status",
        "",
        ("patch", "", "v1", "x", "pods", "p", "status", ""),
    ),
    (
        "GET",
        "/apis/discovery.k8s.io/v1/namespaces/x/endpointslices/s",
        "",
        ("get", "discovery.k8s.io", "v1", "x", "endpointslices", "s", "", ""),
    ),
    (
        "GET",
        "/api/v1/namespaces/ns/services/https:web:443/proxy/a/b/",
        "q=1",
        ("get", "", "v1", "ns", "services", "https:web:443", "proxy", "/a/b/"),
    ),
    (
        "POST",
        "/api/v1/namespaces/ns/pods/p/proxy/x%2Fy",
        "",
        ("create", "", "v1", "ns", "pods", "p", "proxy", "/x%2Fy"),
    ),
    ("GET", "/api/v1/nodes/n1/proxy", "", ("get", "", "v1", "", "nodes", "n1", "proxy", "")),
    (
        "GET",
        "/api/v1/nodes/n1/proxy/metrics",
        "",
        ("get", "", "v1", "", "nodes", "n1", "proxy", "/metrics"),
    ),
    (
        "HEAD",
        "/api/v1/namespaces/a/configmaps/c",
        "",
        ("get", "", "v1", "a", "configmaps", "c", "", ""),
    ),
]


@pytest.mark.parametrize(("method", "path", "query", "expected"), CASES)
def test_resource_paths_parse_into_kube_attributes(method, path, query, expected):
    """Each resource path yields the verb and attributes kube-apiserver would derive."""
    info = parse_request_info(method, path, query)
    assert info.is_resource_request
    got = (
        info.verb,
        info.api_group,
        info.api_version,
        info.namespace,
        info.resource,
        info.name,
        info.subresource,
        info.subpath,
    )
    assert got == expected


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/api",
        "/apis",
        "/healthz",
        "/version",
        "/openapi/v2",
        "/api/v1",
        "/apis/rbac.authorization.k8s.io",
    ],
)
def test_non_resource_paths_are_not_resource_requests(path):
    """Discovery, health and version paths are non-resource requests."""
    assert not parse_request_info("GET", path, "").is_resource_request


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/namespaces/../services",
        "/api/v1/namespaces/./services",
        "/api/v1/namespaces/%2e%2e/services",
        "/api/v1/namespaces/a%2Fb/services",
        "/api/v1/namespaces/a%00/services",
        "/api/v1//namespaces/a/services",
        "/api/v1/namespaces/a/services/%2E%2E/proxy",
        "/api/v1/namespaces/a%5Cb/services",
    ],
)
def test_ambiguous_api_paths_are_refused(path):
    """Traversal, encoded separators, NUL and empty segments in the API part raise PathError."""
    with pytest.raises(PathError):
        parse_request_info("GET", path, "")


def test_proxy_subpath_is_kept_raw_and_opaque():
    """What follows /proxy is not decoded or resolved here; the proxy confines it later."""
    info = parse_request_info("GET", "/api/v1/namespaces/a/services/s/proxy/../../b/%2e%2e/", "")
    assert (info.namespace, info.name, info.subpath) == ("a", "s", "/../../b/%2e%2e/")


def test_double_encoded_dots_are_a_literal_name_not_traversal():
    """%252e%252e decodes once to the literal name '%2e%2e', never to '..'."""
    info = parse_request_info("GET", "/api/v1/namespaces/%252e%252e/services", "")
    assert info.namespace == "%2e%2e"
