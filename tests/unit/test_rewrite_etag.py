"""Entity tags of rewritten responses (core/rewrite_etag.py), as tables."""

from __future__ import annotations

import pytest

from kubegate.core.rewrite_etag import holds_weak_form, weak_etag


@pytest.mark.parametrize(
    ("etag", "expected"),
    [('"v1"', 'W/"v1"'), ('W/"v1"', 'W/"v1"'), ('""', 'W/""')],
)
def test_weak_etag(etag: str, expected: str) -> None:
    """A strong tag gets the W/ prefix; a weak one is left alone."""
    assert weak_etag(etag) == expected


@pytest.mark.parametrize(
    ("if_none_match", "etag", "expected"),
    [
        ('W/"v1"', '"v1"', True),
        ('"a", W/"v1"', '"v1"', True),
        ('W/"a,b", "c"', '"a,b"', True),  # a comma inside a tag is not a separator
        ('"v1"', '"v1"', False),  # the client holds the strong form
        ('W/"v2"', '"v1"', False),
        ("*", '"v1"', False),
        (None, '"v1"', False),
        ("", '"v1"', False),
        ('W/"v1"', 'W/"v1"', False),  # already weak: nothing to weaken
    ],
)
def test_holds_weak_form(if_none_match: str | None, etag: str, expected: bool) -> None:
    """True only when If-None-Match lists exactly the weak form of the strong tag."""
    assert holds_weak_form(if_none_match, etag) is expected
