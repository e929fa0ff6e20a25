"""controllers: the control loops of kubesvc, as kube-controller-manager runs them upstream.

EndpointSlice and Endpoints (plus mirroring for selector-less Services), Deployment and
ReplicaSet, LoadBalancer IPAM, node lifecycle (Lease heartbeats), garbage collection by
ownerReferences, Job / CronJob / TTL-after-finished, DaemonSet, ReplicationController, the
disruption controller and the cordon taint (issue 21), and the EventRecorder they share.
Every controller reads through shared :class:`kubesvc.informers.Informer` caches and writes
through the ``Client`` protocol only; :class:`ControllerManager` (``manager.py``) builds and
runs them. The CLI (``kubesvc up`` /
``kubesvc server``) is the caller.
"""

from __future__ import annotations

from kubesvc.controllers.manager import ControllerManager, ControllerOptions

__all__ = ["ControllerManager", "ControllerOptions"]
