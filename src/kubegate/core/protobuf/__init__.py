"""Decode Kubernetes protobuf request bodies into the JSON form of the object.

kubectl's typed clients (``create configmap|secret|service|role ...``, ``create token``,
``auth can-i``, ``auth whoami``) send ``application/vnd.kubernetes.protobuf`` bodies and do not
retry with JSON on 415, so the server must read them. The layout is the one written by
k8s.io/apimachinery/pkg/runtime/serializer/protobuf::

    b"k8s\\x00" + runtime.Unknown{1: typeMeta{1: apiVersion, 2: kind}, 2: raw,
                                  3: contentEncoding, 4: contentType}

``raw`` is the typed message (``k8s.io.api.core.v1.ConfigMap`` ...). It is decoded here, driven by
a schema table (:class:`SchemaSet`, filled in by ``kubegate.api.protobuf_schema``), into the dict
that Go's ``encoding/json`` prints for the same Go struct, so the rest of the server cannot tell a
protobuf body from a JSON one. That takes the Go JSON rules, not protobuf's:

* a pointer field (:attr:`Presence.POINTER`) is printed iff it was on the wire, even when zero;
* a value field with ``omitempty`` (:attr:`Presence.OMITEMPTY`) is dropped when zero or empty --
  gogo-generated marshallers write every value field, zero or not, so presence means nothing;
* a value field without ``omitempty`` (:attr:`Presence.ALWAYS`) prints its zero value when
  absent (``"port": 0``, ``"rules": null``);
* ``omitempty`` never drops a struct (``"status": {}``); ``omitzero`` (:attr:`Presence.OMITZERO`)
  drops a zero one (``metadata.creationTimestamp`` since Kubernetes 1.35);
* an embedded struct (``json:",inline"``) is flattened into its parent.

Special encodings (types whose JSON form is not their protobuf message): ``time`` (metav1.Time,
RFC 3339 seconds; nanos are dropped on decode as Go does), ``microtime``, ``intstr``,
``quantity``, ``rawextension``, ``fieldsv1`` and ``stringlist`` (ExtraValue-style named
``[]string`` wrapped as ``{1: repeated string items}``).

Errors::

    ValueError
      ProtobufDecodeError      malformed body: bad magic, truncated varint, length past the end,
                               wrong wire type, invalid quantity ... -> 400 BadRequest
        UnknownKindError       well-formed envelope for an (apiVersion, kind) with no schema

Modules: ``wire`` (varints, fields, scalars), ``schema`` (Field, Message, SchemaSet and their
checks), ``decode`` (the envelope and the schema-driven walk).

Field numbers missing from the schema are skipped, as Go does, and reported as strings such as
``"unknown field 12 in .spec.ports[0]"`` so the server can apply ``fieldValidation``.
"""

from .decode import MAGIC, MAX_DEPTH, MEDIA_TYPE, decode, decode_message
from .schema import (
    SCALAR_TYPES,
    SPECIAL_TYPES,
    Field,
    Label,
    Message,
    Presence,
    SchemaSet,
    UnknownKindError,
)
from .wire import ProtobufDecodeError

__all__ = [
    "MAGIC",
    "MAX_DEPTH",
    "MEDIA_TYPE",
    "SCALAR_TYPES",
    "SPECIAL_TYPES",
    "Field",
    "Label",
    "Message",
    "Presence",
    "ProtobufDecodeError",
    "SchemaSet",
    "UnknownKindError",
    "decode",
    "decode_message",
]
