"""The watch-based ConfigMap/Secret manager of the node agent: which objects a pod's volumes
read, one watch per object started and stopped with the pods referencing it, and every
event reported with the object's reference."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from kubesvc.api.objects import Obj
from kubesvc.runtime.sandbox.sourcewatch import SourceRef, SourceWatcher, volume_sources


def test_volume_sources_of_plain_and_projected_volumes() -> None:
    pod: Obj = {"metadata": {"namespace": "ns"}, "spec": {"volumes": [
        {"name": "a", "configMap": {"name": "cm"}},
        {"name": "b", "secret": {"secretName": "sec"}},
        {"name": "c", "projected": {"sources": [
            {"configMap": {"name": "kube-root-ca.crt"}}, {"secret": {"name": "other"}},
            {"serviceAccountToken": {"path": "token"}}]}},
        {"name": "d", "emptyDir": {}}]}}
    assert volume_sources(pod) == {("configmaps", "ns", "cm"), ("secrets", "ns", "sec"),
                                   ("configmaps", "ns", "kube-root-ca.crt"),
                                   ("secrets", "ns", "other")}


class FakeInformer:
    def __init__(self, ref: SourceRef, log: list[str]) -> None:
        self.ref, self.log = ref, log
        self.on_update: Callable[[Obj, Obj], None] | None = None

    def add_handler(self, *, on_add: Callable[[Obj], None] | None = None,
                    on_update: Callable[[Obj, Obj], None] | None = None,
                    on_delete: Callable[[Obj], None] | None = None) -> None:
        self.on_update = on_update

    async def run(self, stop: asyncio.Event) -> None:
        self.log.append(f"start {self.ref[2]}")
        await stop.wait()
        self.log.append(f"stop {self.ref[2]}")


async def test_one_watch_per_object_started_and_stopped_with_its_pods() -> None:
    log: list[str] = []
    made: dict[SourceRef, FakeInformer] = {}
    changed: list[SourceRef] = []

    def make(ref: SourceRef) -> FakeInformer:
        made[ref] = FakeInformer(ref, log)
        return made[ref]

    w = SourceWatcher(make, changed.append)
    a, b = ("configmaps", "ns", "a"), ("secrets", "ns", "b")
    w.set_wanted({a, b})
    w.set_wanted({a, b})  # idempotent: no second watch
    await asyncio.sleep(0)
    assert sorted(log) == ["start a", "start b"] and w.watched == {a, b}
    on_update = made[a].on_update
    assert on_update is not None
    on_update({}, {})
    assert changed == [a]
    w.set_wanted({a})
    await asyncio.sleep(0)
    assert "stop b" in log and w.watched == {a}
    await w.close()
    assert "stop a" in log and w.watched == set()
