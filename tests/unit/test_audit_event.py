"""Audit Event rendering: kube's fields and formats, one ASCII line, no credentials."""

from __future__ import annotations

import json

import pytest

from kubegate.auth.audit_event import (
    AuditEvent,
    ObjectRef,
    encode_line,
    redact_request_uri,
    render,
    rfc3339_micro,
    without_managed_fields,
)
from kubegate.auth.audit_policy import Level
from kubegate.auth.types import UserInfo

RECEIVED = 1714564800.123456  # 2024-05-01T12:00:00.123456Z
ADMIN = UserInfo("admin", "uid-1", ("system:masters", "system:authenticated"), {"scopes": ("a",)})


def event(**overrides: object) -> AuditEvent:
    values: dict[str, object] = {
        "level": Level.METADATA,
        "audit_id": "3f1c",
        "request_uri": "/api/v1/namespaces/default/configmaps/cm",
        "verb": "get",
        "source_ip": "10.0.0.7",
        "received": RECEIVED,
        "completed": RECEIVED + 0.5,
        "user": ADMIN,
        "user_agent": "kubectl/v1.37.1",
        "object_ref": ObjectRef("configmaps", "default", "cm", "", "v1"),
        "code": 200,
    }
    values.update(overrides)
    return AuditEvent(**values)  # type: ignore[arg-type]


def test_metadata_event_has_kubes_fields_in_kubes_shape():
    """A Metadata record carries the Event fields kube writes, with kube's names."""
    assert render(event(annotations={"authorization.k8s.io/decision": "allow"})) == {
        "kind": "Event",
        "apiVersion": "audit.k8s.io/v1",
        "level": "Metadata",
        "auditID": "3f1c",
        "stage": "ResponseComplete",
        "requestURI": "/api/v1/namespaces/default/configmaps/cm",
        "verb": "get",
        "user": {
            "username": "admin",
            "uid": "uid-1",
            "groups": ["system:masters", "system:authenticated"],
            "extra": {"scopes": ["a"]},
        },
        "sourceIPs": ["10.0.0.7"],
        "userAgent": "kubectl/v1.37.1",
        "objectRef": {
            "resource": "configmaps",
            "namespace": "default",
            "name": "cm",
            "apiVersion": "v1",
        },
        "responseStatus": {"metadata": {}, "code": 200},
        "requestReceivedTimestamp": "2024-05-01T12:00:00.123456Z",
        "stageTimestamp": "2024-05-01T12:00:00.623456Z",
        "annotations": {"authorization.k8s.io/decision": "allow"},
    }


def test_timestamps_are_rfc3339_with_microseconds_in_utc():
    """Timestamps use kube's MicroTime format."""
    assert rfc3339_micro(0.000001) == "1970-01-01T00:00:00.000001Z"


def test_timestamp_rounding_carries_into_the_next_second():
    """A fraction that rounds up to a whole second moves to the next second."""
    assert rfc3339_micro(1714564800.9999996) == "2024-05-01T12:00:01.000000Z"


def test_object_ref_names_group_and_subresource():
    """objectRef carries apiGroup and subresource when the request has them."""
    ref = ObjectRef("deployments", "ns", "web", "apps", "v1", "scale")
    assert render(event(object_ref=ref))["objectRef"] == {
        "resource": "deployments",
        "namespace": "ns",
        "name": "web",
        "apiGroup": "apps",
        "apiVersion": "v1",
        "subresource": "scale",
    }


def test_non_resource_request_has_no_object_ref():
    """A request for /version or /api has no objectRef."""
    assert "objectRef" not in render(event(object_ref=None, request_uri="/version"))


def test_unauthenticated_request_has_an_empty_user():
    """A request that failed authentication is logged with ``user: {}``, as kube does."""
    assert render(event(user=None))["user"] == {}


def test_impersonation_logs_both_users():
    """``user`` is who authenticated and ``impersonatedUser`` who they acted as."""
    data = render(event(impersonated_user=UserInfo("jane", groups=("dev",))))
    assert data["user"]["username"] == "admin"
    assert data["impersonatedUser"] == {"username": "jane", "groups": ["dev"]}


def test_failure_status_carries_reason_and_message():
    """An error response's Status reason and message are in responseStatus."""
    failure = {
        "kind": "Status",
        "status": "Failure",
        "message": 'configmaps "cm" is forbidden',
        "reason": "Forbidden",
        "details": {"name": "cm", "kind": "configmaps"},
        "code": 403,
    }
    assert render(event(code=403, failure=failure))["responseStatus"] == {
        "metadata": {},
        "status": "Failure",
        "message": 'configmaps "cm" is forbidden',
        "reason": "Forbidden",
        "details": {"name": "cm", "kind": "configmaps"},
        "code": 403,
    }


