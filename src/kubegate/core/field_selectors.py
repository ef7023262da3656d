"""Field selectors: parsing, canonical rendering and per-kind selectable fields.

They follow k8s.io/apimachinery/pkg/fields: comma-separated ``field=value``,
``field==value`` or ``field!=value`` terms, with ``\\,``, ``\\=`` and ``\\\\`` escapes in
values. Which fields a kind supports, and how each is read from an object, mirrors the field
label conversion functions and ``ToSelectableFields`` of the built-in registries.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from kubegate.core.selector_errors import SelectorError


@dataclass(frozen=True, slots=True)
class FieldTerm:
    """One ``field=value`` (``negated=False``) or ``field!=value`` term."""

    field: str
    value: str
    negated: bool = False

    def matches(self, value: str) -> bool:
        return (value != self.value) if self.negated else (value == self.value)

    def __str__(self) -> str:
        return f"{self.field}{'!=' if self.negated else '='}{escape_field_value(self.value)}"


@dataclass(frozen=True, slots=True)
class FieldSelector:
    """A conjunction of field terms; the empty selector matches everything."""

    terms: tuple[FieldTerm, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.terms

    def fields(self) -> tuple[str, ...]:
        """The field names the selector refers to, in term order."""
        return tuple(t.field for t in self.terms)

    def matches(self, fields: Mapping[str, str] | Callable[[str], str | None]) -> bool:
        """Match a field set, or a ``field -> value`` reader; absent fields read as ""."""
        read = fields if callable(fields) else fields.get
        return all(t.matches(read(t.field) or "") for t in self.terms)

    def matches_object(self, kind: str, obj: Mapping[str, Any]) -> bool:
        """Match an object of ``kind``; raises SelectorError for an unsupported field."""
        return all(t.matches(field_value(kind, obj, t.field)) for t in self.terms)

    def requires_exact(self, field: str) -> str | None:
        """The value the selector pins ``field`` to with ``=``, if any (for index lookups)."""
        for term in self.terms:
            if term.field == field and not term.negated:
                return term.value
        return None

    def __str__(self) -> str:
        return ",".join(str(t) for t in self.terms)


def escape_field_value(value: str) -> str:
    return value.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=")


def unescape_field_value(text: str) -> str:
    """Undo ``escape_field_value``; unescaped ',' or '=' and unknown escapes are errors."""
    if not any(c in text for c in "\\,="):
        return text
    out: list[str] = []
    in_slash = False
    for ch in text:
        if in_slash:
            if ch not in "\\,=":
                raise SelectorError(f"invalid field selector: invalid escape sequence: \\{ch}")
            out.append(ch)
            in_slash = False
        elif ch == "\\":
            in_slash = True
        elif ch in ",=":
            # Go prints the rune with %v, which is its code point.
            raise SelectorError(f"invalid field selector: unescaped character in value: {ord(ch)}")
        else:
            out.append(ch)
    if in_slash:
        raise SelectorError("invalid field selector: invalid escape sequence: \\")
    return "".join(out)


def _split_terms(text: str) -> list[str]:
    # Split on commas not preceded by an escaping backslash; escapes stay in the terms.
    if not text:
        return []
    terms: list[str] = []
    start, in_slash = 0, False
    for i, ch in enumerate(text):
        if in_slash:
            in_slash = False
        elif ch == "\\":
            in_slash = True
        elif ch == ",":
            terms.append(text[start:i])
            start = i + 1
    terms.append(text[start:])
    return terms


def _split_term(term: str) -> tuple[str, str, str] | None:
    # The first operator occurrence splits; "!=" and "==" win over "=" at the same spot.
    for i in range(len(term)):
        for op in ("!=", "==", "="):
            if term.startswith(op, i):
                return term[:i], op, term[i + len(op) :]
    return None


def parse_field_selector(text: str) -> FieldSelector:
    """Parse ``?fieldSelector=``; terms come out sorted, as kube sorts them."""
    terms: list[FieldTerm] = []
    for part in sorted(_split_terms(text)):
        if not part:
            continue
        split = _split_term(part)
        if split is None:
            raise SelectorError(f"invalid selector: '{text}'; can't understand '{part}'")
        lhs, op, rhs = split
        terms.append(FieldTerm(lhs, unescape_field_value(rhs), negated=op == "!="))
    return FieldSelector(tuple(terms))


# -- per-kind selectable fields ------------------------------------------------------


def _get(obj: Mapping[str, Any], *path: str) -> Any:
    current: Any = obj
    for step in path:
        if not isinstance(current, Mapping):
            return None
        current = current.get(step)
    return current


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _pod_ip(obj: Mapping[str, Any]) -> str:
    ips = _get(obj, "status", "podIPs")
    if isinstance(ips, list) and ips and isinstance(ips[0], Mapping):
        return _text(ips[0].get("ip"))
    return _text(_get(obj, "status", "podIP"))


def _event_source(obj: Mapping[str, Any]) -> str:
    return _text(_get(obj, "source", "component")) or _text(obj.get("reportingComponent"))


_Reader = Callable[[Mapping[str, Any]], str]


def _path_reader(*path: str) -> _Reader:
    return lambda obj: _text(_get(obj, *path))


_META_FIELDS: Final[dict[str, _Reader]] = {
    "metadata.name": _path_reader("metadata", "name"),
    "metadata.namespace": _path_reader("metadata", "namespace"),
}


def _unset(_obj: Mapping[str, Any]) -> str:
    return ""


# Kinds with their own field label conversion in kube, and how each field is read.
# Fields a conversion accepts but ToSelectableFields never fills (Pod status.podIPs)
# read as "", which is what kube compares against.
_KIND_FIELDS: Final[dict[str, dict[str, _Reader]]] = {
    "Pod": {
        **_META_FIELDS,
        "spec.nodeName": _path_reader("spec", "nodeName"),
        "spec.restartPolicy": _path_reader("spec", "restartPolicy"),
        "spec.schedulerName": _path_reader("spec", "schedulerName"),
        "spec.serviceAccountName": _path_reader("spec", "serviceAccountName"),
        "spec.hostNetwork": lambda obj: _text(bool(_get(obj, "spec", "hostNetwork"))),
        "status.phase": _path_reader("status", "phase"),
        "status.podIP": _pod_ip,
        "status.podIPs": _unset,
        "status.nominatedNodeName": _path_reader("status", "nominatedNodeName"),
    },
    "Node": {
        "metadata.name": _path_reader("metadata", "name"),
        "spec.unschedulable": lambda obj: _text(bool(_get(obj, "spec", "unschedulable"))),
    },
    "Namespace": {
        "metadata.name": _path_reader("metadata", "name"),
        "status.phase": _path_reader("status", "phase"),
    },
    "Secret": {**_META_FIELDS, "type": _path_reader("type")},
    "Service": {
        **_META_FIELDS,
        "spec.clusterIP": _path_reader("spec", "clusterIP"),
        "spec.type": _path_reader("spec", "type"),
    },
    "ReplicationController": {
        **_META_FIELDS,
        "status.replicas": _path_reader("status", "replicas"),
    },
    "Event": {
        **_META_FIELDS,
        **{
            f"involvedObject.{name}": _path_reader("involvedObject", name)
            for name in (
                "kind",
                "namespace",
                "name",
                "uid",
                "apiVersion",
                "resourceVersion",
                "fieldPath",
            )
        },
        "reason": _path_reader("reason"),
        "reportingComponent": _path_reader("reportingComponent"),
        "source": _event_source,
        "type": _path_reader("type"),
    },
}

# Old v1 clients send spec.host for a Pod's node; kube converts it.
_FIELD_ALIASES: Final = {("Pod", "spec.host"): "spec.nodeName"}


def supported_fields(kind: str) -> tuple[str, ...]:
    """The field selector labels ``kind`` accepts."""
    return tuple(_KIND_FIELDS.get(kind, _META_FIELDS))


def _unsupported(kind: str, field: str) -> SelectorError:
    if kind in _KIND_FIELDS:
        return SelectorError(f"field label not supported: {field}")
    return SelectorError(
        f'"{field}" is not a known field selector: only "metadata.name", "metadata.namespace"'
    )


def field_value(kind: str, obj: Mapping[str, Any], field: str) -> str:
    """Read ``field`` of ``obj`` as kube's selectable field set would ("" when absent).

    Raises SelectorError, worded as kube words it, when ``kind`` does not support
    ``field``: kinds with their own conversion say ``field label not supported: <field>``,
    the rest use the default metadata-only wording. Call it with ``obj={}`` to check a
    selector up front.
    """
    name = _FIELD_ALIASES.get((kind, field), field)
    reader = _KIND_FIELDS.get(kind, _META_FIELDS).get(name)
    if reader is None:
        raise _unsupported(kind, field)
    return reader(obj)


def resolve_field_selector(kind: str, selector: FieldSelector) -> FieldSelector:
    """Check every field is supported by ``kind`` and apply kube's aliases (``spec.host``)."""
    resolved: list[FieldTerm] = []
    for term in selector.terms:
        field_value(kind, {}, term.field)  # raises for unsupported fields
        name = _FIELD_ALIASES.get((kind, term.field), term.field)
        resolved.append(FieldTerm(name, term.value, term.negated))
    return FieldSelector(tuple(resolved))
