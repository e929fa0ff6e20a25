"""runtime: the node agent — runs the pods bound to a node as host processes (or
simulated), with probes, restarts, logs and graceful termination; reports their status;
registers and heartbeats its Node. Also the trivial scheduler and the built-in agnhost.

Public API (imported lazily so ``python -m kubesvc.runtime.agnhost`` starts fast):
:class:`NodeAgent`, :class:`Scheduler`, :class:`PodRunner`, :class:`LogSource`,
:class:`ProcessRunner`, :class:`SimulatedRunner`, :class:`ImageMap`, :func:`make_runner`.
"""

from __future__ import annotations

from typing import Any

_EXPORTS = {
    "NodeAgent": "kubesvc.runtime.agent",
    "Scheduler": "kubesvc.runtime.scheduler",
    "ImageMap": "kubesvc.runtime.images",
    "PodLogs": "kubesvc.runtime.logs",
    "HostNetwork": "kubesvc.runtime.network",
    "PodNetwork": "kubesvc.runtime.network",
    "ProcessRunner": "kubesvc.runtime.process",
    "SimulatedRunner": "kubesvc.runtime.simulated",
    "ContainerInfo": "kubesvc.runtime.types",
    "ContainerLaunch": "kubesvc.runtime.types",
    "LogSource": "kubesvc.runtime.types",
    "PodRunner": "kubesvc.runtime.types",
    "make_runner": "kubesvc.runtime.select",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(name)
    import importlib

    return getattr(importlib.import_module(module), name)
