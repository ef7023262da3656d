"""The one error of selector parsing (answered 400 Bad Request)."""

from __future__ import annotations


class SelectorError(ValueError):
    """A label or field selector that cannot be parsed or used (HTTP 400)."""
