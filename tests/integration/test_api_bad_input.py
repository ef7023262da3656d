"""Bad input over raw HTTPS: every refusal is a Kubernetes Status with the right code and reason,
and nothing reaches the store (each test follows up with a read)."""

from __future__ import annotations

import http.client
import json
import socket
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from integration.api_kit import Api, Reply, running_api

BODY_LIMIT = 3 * 1024 * 1024


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    with running_api(tmp_path_factory.mktemp("bad-input")) as api:
        yield api


@pytest.fixture
def ns(api: Api) -> str:
    """A fresh, empty namespace per test, so "nothing stored" is "the namespace is empty"."""
    return api.fresh_namespace("bad")


def configmap(name: str, **fields: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, **fields}


def service(name: str, port: int = 80) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name},
        "spec": {"ports": [{"port": port}]},
    }


def assert_status(reply: Reply, code: int, reason: str) -> dict[str, Any]:
    """The reply is a Kubernetes failure Status with this code and reason; returns it."""
    assert reply.status == code, reply.body
    assert reply.headers["Content-Type"] == "application/json"
    status = reply.json()
    assert (status["kind"], status["apiVersion"], status["status"]) == ("Status", "v1", "Failure")
    assert (status["code"], status["reason"]) == (code, reason)
    return status


def test_malformed_json_is_bad_request(api, ns):
    """A body that is not JSON is refused with 400 BadRequest."""
    reply = api.request("POST", f"/api/v1/namespaces/{ns}/services", '{"kind": "Service",')
    assert_status(reply, 400, "BadRequest")
    assert api.names(f"/api/v1/namespaces/{ns}/services") == []


def test_malformed_yaml_is_bad_request(api, ns):
    """A YAML body that does not parse is refused with 400 BadRequest."""
    reply = api.request(
        "POST",
        f"/api/v1/namespaces/{ns}/configmaps",
        "metadata: [name: x",
        content_type="application/yaml",
    )
    assert_status(reply, 400, "BadRequest")
    assert api.names(f"/api/v1/namespaces/{ns}/configmaps") == []


def test_kind_not_matching_the_url_is_bad_request(api, ns):
    """A ConfigMap posted to the services collection is refused with 400 naming both kinds."""
    reply = api.request("POST", f"/api/v1/namespaces/{ns}/services", configmap("wrong"))
    status = assert_status(reply, 400, "BadRequest")
    assert "ConfigMap" in status["message"] and "Service" in status["message"]
    assert api.names(f"/api/v1/namespaces/{ns}/services") == []
    assert api.names(f"/api/v1/namespaces/{ns}/configmaps") == []


def test_api_version_not_matching_the_url_is_bad_request(api, ns):
    """A body whose apiVersion differs from the URL's group/version is refused with 400."""
    body = {**service("wrong"), "apiVersion": "v2"}
    status = assert_status(
        api.request("POST", f"/api/v1/namespaces/{ns}/services", body), 400, "BadRequest"
    )
    assert "v2" in status["message"]
    assert api.names(f"/api/v1/namespaces/{ns}/services") == []


def test_body_over_limit_with_content_length_is_too_large(api, ns):
    """A body over 3 MiB announced by Content-Length is refused with 413."""
    body = json.dumps(configmap("huge", data={"blob": "x" * BODY_LIMIT}))
    reply = api.request("POST", f"/api/v1/namespaces/{ns}/configmaps", body)
    assert_status(reply, 413, "RequestEntityTooLarge")
    assert api.names(f"/api/v1/namespaces/{ns}/configmaps") == []


def test_chunked_body_over_limit_is_too_large(api, ns):
    """A chunked body that grows past 3 MiB is refused with 413."""
    raw = json.dumps(configmap("huge", data={"blob": "x" * BODY_LIMIT})).encode()
    chunks = (raw[i : i + 65536] for i in range(0, len(raw), 65536))
    conn = api.connect()
    try:
        conn.request(
            "POST",
            f"/api/v1/namespaces/{ns}/configmaps",
            body=chunks,
            headers={"Content-Type": "application/json"},
            encode_chunked=True,
        )
        response = conn.getresponse()
        reply = Reply(response.status, response.headers, response.read())
    finally:
        conn.close()
    assert_status(reply, 413, "RequestEntityTooLarge")
    assert api.names(f"/api/v1/namespaces/{ns}/configmaps") == []


def test_unknown_field_with_strict_validation_is_bad_request(api, ns):
    """fieldValidation=Strict refuses an unknown field with 400 naming it."""
    body = configmap("strict", data={"a": "1"}, bogusField=1)
    reply = api.request("POST", f"/api/v1/namespaces/{ns}/configmaps?fieldValidation=Strict", body)
    status = assert_status(reply, 400, "BadRequest")
    assert '"bogusField"' in status["message"]
    assert api.names(f"/api/v1/namespaces/{ns}/configmaps") == []


