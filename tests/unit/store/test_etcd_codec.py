"""etcd_codec: keys under a prefix and stored values without resourceVersion."""

from __future__ import annotations

import json
from typing import Any

import pytest

from kubegate.store import etcd_codec
from kubegate.store.etcd_codec import KeyCodec, prefix_end

DEPLOYMENT_METADATA_LAST = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "spec": {"template": {"metadata": {"labels": {"app": "x"}}, "spec": {}}},
    "metadata": {"name": "x", "namespace": "default", "resourceVersion": "7"},
}


@pytest.mark.parametrize(
    "obj",
    [
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}, "data": {"k": "v"}},
        {"kind": "Namespace", "metadata": {}},
        {"kind": "NoMetadata", "spec": [1, 2]},
        DEPLOYMENT_METADATA_LAST,
        {"note": '"metadata":{ in a string', "metadata": {"name": "tricky"}, "spec": {}},
        {"metadata": {"name": "ünïcode", "annotations": {"a": "\u2603"}}},
    ],
    ids=["configmap", "empty-metadata", "no-metadata", "nested-first", "in-string", "unicode"],
)
def test_stamp_equals_decoding_and_setting_the_resource_version(obj: dict[str, Any]) -> None:
    """Splicing the revision into the stored bytes gives the object with that resourceVersion."""
    stamped = json.loads(etcd_codec.stamp(etcd_codec.encode(obj), 42))
    expected = json.loads(json.dumps(obj))
    expected.setdefault("metadata", {})["resourceVersion"] = "42"
    assert stamped == expected


def test_stored_value_has_no_resource_version() -> None:
    """The revision is etcd's mod_revision, so the value never carries one."""
    stored = json.loads(etcd_codec.encode(DEPLOYMENT_METADATA_LAST))
    assert "resourceVersion" not in stored["metadata"]


def test_metadata_moves_before_the_first_container_only() -> None:
    """Member order is kept except that metadata precedes object- and array-valued members."""
    stored = json.loads(etcd_codec.encode(DEPLOYMENT_METADATA_LAST))
    assert list(stored) == ["apiVersion", "kind", "metadata", "spec"]


def test_encode_rejects_non_json_before_any_io() -> None:
    """Values JSON cannot carry raise like the other backends' encoders."""
    with pytest.raises(TypeError):
        etcd_codec.encode({"metadata": {}, "bad": object()})
    with pytest.raises(ValueError):
        etcd_codec.encode({"metadata": {}, "bad": float("nan")})
    with pytest.raises(TypeError):
        etcd_codec.encode({"metadata": "not an object"})


def test_stamp_falls_back_to_decoding_values_it_did_not_write() -> None:
    """A value without the expected layout is still stamped correctly (slowly)."""
    assert json.loads(etcd_codec.stamp(b'{"kind": "X"}', 3)) == {
        "kind": "X",
        "metadata": {"resourceVersion": "3"},
    }


@pytest.mark.parametrize(
    ("prefix", "key", "etcd_key"),
    [
        ("/registry", "/registry/services/default/a", b"/registry/services/default/a"),
        ("/kubegate", "/registry/services/default/a", b"/kubegate/services/default/a"),
        ("/a/b", "/registry/nodes/n1", b"/a/b/nodes/n1"),
    ],
)
def test_keys_round_trip_under_a_prefix(prefix: str, key: str, etcd_key: bytes) -> None:
    """The prefix replaces the leading /registry and comes off again."""
    codec = KeyCodec(prefix)
    assert codec.to_etcd(key) == etcd_key
    assert codec.from_etcd(etcd_key) == key


def test_keys_outside_the_registry_are_refused() -> None:
    """Only /registry keys have a place under the prefix."""
    with pytest.raises(ValueError):
        KeyCodec("/kubegate").to_etcd("/elsewhere/x")


@pytest.mark.parametrize(
    ("prefix", "end"),
    [(b"/registry/", b"/registry0"), (b"a\xff", b"b"), (b"\xff\xff", b"\0")],
)
def test_prefix_end_is_etcds_range_end(prefix: bytes, end: bytes) -> None:
    """The range end is the prefix with its last non-0xff byte incremented."""
    assert prefix_end(prefix) == end


def test_range_after_starts_just_past_the_continue_key() -> None:
    """Paging resumes at the first key greater than start_after, within the prefix."""
    codec = KeyCodec("/k")
    start, end = codec.range_after("/registry/services/", "/registry/services/default/b")
    assert (start, end) == (b"/k/services/default/b\0", b"/k/services0")
    assert codec.range_after("/registry/services/", "") == (b"/k/services/", b"/k/services0")
