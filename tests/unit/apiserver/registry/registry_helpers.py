"""Object builders and store openers shared by the registry and allocator tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kubesvc.storage.memory import MemoryStore
from kubesvc.storage.store import Store


async def open_backend(kind: str, tmp_path: Path) -> Store:
    if kind == "sqlite":
        from kubesvc.storage.sqlite import SqliteStore

        return await SqliteStore.open(str(tmp_path / "registry.db"))
    return MemoryStore()


def svc(name: str, *, ns: str = "default", labels: dict[str, str] | None = None,
        **spec: Any) -> dict[str, Any]:
    spec.setdefault("ports", [{"port": 80}])
    md: dict[str, Any] = {"name": name, "namespace": ns}
    if labels:
        md["labels"] = labels
    return {"apiVersion": "v1", "kind": "Service", "metadata": md, "spec": spec}


def pod(name: str, *, ns: str = "default", node: str = "", labels: dict[str, str] | None = None,
        grace: int | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"containers": [{"name": "c", "image": "registry.k8s.io/pause"}]}
    if node:
        spec["nodeName"] = node
    if grace is not None:
        spec["terminationGracePeriodSeconds"] = grace
    md: dict[str, Any] = {"name": name, "namespace": ns}
    if labels:
        md["labels"] = labels
    return {"apiVersion": "v1", "kind": "Pod", "metadata": md, "spec": spec}


def deployment(name: str, *, ns: str = "default", replicas: int = 1) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": ns},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "c", "image": "registry.k8s.io/pause"}]},
            },
        },
    }


def cm(name: str, *, ns: str = "default", labels: dict[str, str] | None = None,
       **data: str) -> dict[str, Any]:
    md: dict[str, Any] = {"name": name, "namespace": ns}
    if labels:
        md["labels"] = labels
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": md, "data": dict(data)}