def test_unknown_field_with_warn_validation_is_created_with_a_warning(api, ns):
    """fieldValidation=Warn creates the object and names the unknown field in a Warning header."""
    body = configmap("warned", data={"a": "1"}, bogusField=1)
    reply = api.request("POST", f"/api/v1/namespaces/{ns}/configmaps?fieldValidation=Warn", body)
    assert reply.status == 201, reply.body
    warning = reply.headers["Warning"]
    assert warning.startswith("299 - ") and "bogusField" in warning
    assert api.names(f"/api/v1/namespaces/{ns}/configmaps") == ["warned"]


def test_duplicate_field_with_strict_validation_is_bad_request(api, ns):
    """fieldValidation=Strict refuses a JSON object that repeats a field."""
    body = '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"dup"},"data":{"a":"1"},"data":{"b":"2"}}'
    reply = api.request("POST", f"/api/v1/namespaces/{ns}/configmaps?fieldValidation=Strict", body)
    status = assert_status(reply, 400, "BadRequest")
    assert 'duplicate field "data"' in status["message"]
    assert api.names(f"/api/v1/namespaces/{ns}/configmaps") == []


@pytest.mark.parametrize(
    "name", ["Bad_Name", "a" * 300, "-x"], ids=["underscore", "300-chars", "leading-dash"]
)
def test_invalid_name_is_invalid_on_metadata_name(api, ns, name):
    """A name that is not a DNS subdomain is 422 Invalid with a cause on metadata.name."""
    reply = api.request("POST", f"/api/v1/namespaces/{ns}/configmaps", configmap(name))
    status = assert_status(reply, 422, "Invalid")
    assert [cause["field"] for cause in status["details"]["causes"]] == ["metadata.name"]
    assert api.names(f"/api/v1/namespaces/{ns}/configmaps") == []


def test_service_port_out_of_range_is_invalid_on_the_port(api, ns):
    """A service port of 70000 is 422 Invalid with a cause on spec.ports[0].port."""
    reply = api.request("POST", f"/api/v1/namespaces/{ns}/services", service("big-port", 70000))
    status = assert_status(reply, 422, "Invalid")
    assert "spec.ports[0].port" in [cause["field"] for cause in status["details"]["causes"]]
    assert api.names(f"/api/v1/namespaces/{ns}/services") == []


def test_create_in_missing_namespace_is_not_found(api):
    """Creating in a namespace that does not exist is 404 naming the namespace."""
    missing = f"missing-{uuid.uuid4().hex[:8]}"
    reply = api.request("POST", f"/api/v1/namespaces/{missing}/configmaps", configmap("orphan"))
    status = assert_status(reply, 404, "NotFound")
    assert status["details"] == {"name": missing, "kind": "namespaces"}
    assert api.names(f"/api/v1/namespaces/{missing}/configmaps") == []


def test_put_with_name_differing_from_url_is_bad_request(api, ns):
    """A PUT whose body names another object is refused with 400 and changes nothing."""
    path = f"/api/v1/namespaces/{ns}/configmaps"
    assert api.request("POST", path, configmap("first", data={"v": "1"})).status == 201
    reply = api.request("PUT", f"{path}/first", configmap("second", data={"v": "2"}))
    assert_status(reply, 400, "BadRequest")
    assert api.names(path) == ["first"]
    assert api.request("GET", f"{path}/first").json()["data"] == {"v": "1"}


def test_patch_with_unsupported_content_type_is_unsupported_media_type(api, ns):
    """A PATCH whose content type is no patch type is 415 and changes nothing."""
    path = f"/api/v1/namespaces/{ns}/configmaps"
    assert api.request("POST", path, configmap("target", data={"v": "1"})).status == 201
    reply = api.request("PATCH", f"{path}/target", {"data": {"v": "2"}}, content_type="text/plain")
    assert_status(reply, 415, "UnsupportedMediaType")
    assert api.request("GET", f"{path}/target").json()["data"] == {"v": "1"}


