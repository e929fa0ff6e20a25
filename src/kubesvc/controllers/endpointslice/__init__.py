"""The EndpointSlice controller (upstream ``pkg/controller/endpointslice`` with the
``k8s.io/endpointslice`` reconciler): :mod:`.reconciler` is the pure diff from desired
endpoints to slice writes, :mod:`.controller` the informer/queue side, :mod:`.tracker` the
guard against acting on a cache that has not yet seen our own writes."""

from __future__ import annotations

from kubesvc.controllers.endpointslice.controller import EndpointSliceController

__all__ = ["EndpointSliceController"]
