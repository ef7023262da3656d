"""The controllers kubegate runs (kube-controller-manager's part of it), as one unit.

``run_controllers`` builds fresh controllers and runs them until cancelled: a leadership
term gets new controllers with empty caches (each controller runs only once), so a replica
that leads again later starts from the store's state, not from a stale cache.
"""

from __future__ import annotations

import asyncio

from kubegate.controllers.clusterrole_aggregation import ClusterRoleAggregationController
from kubegate.controllers.endpointslice import EndpointSliceController
from kubegate.store.base import Store


async def run_controllers(store: Store) -> None:
    """Run the EndpointSlice and ClusterRole aggregation controllers until cancelled."""
    controllers = {
        "endpointslice-controller": EndpointSliceController(store),
        "clusterrole-aggregation-controller": ClusterRoleAggregationController(store),
    }
    async with asyncio.TaskGroup() as group:
        for name, controller in controllers.items():
            group.create_task(controller.run(), name=name)