@pytest.mark.parametrize(
    "patch",
    [
        '{"op": "replace", "path": "/data/v", "value": "2"}',
        '[{"op": "frobnicate", "path": "/data/v", "value": "2"}]',
        '[{"op": "replace", "path": "/nowhere/v", "value": "2"}]',
        '[{"op": "replace", "path": "/data/v"',
    ],
    ids=["not-a-list", "unknown-op", "missing-path", "truncated"],
)
def test_invalid_json_patch_is_a_client_error(api, ns, patch):
    """A JSON patch that cannot be decoded or applied is a 4xx Status and changes nothing."""
    path = f"/api/v1/namespaces/{ns}/configmaps"
    stored = api.request("POST", path, configmap("target", data={"v": "1"})).json()
    reply = api.request(
        "PATCH", f"{path}/target", patch, content_type="application/json-patch+json"
    )
    assert 400 <= reply.status < 500, reply.body
    assert_status(reply, reply.status, reply.json()["reason"])
    assert api.request("GET", f"{path}/target").json() == stored


def test_unknown_resource_is_not_found(api, ns):
    """A resource the server does not serve is 404 NotFound."""
    reply = api.request(
        "POST",
        f"/api/v1/namespaces/{ns}/widgets",
        {"apiVersion": "v1", "kind": "Widget", "metadata": {"name": "w"}},
    )
    assert_status(reply, 404, "NotFound")
    assert_status(api.request("GET", f"/api/v1/namespaces/{ns}/widgets"), 404, "NotFound")


def test_request_without_client_certificate_is_unauthorized(api, ns):
    """A request without a client certificate is 401 as a Status, and its write is not done."""
    reply = api.request(
        "POST", f"/api/v1/namespaces/{ns}/configmaps", configmap("anonymous"), cert=False
    )
    assert_status(reply, 401, "Unauthorized")
    assert api.names(f"/api/v1/namespaces/{ns}/configmaps") == []


def test_dry_run_create_answers_201_and_stores_nothing(api, ns):
    """dryRun=All answers the would-be object with 201 and stores nothing."""
    reply = api.request(
        "POST", f"/api/v1/namespaces/{ns}/configmaps?dryRun=All", configmap("dry", data={"a": "1"})
    )
    assert reply.status == 201, reply.body
    assert reply.json()["metadata"]["name"] == "dry"
    assert api.names(f"/api/v1/namespaces/{ns}/configmaps") == []
    assert_status(api.request("GET", f"/api/v1/namespaces/{ns}/configmaps/dry"), 404, "NotFound")


def test_invalid_label_selector_is_bad_request(api, ns):
    """A labelSelector that does not parse is 400 BadRequest."""
    reply = api.request("GET", f"/api/v1/namespaces/{ns}/configmaps?labelSelector=tier%20in%20(web")
    assert_status(reply, 400, "BadRequest")


def test_unknown_field_selector_is_bad_request(api, ns):
    """A fieldSelector on a field the kind does not index is 400 naming the field."""
    reply = api.request(
        "GET", f"/api/v1/namespaces/{ns}/configmaps?fieldSelector=spec.color%3Dblue"
    )
    status = assert_status(reply, 400, "BadRequest")
    assert "spec.color" in status["message"]


def test_unknown_field_selector_on_deletecollection_is_bad_request_and_deletes_nothing(api, ns):
    """A collection DELETE with a fieldSelector the kind cannot select on is 400, and every
    object is still there."""
    path = f"/api/v1/namespaces/{ns}/configmaps"
    api.ok("POST", path, configmap("kept"), expect=201)
    reply = api.request("DELETE", f"{path}?fieldSelector=spec.color%3Dblue")
    status = assert_status(reply, 400, "BadRequest")
    assert "spec.color" in status["message"]
    assert api.names(path) == ["kept"]


def test_unsupported_media_type_on_create_is_415(api, ns):
    """A create body sent as text/plain is 415 UnsupportedMediaType and stores nothing."""
    reply = api.request(
        "POST",
        f"/api/v1/namespaces/{ns}/configmaps",
        json.dumps(configmap("plain")),
        content_type="text/plain",
    )
    assert_status(reply, 415, "UnsupportedMediaType")
    assert api.names(f"/api/v1/namespaces/{ns}/configmaps") == []


@pytest.mark.parametrize("segment", ["%2e%2e", "..", "%2E%2E", "."])
def test_dot_segments_in_the_path_are_refused(api, segment):
    """A namespace segment of '.' or '..', raw or percent-encoded, never resolves: 400 BadRequest."""
    context = api.tls()
    # http.client would send the path as given, but be explicit: write the request line by hand.
    with socket.create_connection((api.host, api.port), timeout=30) as raw:
        with context.wrap_socket(raw, server_hostname=api.host) as tls:
            tls.sendall(
                f"GET /api/v1/namespaces/{segment}/services HTTP/1.1\r\nHost: {api.host}\r\n"
                "Connection: close\r\n\r\n".encode()
            )
            response = http.client.HTTPResponse(tls)  # type: ignore[arg-type]
            response.begin()
            reply = Reply(response.status, response.headers, response.read())
    assert_status(reply, 400, "BadRequest")
