"""The ReplicationController controller (upstream pkg/controller/replication, which wraps
the ReplicaSet controller): the ReplicaSet logic of :mod:`.replicaset` over core/v1
ReplicationControllers, whose ``spec.selector`` is a plain equality map (read here as
``matchLabels``) and whose pods carry a ``v1``/``ReplicationController`` owner reference.
``kubectl scale rc`` goes through the ``scale`` subresource served by the API server.

Created by the manager over the shared replicationcontrollers/pods informers.
"""

from __future__ import annotations

from typing import Any

from kubesvc.api.objects import Obj
from kubesvc.controllers.replicaset import ReplicaSetController

RCS = "replicationcontrollers"


class ReplicationManager(ReplicaSetController):
    name = "replicationcontroller"
    resource = RCS
    kind = "ReplicationController"
    api_version = "v1"

    def selector_of(self, rs: Obj) -> dict[str, Any] | None:
        sel = (rs.get("spec") or {}).get("selector")
        if not isinstance(sel, dict) or not sel:
            return None  # an empty RC selector selects nothing
        return {"matchLabels": dict(sel)}
