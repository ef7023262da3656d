"""The resolver memoises each Service's rewrite policy for one cache generation, and the
subresource check is a set lookup with the old answers."""

from __future__ import annotations

from typing import Any

from kubegate.api.resources import RESOURCE_TYPES
from kubegate.proxy.resolve import AddressPolicy, Resolver
from kubegate.proxy.rewrite_policy import DEFAULT_POLICY, REWRITE_ANNOTATION, RewritePolicy


class FakeCache:
    """The two things rewrite_policy reads of the ProxyCache: services and the generation."""

    def __init__(self) -> None:
        self.generation = 0
        self.services: dict[tuple[str, str], dict[str, Any]] = {}
        self.reads = 0

    def service(self, namespace: str, name: str) -> dict[str, Any] | None:
        self.reads += 1
        return self.services.get((namespace, name))

    def annotate(self, namespace: str, name: str, annotations: dict[str, str]) -> None:
        self.services[(namespace, name)] = {"metadata": {"annotations": annotations}}
        self.generation += 1  # what the informers do on every applied change


def resolver(cache: FakeCache) -> Resolver:
    return Resolver(cache, AddressPolicy())  # type: ignore[arg-type]


def test_policy_is_built_once_per_generation() -> None:
    """Repeated requests to one Service read it from the cache once."""
    cache = FakeCache()
    cache.annotate("ns", "web", {REWRITE_ANNOTATION: "false"})
    memo = resolver(cache)
    first = memo.rewrite_policy("ns", "web")
    assert memo.rewrite_policy("ns", "web") is first
    assert cache.reads == 1
    assert first == RewritePolicy.from_annotations({REWRITE_ANNOTATION: "false"})


def test_changed_service_changes_the_policy() -> None:
    """After the Service's annotations change, the next request gets the new policy."""
    cache = FakeCache()
    cache.annotate("ns", "web", {REWRITE_ANNOTATION: "false"})
    memo = resolver(cache)
    assert memo.rewrite_policy("ns", "web").body is False
    cache.annotate("ns", "web", {})
    assert memo.rewrite_policy("ns", "web") == DEFAULT_POLICY


def test_missing_service_gets_the_default_policy() -> None:
    """A Service the cache does not hold is proxied with the defaults."""
    assert resolver(FakeCache()).rewrite_policy("ns", "gone") == DEFAULT_POLICY


def test_has_subresource_matches_the_subresource_table() -> None:
    """Every resource type answers exactly for the subresources it lists."""
    for rt in RESOURCE_TYPES:
        names = {sub for sub, _, _ in rt.subresources}
        for name in names | {"status", "proxy", "log", "exec", "scale", "", "nope"}:
            assert rt.has_subresource(name) == (name in names), (rt.plural, name)
