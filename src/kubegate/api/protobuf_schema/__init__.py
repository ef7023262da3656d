"""The protobuf schema table: field numbers of every message kubegate decodes.

Field numbers, JSON names and presence follow k8s.io/api and k8s.io/apimachinery at the version
of the pinned kubectl (1.37): the ``generated.proto`` of each package for numbers and wire types,
the Go struct (pointer or value, ``json`` tag) for presence. The tables are written in a small
notation, one field a line, in Go struct order (which is the JSON key order)::

    message core.v1.ServicePort
        1  name         string
        6  appProtocol  string  ptr
        3  port         int32   always
        4  targetPort   intstr

``<number> <jsonName | inline> <type> [ptr | always | omitzero]``

* type: a scalar (``string bool int32 int64 uint32 uint64 double float bytes``), a special
  (``time microtime intstr quantity rawextension fieldsv1 stringlist``) or a message name;
  ``[]T`` is a repeated field, ``map[T]`` a ``map<string, T>``.
* ``inline``: an embedded Go struct whose fields are flattened into the parent's JSON.
* presence: ``ptr`` for a Go pointer (printed iff sent), ``always`` for a field without
  ``omitempty`` (zero value printed), ``omitzero`` for Go's ``omitzero``; the default is
  ``omitempty``. On struct types ``omitempty`` and ``always`` mean the same, as in Go.
* ``#`` starts a comment.

See :mod:`kubegate.core.protobuf` for what each of these decodes to.
"""

from __future__ import annotations

from typing import Any

from kubegate.core.protobuf import Field, Label, Message, Presence, SchemaSet, decode

from . import container, core, groups, meta, node, pod, volume

_TABLES = (meta, core, pod, container, volume, node, groups)

# (apiVersion, message package, top-level kinds) decoded from protobuf bodies.
_SERVED = (
    ("v1", "core.v1", "Namespace ConfigMap Secret ServiceAccount Service Endpoints Pod Node Event"),
    ("discovery.k8s.io/v1", "discovery.v1", "EndpointSlice"),
    ("rbac.authorization.k8s.io/v1", "rbac.v1", "Role ClusterRole RoleBinding ClusterRoleBinding"),
    ("authentication.k8s.io/v1", "authentication.v1", "TokenRequest TokenReview SelfSubjectReview"),
    (
        "authorization.k8s.io/v1",
        "authorization.v1",
        "SelfSubjectAccessReview SubjectAccessReview LocalSubjectAccessReview SelfSubjectRulesReview",
    ),
    ("policy/v1", "policy.v1", "Eviction"),
)

KINDS: dict[tuple[str, str], str] = {
    (api_version, kind): f"{package}.{kind}"
    for api_version, package, kinds in _SERVED
    for kind in kinds.split()
}
# metav1.AddToGroupVersion registers DeleteOptions in every group version; client-go encodes a
# delete body with the version of the resource being deleted.
KINDS.update(
    {
        (api_version, "DeleteOptions"): "meta.v1.DeleteOptions"
        for api_version in (*(served[0] for served in _SERVED), "meta.k8s.io/v1")
    }
)

_PRESENCE = {
    "ptr": Presence.POINTER,
    "always": Presence.ALWAYS,
    "omitzero": Presence.OMITZERO,
}


def parse_messages(text: str) -> dict[str, Message]:
    """Parse the table notation into messages; raise ValueError naming the bad line."""
    messages: dict[str, Message] = {}
    current: tuple[str, dict[int, Field]] | None = None
    for line_number, line in enumerate(text.splitlines(), 1):
        words = line.split("#", 1)[0].split()
        if not words:
            continue
        if words[0] == "message" and len(words) == 2:
            if words[1] in messages:
                raise ValueError(f"line {line_number}: message {words[1]} defined twice")
            current = (words[1], {})
            messages[words[1]] = Message(name=words[1], fields=current[1])
            continue
        if current is None or len(words) not in (3, 4) or not words[0].isdigit():
            raise ValueError(f"line {line_number}: cannot read {line.strip()!r}")
        field = _parse_field(words, line_number)
        if field.number in current[1]:
            raise ValueError(f"line {line_number}: {current[0]} field {field.number} twice")
        current[1][field.number] = field
    return messages


def _parse_field(words: list[str], line_number: int) -> Field:
    number, json_name, type_name = int(words[0]), words[1], words[2]
    label = Label.SINGULAR
    if type_name.startswith("[]"):
        label, type_name = Label.REPEATED, type_name[2:]
    elif type_name.startswith("map[") and type_name.endswith("]"):
        label, type_name = Label.MAP, type_name[4:-1]
    presence = Presence.OMITEMPTY
    if len(words) == 4:
        if words[3] not in _PRESENCE:
            raise ValueError(f"line {line_number}: unknown presence {words[3]!r}")
        presence = _PRESENCE[words[3]]
    return Field(
        number=number,
        json_name=None if json_name == "inline" else json_name,
        type=type_name,
        label=label,
        presence=presence,
    )


def build_schemas() -> SchemaSet:
    """Parse every table into one checked SchemaSet."""
    messages: dict[str, Message] = {}
    for table in _TABLES:
        for name, message in parse_messages(table.MESSAGES).items():
            if name in messages:
                raise ValueError(f"message {name} defined in two tables")
            messages[name] = message
    return SchemaSet(messages=messages, kinds=KINDS)


SCHEMAS = build_schemas()


def decode_kubernetes_protobuf(body: bytes) -> tuple[dict[str, Any], list[str]]:
    """Decode a protobuf request body against the served kinds: (object, unknown fields).

    Raises ProtobufDecodeError (a ValueError; UnknownKindError for kinds not in KINDS).
    """
    return decode(body, SCHEMAS)