def test_no_response_status_when_nothing_was_sent():
    """A request whose client left before any answer has no responseStatus."""
    assert "responseStatus" not in render(event(code=0))


@pytest.mark.parametrize(
    ("level", "has_request", "has_response"),
    [
        (Level.METADATA, False, False),
        (Level.REQUEST, True, False),
        (Level.REQUEST_RESPONSE, True, True),
    ],
)
def test_bodies_appear_only_at_their_levels(level: Level, has_request: bool, has_response: bool):
    """requestObject needs level Request, responseObject level RequestResponse."""
    data = render(event(level=level, request_object={"a": 1}, response_object={"b": 2}))
    assert ("requestObject" in data) is has_request
    assert ("responseObject" in data) is has_response


def test_line_is_one_line_of_ascii_with_control_characters_escaped():
    """CR, LF, ESC and non-ASCII in logged values are escaped: one record, one line."""
    line = encode_line(
        render(event(request_uri='/x\r\n{"forged":1}', user_agent="ua\x1b[31m\u2028é"))
    )
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    assert all(32 <= b < 127 for b in line[:-1])
    data = json.loads(line)
    assert data["requestURI"] == '/x\r\n{"forged":1}'
    assert data["userAgent"] == "ua\x1b[31m\u2028é"


REDACTIONS = [
    ("/api/v1/pods", "/api/v1/pods"),
    ("/p?access_token=abc", "/p?access_token=REDACTED"),
    ("/p?a=1&token=abc&b=2", "/p?a=1&token=REDACTED&b=2"),
    ("/p?ACCESS_TOKEN=abc", "/p?ACCESS_TOKEN=REDACTED"),
    ("/p?access%5Ftoken=abc", "/p?access%5Ftoken=REDACTED"),
    ("/p?id_token=x&password=y", "/p?id_token=REDACTED&password=REDACTED"),
    ("/p?tokens=keep&mytoken=keep", "/p?tokens=keep&mytoken=keep"),
    ("/p?token", "/p?token"),
    ("https://u:secret@h/p?q=1", "https://REDACTED@h/p?q=1"),
    ("https://h/p?x=a@b", "https://h/p?x=a@b"),
    # kubegate's sign-in paths: the code and state of the OIDC and app-origin callbacks
    ("/oauth2/callback?code=c&state=s", "/oauth2/callback?code=REDACTED&state=REDACTED"),
    (
        "/oauth2/callback?state=s&error=access_denied",
        "/oauth2/callback?state=REDACTED&error=access_denied",
    ),
    ("/-/apps-callback?code=c", "/-/apps-callback?code=REDACTED"),
    ("/-/apps-callback?CODE=c&State=s", "/-/apps-callback?CODE=REDACTED&State=REDACTED"),
    ("/-/apps-auth?host=h&then=%2F&state=s", "/-/apps-auth?host=h&then=%2F&state=REDACTED"),
    ("https://h:1/oauth2/callback?code=c", "https://h:1/oauth2/callback?code=REDACTED"),
    # ... and only there: a backend's own code and state are its business
    (
        "/api/v1/namespaces/n/services/s/proxy/cb?code=c&state=s",
        "/api/v1/namespaces/n/services/s/proxy/cb?code=c&state=s",
    ),
    ("/oauth2/callback/x?code=c", "/oauth2/callback/x?code=c"),
]


@pytest.mark.parametrize(("target", "expected"), REDACTIONS)
def test_credentials_in_the_request_uri_are_redacted(target: str, expected: str):
    """Credential query values and URL userinfo never reach requestURI."""
    assert redact_request_uri(target) == expected


def test_request_uri_is_redacted_when_rendered():
    """render() applies the redaction."""
    assert render(event(request_uri="/p?access_token=s3cr3t"))["requestURI"] == (
        "/p?access_token=REDACTED"
    )


def test_managed_fields_can_be_omitted_from_objects_and_list_items():
    """without_managed_fields drops metadata.managedFields at the top and in items."""
    item = {"metadata": {"name": "a", "managedFields": [{"manager": "kubectl"}]}}
    listed = {"kind": "List", "metadata": {}, "items": [item]}
    assert without_managed_fields(item) == {"metadata": {"name": "a"}}
    assert without_managed_fields(listed)["items"] == [{"metadata": {"name": "a"}}]
    assert item["metadata"]["managedFields"]  # the original is untouched
