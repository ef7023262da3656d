"""The two things every request needs first (server/context.py): an audit id and its
RequestInfo, both kept cheap without changing what they are."""

import random
import uuid

import pytest

from kubegate.core.requestinfo import PathError, parse_request_info
from kubegate.server import context
from kubegate.server.context import new_audit_id, request_info


def test_audit_id_is_a_version_4_uuid():
    """Every audit id parses as an RFC 4122 version-4 UUID and prints back the same."""
    for _ in range(200):
        text = new_audit_id()
        parsed = uuid.UUID(text)
        assert (parsed.version, parsed.variant, str(parsed)) == (4, uuid.RFC_4122, text)


def test_audit_id_matches_uuid_from_the_same_random_bits():
    """The id is what uuid.UUID(int=getrandbits(128), version=4) gives for the same bits."""
    random.seed(7)
    ours = new_audit_id()
    random.seed(7)
    assert ours == str(uuid.UUID(int=random.getrandbits(128), version=4))


def test_audit_ids_differ():
    """Ten thousand ids in a row are all distinct."""
    assert len({new_audit_id() for _ in range(10_000)}) == 10_000


@pytest.mark.parametrize(
    ("method", "path", "query"),
    [
        ("GET", "/api/v1/namespaces/default/services/web:80/proxy/a/b", ""),
        ("GET", "/api/v1/namespaces/default/configmaps", "watch=1"),
        ("DELETE", "/api/v1/namespaces/default/configmaps", ""),
        ("GET", "/healthz", ""),
    ],
)
def test_request_info_is_the_parse(method, path, query):
    """The memoised RequestInfo equals a fresh parse, and a repeat is the same object."""
    first = request_info(method, path, query)
    assert first == parse_request_info(method, path, query)
    assert request_info(method, path, query) is first


def test_query_is_part_of_the_question():
    """The same path with and without ``watch=1`` gives a watch and a list."""
    path = "/api/v1/namespaces/default/pods"
    assert request_info("GET", path, "watch=1").verb == "watch"
    assert request_info("GET", path, "").verb == "list"


def test_refused_path_is_refused_every_time():
    """A PathError is raised again on the next identical request (never remembered)."""
    for _ in range(2):
        with pytest.raises(PathError):
            request_info("GET", "/api/v1/namespaces/%2F/pods", "")


def test_memo_stays_bounded(monkeypatch):
    """Past its size the memo starts over instead of growing."""
    monkeypatch.setattr(context, "_INFOS", {})
    monkeypatch.setattr(context, "_INFOS_MAX", 8)
    for i in range(50):
        request_info("GET", f"/api/v1/namespaces/n{i}/pods", "")
    assert len(context._INFOS) <= 8


def test_long_paths_are_parsed_but_not_kept(monkeypatch):
    """A path longer than the key limit is answered correctly and not remembered."""
    monkeypatch.setattr(context, "_INFOS", {})
    path = "/api/v1/namespaces/default/services/web/proxy/" + "x" * 600
    assert request_info("GET", path, "").subpath == "/" + "x" * 600
    assert context._INFOS == {}
