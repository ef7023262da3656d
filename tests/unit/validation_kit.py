"""Helpers for the validation tables (``test_validation_*.py``): the causes ``collect`` finds
for an object, and copies of a valid object with one edit applied."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from kubegate.api.validation import collect

Obj = dict[str, Any]
Edit = Callable[[Obj], None]


def causes(kind: str, obj: Obj, old: Obj | None = None) -> list[tuple[str, str]]:
    """``(type, field)`` of every cause validating ``obj`` (an update of ``old``) yields."""
    return [(c.type, c.field) for c in collect(kind, obj, old).causes]


def edited(obj: Obj, edit: Edit) -> Obj:
    """A deep copy of ``obj`` with ``edit`` applied."""
    result = copy.deepcopy(obj)
    edit(result)
    return result
