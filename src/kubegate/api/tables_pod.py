"""The Pod row: READY, STATUS and RESTARTS computed as kube-apiserver's printPod does.

STATUS starts from ``status.phase`` (or ``status.reason``), then lets init containers
("Init:0/2", "Init:CrashLoopBackOff") and regular containers ("ContainerCreating",
"CrashLoopBackOff", "Completed", "Error") override it, walking container statuses from
last to first so that the first container's state wins, and finally "Terminating" /
"Unknown" for pods being deleted. Sidecars (init containers with restartPolicy Always)
count towards READY and RESTARTS like regular containers.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from kubegate.api.tables_format import age, get, human_duration, items, parse_timestamp, text

_SUCCEEDED_CONDITIONS = [
    {
        "type": "Completed",
        "status": "True",
        "reason": "Succeeded",
        "message": "The pod has completed successfully.",
    }
]
_FAILED_CONDITIONS = [
    {"type": "Completed", "status": "True", "reason": "Failed", "message": "The pod failed."}
]
_NODE_UNREACHABLE_REASON = "NodeLost"


def _is_sidecar(container: dict[str, Any] | None) -> bool:
    return container is not None and container.get("restartPolicy") == "Always"


def _condition_true(pod: dict[str, Any], condition_type: str) -> bool:
    for condition in items(pod, "status", "conditions"):
        if condition.get("type") == condition_type:
            return bool(condition.get("status") == "True")
    return False


def _terminated_reason(terminated: dict[str, Any], prefix: str) -> str:
    if terminated.get("reason"):
        return prefix + str(terminated["reason"])
    if terminated.get("signal"):
        return f"{prefix}Signal:{terminated['signal']}"
    return f"{prefix}ExitCode:{terminated.get('exitCode', 0)}"


class _Restarts:
    """Restart counters with the time of the latest restart, for "3 (5m ago)"."""

    def __init__(self) -> None:
        self.count = 0
        self.last: datetime | None = None

    def add(self, status: dict[str, Any]) -> None:
        self.count += int(status.get("restartCount") or 0)
        finished = parse_timestamp(get(status, "lastState", "terminated", "finishedAt"))
        if finished is not None and (self.last is None or finished > self.last):
            self.last = finished


def pod_status(pod: dict[str, Any]) -> tuple[int, int, str, _Restarts]:
    """(ready containers, total containers, STATUS text, restarts) for a pod."""
    spec_init = {c.get("name"): c for c in items(pod, "spec", "initContainers")}
    total = len(items(pod, "spec", "containers")) + sum(
        1 for c in spec_init.values() if _is_sidecar(c)
    )
    ready = 0
    phase = text(pod, "status", "phase")
    reason = text(pod, "status", "reason") or phase
    for condition in items(pod, "status", "conditions"):
        if condition.get("type") == "PodScheduled" and condition.get("reason") == "SchedulingGated":
            reason = "SchedulingGated"

    all_restarts, sidecar_restarts = _Restarts(), _Restarts()
    initializing = False
    for index, status in enumerate(items(pod, "status", "initContainerStatuses")):
        all_restarts.add(status)
        sidecar = _is_sidecar(spec_init.get(status.get("name")))
        if sidecar:
            sidecar_restarts.add(status)
        terminated = get(status, "state", "terminated")
        waiting_reason = text(status, "state", "waiting", "reason")
        if terminated is not None and int(terminated.get("exitCode") or 0) == 0:
            continue
        if sidecar and status.get("started"):
            if status.get("ready"):
                ready += 1
            continue
        if terminated is not None:
            reason = _terminated_reason(terminated, "Init:")
        elif waiting_reason and waiting_reason != "PodInitializing":
            reason = "Init:" + waiting_reason
        else:
            reason = f"Init:{index}/{len(spec_init)}"
        initializing = True
        break

    restarts = all_restarts
    if not initializing or _condition_true(pod, "Initialized"):
        restarts = sidecar_restarts
        has_running = False
        for status in reversed(items(pod, "status", "containerStatuses")):
            restarts.add(status)
            terminated = get(status, "state", "terminated")
            waiting_reason = text(status, "state", "waiting", "reason")
            if waiting_reason:
                reason = waiting_reason
            elif terminated is not None:
                reason = _terminated_reason(terminated, "")
            elif status.get("ready") and get(status, "state", "running") is not None:
                has_running = True
                ready += 1
        # A pod whose first container completed while another still runs is not done.
        if reason == "Completed" and has_running:
            reason = "Running" if _condition_true(pod, "Ready") else "NotReady"

    if get(pod, "metadata", "deletionTimestamp") is not None:
        if text(pod, "status", "reason") == _NODE_UNREACHABLE_REASON:
            reason = "Unknown"
        elif phase not in ("Succeeded", "Failed"):
            reason = "Terminating"
    return ready, total, reason, restarts


def _readiness_gates(pod: dict[str, Any]) -> str:
    gates = items(pod, "spec", "readinessGates")
    if not gates:
        return "<none>"
    conditions = items(pod, "status", "conditions")
    passing = 0
    for gate in gates:
        for condition in conditions:
            if condition.get("type") == gate.get("conditionType"):
                passing += condition.get("status") == "True"
                break
    return f"{passing}/{len(gates)}"


def pod_row(pod: dict[str, Any], now: datetime) -> tuple[list[Any], list[dict[str, str]] | None]:
    """Cells for the Pod table and the row conditions marking completed pods."""
    ready, total, reason, restarts = pod_status(pod)
    restarts_text = str(restarts.count)
    if restarts.count and restarts.last is not None:
        restarts_text = f"{restarts.count} ({human_duration(now - restarts.last)} ago)"
    pod_ip = text(pod, "status", "podIPs", 0, "ip") or text(pod, "status", "podIP")
    cells = [
        text(pod, "metadata", "name"),
        f"{ready}/{total}",
        reason,
        restarts_text,
        age(get(pod, "metadata", "creationTimestamp"), now),
        pod_ip or "<none>",
        text(pod, "spec", "nodeName") or "<none>",
        text(pod, "status", "nominatedNodeName") or "<none>",
        _readiness_gates(pod),
    ]
    phase = text(pod, "status", "phase")
    conditions = {"Succeeded": _SUCCEEDED_CONDITIONS, "Failed": _FAILED_CONDITIONS}.get(phase)
    return cells, conditions
