"""FakeRunner: an in-memory ``PodRunner`` for node-agent tests. Containers "run" until the
test ends them with :meth:`FakeRunner.exit`; every start and stop is recorded, and starts
can be made to fail (``fail_images``) to exercise StartError paths.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from dataclasses import dataclass

from kubesvc.runtime.types import ContainerInfo, ContainerLaunch, ExitCallback


@dataclass(slots=True)
class Stop:
    container_id: str
    grace_period: float


class FakeRunner:
    simulated = False

    def __init__(self) -> None:
        self.launches: list[ContainerLaunch] = []
        self.stops: list[Stop] = []
        self.infos: dict[str, ContainerInfo] = {}
        self.callbacks: dict[str, ExitCallback] = {}
        self.removed: list[str] = []
        self.fail_images: set[str] = set()
        self.recorded: list[ContainerInfo] = []  # what adoptable() returns
        self.stop_exit_code = 143  # what a SIGTERM'd container exits with
        self._ids = itertools.count(1)
        self._order: list[str] = []  # container ids, parallel to launches

    # -- test controls
    def running(self, pod: str | None = None,
                container: str | None = None) -> list[ContainerInfo]:
        out = []
        for launch, info in self._pairs():
            if info.finished_at is None and (pod is None or launch.pod == pod) and (
                    container is None or launch.container == container):
                out.append(info)
        return out

    def _pairs(self) -> list[tuple[ContainerLaunch, ContainerInfo]]:
        by_id = {i.id: i for i in self.infos.values()}
        return [(lc, by_id[cid]) for lc, cid in zip(self.launches, self._order, strict=True)]

    def exit(self, container_id: str, code: int = 0, *, signal: int | None = None) -> None:
        info = self.infos[container_id]
        if info.finished_at is not None:
            return
        info.finished_at = time.time()
        info.exit_code = code
        info.signal = signal
        cb = self.callbacks.pop(container_id, None)
        if cb is not None:
            asyncio.get_running_loop().call_soon(cb, info)

    # -- PodRunner
    async def start(self, launch: ContainerLaunch, *, on_exit: ExitCallback) -> ContainerInfo:
        cid = f"fake{next(self._ids):04d}"
        info = ContainerInfo(id=cid, pod_uid=launch.pod_uid, container=launch.container,
                             attempt=launch.attempt, started_at=time.time(), pid=None)
        self.launches.append(launch)
        self._order.append(cid)
        self.infos[cid] = info
        self.callbacks[cid] = on_exit
        if launch.image in self.fail_images:
            info.reason = "StartError"
            info.message = f"failed to start {launch.container}"
            self.exit(cid, 128)
        return info

    async def stop(self, container_id: str, *, grace_period: float) -> None:
        self.stops.append(Stop(container_id, grace_period))
        if container_id in self.infos:
            self.exit(container_id, self.stop_exit_code, signal=15)
            await asyncio.sleep(0)

    def status(self, container_id: str) -> ContainerInfo | None:
        return self.infos.get(container_id)

    def adoptable(self) -> list[ContainerInfo]:
        return list(self.recorded)

    def adopt(self, container_id: str, *, on_exit: ExitCallback) -> ContainerInfo | None:
        for info in self.recorded:
            if info.id == container_id:
                self.infos[info.id] = info
                self.callbacks[info.id] = on_exit
                return info
        return None

    async def remove_pod(self, pod_uid: str) -> None:
        self.removed.append(pod_uid)

    def log_path(self, pod_uid: str, container: str, attempt: int) -> str | None:
        return None
