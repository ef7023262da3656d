"""ObjectMeta validation and the small helpers every kind's validation shares.

Mirrors k8s.io/apimachinery/pkg/api/validation (ValidateObjectMeta, ValidateObjectMetaUpdate,
ValidateAnnotations) and meta/v1/validation (ValidateLabels): same field paths, same cause
types, same detail wording, so ``kubectl apply`` prints what a real cluster would.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

from kubegate.core import names
from kubegate.core.go_strconv import go_quote
from kubegate.errors import Cause, FieldErrors

NameFn = Callable[[str, bool], list[str]]

TOTAL_ANNOTATION_SIZE_LIMIT: Final = 256 * 1024  # 256 KiB, keys and values together
FIELD_IMMUTABLE: Final = "field is immutable"


# -- rendering values and extra cause types -------------------------------------------


def go_value(value: Any) -> str:
    """Render a bad value roughly as field.ErrorBody does for Go values."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return go_quote(value)
    if isinstance(value, list):
        if all(isinstance(v, str) for v in value):
            return "[]string{" + ", ".join(go_quote(v) for v in value) + "}"
        return "[]interface {}{" + ", ".join(go_value(v) for v in value) + "}"
    return str(value)


def invalid(errs: FieldErrors, path: str, value: Any, detail: str) -> None:
    """FieldValueInvalid with the value rendered the Go way (bools, lists, null)."""
    errs.causes.append(
        Cause("FieldValueInvalid", f"Invalid value: {go_value(value)}: {detail}", path)
    )


def too_long(errs: FieldErrors, path: str, limit: int) -> None:
    unit = "byte" if limit == 1 else "bytes"
    errs.causes.append(
        Cause("FieldValueTooLong", f"Too long: may not be more than {limit} {unit}", path)
    )


def too_many(errs: FieldErrors, path: str, actual: int, limit: int) -> None:
    errs.causes.append(
        Cause("FieldValueTooMany", f"Too many: {actual}: must have at most {limit} items", path)
    )


def not_found(errs: FieldErrors, path: str, value: Any) -> None:
    errs.causes.append(Cause("FieldValueNotFound", f"Not found: {go_value(value)}", path))


# -- reading JSON objects defensively ------------------------------------------------


def mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def sequence(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def string(value: Any) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else str(value)


def integer(value: Any) -> int:
    """An int field; anything else reads as 0 (decoding would have rejected it)."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    return 0


# -- labels, annotations, names -----------------------------------------------------


def validate_labels(errs: FieldErrors, labels: Any, path: str) -> None:
    """Every key a qualified name and every value a label value (ValidateLabels)."""
    for key, value in mapping(labels).items():
        for msg in names.is_qualified_name(str(key)):
            errs.invalid(path, str(key), msg)
        for msg in names.is_label_value(string(value)):
            errs.invalid(path, string(value), msg)


def validate_annotations(errs: FieldErrors, annotations: Any, path: str) -> None:
    """Keys are qualified names ignoring case; keys and values total at most 256 KiB."""
    total = 0
    for key, value in mapping(annotations).items():
        key_text = str(key)
        for msg in names.is_qualified_name(key_text.lower()):
            errs.invalid(path, key_text, msg)
        total += len(key_text.encode()) + len(string(value).encode())
    if total > TOTAL_ANNOTATION_SIZE_LIMIT:
        too_long(errs, path, TOTAL_ANNOTATION_SIZE_LIMIT)


def validate_dns1123_label(errs: FieldErrors, value: str, path: str) -> None:
    for msg in names.is_dns1123_label(value):
        errs.invalid(path, value, msg)


def validate_dns1123_subdomain(errs: FieldErrors, value: str, path: str) -> None:
    for msg in names.is_dns1123_subdomain(value):
        errs.invalid(path, value, msg)


def validate_qualified_name(errs: FieldErrors, value: str, path: str) -> None:
    for msg in names.is_qualified_name(value):
        errs.invalid(path, value, msg)


# -- ObjectMeta ---------------------------------------------------------------------


def validate_object_meta(
    errs: FieldErrors,
    obj: Mapping[str, Any],
    *,
    name_fn: NameFn,
    namespaced: bool | None,
) -> None:
    """ValidateObjectMeta for a create (and, in kube, for every update as well).

    ``namespaced`` is True for namespaced kinds (namespace required), False for
    cluster-scoped kinds (namespace ignored: the server clears it), None when unknown
    (namespace checked only if present).
    """
    meta = mapping(obj.get("metadata"))
    name = string(meta.get("name"))
    generate_name = string(meta.get("generateName"))
    if generate_name:
        for msg in name_fn(generate_name, True):
            errs.invalid("metadata.generateName", generate_name, msg)
    if name:
        for msg in name_fn(name, False):
            errs.invalid("metadata.name", name, msg)
    elif not generate_name:
        errs.required("metadata.name", "name or generateName is required")

    namespace = string(meta.get("namespace"))
    if namespaced is True and not namespace:
        errs.required("metadata.namespace")
    elif namespaced is not False and namespace:
        for msg in names.name_is_dns_label(namespace, False):
            errs.invalid("metadata.namespace", namespace, msg)

    generation = meta.get("generation")
    if isinstance(generation, int) and generation < 0:
        errs.invalid("metadata.generation", generation, "must be greater than or equal to 0")
    validate_labels(errs, meta.get("labels"), "metadata.labels")
    validate_annotations(errs, meta.get("annotations"), "metadata.annotations")
    for finalizer in sequence(meta.get("finalizers")):
        validate_qualified_name(errs, string(finalizer), "metadata.finalizers")


_IMMUTABLE_META_FIELDS: Final = ("name", "namespace", "uid", "creationTimestamp")


def validate_object_meta_update(
    errs: FieldErrors, obj: Mapping[str, Any], old: Mapping[str, Any]
) -> None:
    """Identity fields keep their values across an update (ValidateObjectMetaUpdate).

    A field absent from the new object counts as unchanged: the server copies uid and
    creationTimestamp forward before storing, as kube's rest.BeforeUpdate does.
    """
    meta, old_meta = mapping(obj.get("metadata")), mapping(old.get("metadata"))
    for field in _IMMUTABLE_META_FIELDS:
        new_value, old_value = meta.get(field), old_meta.get(field)
        if field in ("uid", "creationTimestamp") and not new_value:
            continue
        if string(new_value) != string(old_value):
            errs.invalid(f"metadata.{field}", string(new_value), FIELD_IMMUTABLE)
