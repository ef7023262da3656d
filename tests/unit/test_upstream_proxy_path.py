"""The upstream path of a via-apiserver proxy request: rebuilt from the authorized parts,
the sub-path cleaned as the local proxy cleans it, under the upstream URL's own prefix."""

from __future__ import annotations

import pytest

from kubegate.core.proxy_path import PathNotAllowed
from kubegate.core.upstream_proxy_path import upstream_proxy_path


@pytest.mark.parametrize(
    ("base", "namespace", "resource", "proxy_id", "subpath", "slash", "expected"),
    [
        ("", "ns", "services", "web", "", False, "/api/v1/namespaces/ns/services/web/proxy"),
        ("", "ns", "services", "web", "", True, "/api/v1/namespaces/ns/services/web/proxy/"),
        (
            "",
            "ns",
            "services",
            "https:web:8443",
            "/a/b",
            False,
            "/api/v1/namespaces/ns/services/https:web:8443/proxy/a/b",
        ),
        ("", "ns", "pods", "p", "/a//./b/", True, "/api/v1/namespaces/ns/pods/p/proxy/a/b/"),
        ("", "ns", "pods", "p", "/x/../../y", False, "/api/v1/namespaces/ns/pods/p/proxy/y"),
        ("", "", "nodes", "n1", "/metrics", False, "/api/v1/nodes/n1/proxy/metrics"),
        (
            "/k8s/clusters/c-1",
            "ns",
            "services",
            "web",
            "/q%3F",
            False,
            "/k8s/clusters/c-1/api/v1/namespaces/ns/services/web/proxy/q%3F",
        ),
        ("/prefix/", "", "nodes", "n", "", True, "/prefix/api/v1/nodes/n/proxy/"),
        ("", "ns", "services", "a b", "", False, "/api/v1/namespaces/ns/services/a%20b/proxy"),
    ],
)
def test_upstream_paths(base, namespace, resource, proxy_id, subpath, slash, expected):
    """Each request maps to exactly this upstream path."""
    assert (
        upstream_proxy_path(base, namespace, resource, proxy_id, subpath, trailing_slash=slash)
        == expected
    )


@pytest.mark.parametrize(
    ("namespace", "resource", "proxy_id"),
    [
        ("ns", "secrets", "s"),  # no proxy subresource
        ("", "services", "web"),  # namespaced without a namespace
        ("ns", "nodes", "n1"),  # a node with a namespace
        ("ns", "services", ""),  # no id
    ],
)
def test_requests_that_name_no_proxy_target_are_refused(namespace, resource, proxy_id):
    """Anything but a proxy request for one named object raises ValueError."""
    with pytest.raises(ValueError):
        upstream_proxy_path("", namespace, resource, proxy_id, "", trailing_slash=False)


def test_a_sub_path_the_local_proxy_refuses_is_refused_here_too():
    """A NUL in the sub-path is PathNotAllowed, as for a direct backend."""
    with pytest.raises(PathNotAllowed):
        upstream_proxy_path("", "ns", "services", "web", "/a%00", trailing_slash=False)
