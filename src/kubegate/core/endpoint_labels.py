"""The well-known labels, annotations and controller names of Kubernetes' endpoints machinery.

These are kube's own names, shared by the EndpointSlice, EndpointSliceMirroring and legacy
Endpoints rules (``core/endpointslices.py``, ``core/endpointslice_mirroring.py``,
``core/legacy_endpoints.py``) and by the controller that runs them.
"""

from __future__ import annotations

SERVICE_NAME_LABEL = "kubernetes.io/service-name"
MANAGED_BY_LABEL = "endpointslice.kubernetes.io/managed-by"
SKIP_MIRROR_LABEL = "endpointslice.kubernetes.io/skip-mirror"
HEADLESS_LABEL = "service.kubernetes.io/headless"
ZONE_LABEL = "topology.kubernetes.io/zone"
# kube's own controller names, so kubectl, kube-proxy-style consumers and humans recognise
# the slices; kubegate is the only writer of a kubegate store, so nothing competes for them.
CONTROLLER_NAME = "endpointslice-controller.k8s.io"
MIRRORING_CONTROLLER_NAME = "endpointslicemirroring-controller.k8s.io"
OVER_CAPACITY_ANNOTATION = "endpoints.kubernetes.io/over-capacity"
LEADER_ANNOTATION = "control-plane.alpha.kubernetes.io/leader"
