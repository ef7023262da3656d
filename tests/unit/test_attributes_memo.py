"""``attributes_for`` remembers the Attributes of a (user, request info) pair by identity:
reused for the same two objects, never for equal-looking or different ones, and bounded."""

from __future__ import annotations

from kubegate.auth import attributes
from kubegate.auth.attributes import attributes_for
from kubegate.auth.types import UserInfo
from kubegate.core.requestinfo import parse_request_info

PROXY = "/api/v1/namespaces/demo/services/web/proxy/x"


def test_same_user_and_info_reuse_one_attributes() -> None:
    """The same user and info objects give back the very same Attributes."""
    user = UserInfo("alice", groups=("dev",))
    info = parse_request_info("GET", PROXY, "")
    assert attributes_for(user, info) is attributes_for(user, info)


def test_another_user_object_gets_its_own_attributes() -> None:
    """A different user object (a reloaded token file's) gets Attributes naming it."""
    info = parse_request_info("GET", PROXY, "")
    first = attributes_for(UserInfo("alice", groups=("dev",)), info)
    other = UserInfo("bob", groups=("ops",))
    second = attributes_for(other, info)
    assert second.user is other and first.user.name == "alice"


def test_another_info_gets_its_own_attributes() -> None:
    """A different request info for the same user gets its own verb and names."""
    user = UserInfo("alice")
    get = attributes_for(user, parse_request_info("GET", PROXY, ""))
    post = attributes_for(user, parse_request_info("POST", "/api/v1/namespaces/x/pods/p/proxy", ""))
    assert (get.verb, get.resource, get.name) == ("get", "services", "web")
    assert (post.verb, post.resource, post.name) == ("create", "pods", "p")


def test_verb_override_is_not_remembered() -> None:
    """An explicit verb (the upgrade's second check) never replaces the request's own."""
    user = UserInfo("alice")
    info = parse_request_info("GET", PROXY, "")
    assert attributes_for(user, info, verb="create").verb == "create"
    assert attributes_for(user, info).verb == "get"


def test_memo_is_bounded() -> None:
    """However many pairs pass, the memo holds at most its bound."""
    user = UserInfo("alice")
    for i in range(attributes._MEMO_MAX + 10):
        attributes_for(user, parse_request_info("GET", f"{PROXY}/{i}", ""))
    assert len(attributes._MEMO) <= attributes._MEMO_MAX
