"""The StatefulSet controller (upstream ``pkg/controller/statefulset``): :mod:`.plan`
decides, :mod:`.history` keeps ControllerRevisions, :mod:`.controller` does the writes."""

from __future__ import annotations

from kubesvc.controllers.statefulset.controller import StatefulSetController

__all__ = ["StatefulSetController"]
