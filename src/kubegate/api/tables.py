"""Server-side printing: objects as a meta.k8s.io/v1 Table for ``kubectl get``.

kubectl asks for ``Accept: application/json;as=Table;v=v1;g=meta.k8s.io`` and prints the
columns the server sends, hiding priority-1 columns unless ``-o wide``. The columns and
cell formats here are those of kube-apiserver (pkg/printers/internalversion): same names,
types, priorities and wording ("<none>", "<pending>", "1/2", "3 (5m ago)", "5d3h").
Kinds without a dedicated printer get kube's default table: Name and Created At.

``include_object`` mirrors ``?includeObject=``: "Metadata" (the default) attaches a
PartialObjectMetadata to each row, "Object" the whole object, "None" nothing.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from kubegate.api import tables_rows as rows
from kubegate.api.tables_format import rfc3339
from kubegate.api.tables_pod import pod_row
from kubegate.errors import BadRequest

_NAME_DOC: Final = (
    "Name must be unique within a namespace. Is required when creating resources, although "
    "some resources may allow a client to request the generation of an appropriate name "
    "automatically. Name is primarily intended for creation idempotence and configuration "
    "definition. Cannot be updated. More info: "
    "https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names"
)
_CREATED_DOC: Final = (
    "CreationTimestamp is a timestamp representing the server time when this object was "
    "created. It is not guaranteed to be set in happens-before order across separate "
    "operations. Clients may not set this value. It is represented in RFC3339 form and is "
    "in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: "
    "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata"
)
_CONTAINERS_DOC: Final = "Names of each container in the template."

INCLUDE_OBJECT_VALUES: Final = ("Metadata", "None", "Object")


@dataclass(frozen=True, slots=True)
class Column:
    """A metav1.TableColumnDefinition."""

    name: str
    type: str = "string"
    description: str = ""
    format: str = ""
    priority: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type,
            "format": self.format,
            "description": self.description,
            "priority": self.priority,
        }


NAME: Final = Column("Name", format="name", description=_NAME_DOC)
AGE: Final = Column("Age", description=_CREATED_DOC)

Cells = list[Any]
Conditions = list[dict[str, str]] | None
RowFn = Callable[[dict[str, Any], datetime], tuple[Cells, Conditions]]


def _plain(fn: Callable[[dict[str, Any], datetime], Cells]) -> RowFn:
    return lambda obj, now: (fn(obj, now), None)


def _default_row(obj: dict[str, Any], _now: datetime) -> tuple[Cells, Conditions]:
    metadata = obj.get("metadata") or {}
    return [metadata.get("name", ""), rfc3339(metadata.get("creationTimestamp"))], None


DEFAULT_COLUMNS: Final = (
    NAME,
    Column("Created At", type="date", description=_CREATED_DOC),
)

_BINDING_COLUMNS: Final = (
    NAME,
    Column("Role", description="RoleRef references a Role or a ClusterRole."),
    AGE,
    Column("Users", priority=1, description="Users in the roleBinding"),
    Column("Groups", priority=1, description="Groups in the roleBinding"),
    Column("ServiceAccounts", priority=1, description="ServiceAccounts in the roleBinding"),
)

PRINTERS: Final[dict[str, tuple[tuple[Column, ...], RowFn]]] = {
    "Pod": (
        (
            NAME,
            Column(
                "Ready",
                description="The aggregate readiness state of this pod for accepting traffic.",
            ),
            Column("Status", description="The aggregate status of the containers in this pod."),
            Column(
                "Restarts",
                description="The number of times the containers in this pod have been restarted "
                "and when the last container in this pod has restarted.",
            ),
            AGE,
            Column("IP", priority=1, description="IP address allocated to the pod."),
            Column("Node", priority=1, description="The node the pod is scheduled onto."),
            Column("Nominated Node", priority=1, description="The node the scheduler nominated."),
            Column("Readiness Gates", priority=1, description="Pod readiness gates that are true."),
        ),
        pod_row,
    ),
    "Service": (
        (
            NAME,
            Column("Type", description="How the Service is exposed."),
            Column("Cluster-IP", description="The IP address of the service inside the cluster."),
            Column("External-IP", description="External IPs or load-balancer ingress points."),
            Column("Port(s)", description="The list of ports that are exposed by this service."),
            AGE,
            Column(
                "Selector",
                priority=1,
                description="Route service traffic to pods with these labels.",
            ),
        ),
        _plain(rows.service_row),
    ),
    "Endpoints": (
        (NAME, Column("Endpoints", description="The set of all endpoints."), AGE),
        _plain(rows.endpoints_row),
    ),
    "EndpointSlice": (
        (
            NAME,
            Column("AddressType", description="The type of address carried by this slice."),
            Column("Ports", description="The network ports exposed by each endpoint."),
            Column("Endpoints", description="The addresses of the endpoints in this slice."),
            AGE,
        ),
        _plain(rows.endpoint_slice_row),
    ),
    "Node": (
        (
            NAME,
            Column("Status", description="The status of the node"),
            Column("Roles", description="The roles of the node"),
            AGE,
            Column("Version", description="Kubelet Version reported by the node."),
            Column("Internal-IP", priority=1, description="The node's internal address."),
            Column("External-IP", priority=1, description="The node's external address."),
            Column("OS-Image", priority=1, description="OS Image reported by the node."),
            Column(
                "Kernel-Version", priority=1, description="Kernel Version reported by the node."
            ),
            Column("Container-Runtime", priority=1, description="Container runtime version."),
        ),
        _plain(rows.node_row),
    ),
    "Namespace": (
        (NAME, Column("Status", description="The status of the namespace"), AGE),
        _plain(rows.namespace_row),
    ),
    "ConfigMap": (
        (NAME, Column("Data", description="The number of data keys."), AGE),
        _plain(rows.config_map_row),
    ),
    "Secret": (
        (
            NAME,
            Column("Type", description="Used to facilitate programmatic handling of secret data."),
            Column("Data", description="The number of data keys."),
            AGE,
        ),
        _plain(rows.secret_row),
    ),
    "ServiceAccount": (
        (NAME, Column("Secrets", description="The secrets this service account may use."), AGE),
        _plain(rows.service_account_row),
    ),
    "Event": (
        (
            Column("Last Seen", description="The time of the most recent occurrence."),
            Column("Type", description="Type of this event (Normal, Warning)."),
            Column("Reason", description="A short, machine understandable reason."),
            Column("Object", description="The object that this event is about."),
            Column("Subobject", priority=1, description="The part of the object, if any."),
            Column("Source", priority=1, description="The component reporting this event."),
            Column("Message", description="A human-readable description of the event."),
            Column("First Seen", priority=1, description="The time of the first occurrence."),
            Column("Count", priority=1, description="The number of occurrences."),
            Column("Name", priority=1, format="name", description=_NAME_DOC),
        ),
        _plain(rows.event_row),
    ),
    "RoleBinding": (_BINDING_COLUMNS, _plain(rows.binding_row)),
    "ClusterRoleBinding": (_BINDING_COLUMNS, _plain(rows.binding_row)),
    "Lease": (
        (NAME, Column("Holder", description="The holder of the lease."), AGE),
        _plain(rows.lease_row),
    ),
    # Role and ClusterRole have no printer in kube either: they use the default table.
}


def columns_for(kind: str) -> tuple[Column, ...]:
    """The column definitions ``kind`` is printed with."""
    return PRINTERS.get(kind, (DEFAULT_COLUMNS, _default_row))[0]


def _partial_metadata(obj: dict[str, Any]) -> dict[str, Any]:
    return {
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        # Not copied: the table is encoded straight away and nothing here mutates it.
        "metadata": obj.get("metadata") or {},
    }


def table_for(
    kind: str,
    objects: Iterable[dict[str, Any]],
    *,
    now: datetime,
    include_object: str = "Metadata",
    resource_version: str = "",
    continue_token: str = "",
    remaining_item_count: int | None = None,
    no_headers: bool = False,
) -> dict[str, Any]:
    """Render ``objects`` (all of one ``kind``) as a meta.k8s.io/v1 Table.

    ``now`` anchors the AGE columns; ``resource_version``, ``continue_token`` and
    ``remaining_item_count`` become the Table's list metadata. ``no_headers`` mirrors
    TableOptions.noHeaders and leaves ``columnDefinitions`` empty.
    """
    include = include_object or "Metadata"
    if include not in INCLUDE_OBJECT_VALUES:
        supported = ", ".join(f'"{v}"' for v in INCLUDE_OBJECT_VALUES)
        raise BadRequest(
            f'includeObject: Unsupported value: "{include}": supported values: {supported}'
        )
    columns, row_fn = PRINTERS.get(kind, (DEFAULT_COLUMNS, _default_row))
    table_rows: list[dict[str, Any]] = []
    for obj in objects:
        cells, conditions = row_fn(obj, now)
        row: dict[str, Any] = {"cells": cells}
        if conditions:
            row["conditions"] = copy.deepcopy(conditions)
        if include == "Metadata":
            row["object"] = _partial_metadata(obj)
        elif include == "Object":
            row["object"] = obj
        table_rows.append(row)
    metadata: dict[str, Any] = {}
    if resource_version:
        metadata["resourceVersion"] = resource_version
    if continue_token:
        metadata["continue"] = continue_token
    if remaining_item_count is not None:
        metadata["remainingItemCount"] = remaining_item_count
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": metadata,
        "columnDefinitions": [] if no_headers else [c.to_json() for c in columns],
        "rows": table_rows,
    }


__all__ = ["DEFAULT_COLUMNS", "PRINTERS", "Column", "columns_for", "table_for"]
