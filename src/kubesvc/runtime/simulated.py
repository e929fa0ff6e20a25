"""SimulatedRunner (like kwok): every container "starts" at once and runs forever without a
process, so pods go Running/Ready with an IP for scale work; the containers of a Job's pods
exit 0 at once instead (kwok's pod-complete stage), so Jobs finish. Holds one small record per
container and no tasks; ``stop`` marks it exited (143, as after SIGTERM).

Called by the agent through the :class:`kubesvc.runtime.types.PodRunner` protocol.
"""

from __future__ import annotations

import asyncio
import secrets
import time

from kubesvc.runtime.types import ContainerInfo, ContainerLaunch, ExitCallback


class SimulatedRunner:
    simulated = True

    def __init__(self) -> None:
        self._infos: dict[str, ContainerInfo] = {}
        self._callbacks: dict[str, ExitCallback] = {}
        self._by_pod: dict[str, set[str]] = {}  # pod uid -> its container ids

    async def start(self, launch: ContainerLaunch, *, on_exit: ExitCallback) -> ContainerInfo:
        info = ContainerInfo(id=secrets.token_hex(32), pod_uid=launch.pod_uid,
                             container=launch.container, attempt=launch.attempt,
                             started_at=time.time())
        self._infos[info.id] = info
        self._by_pod.setdefault(launch.pod_uid, set()).add(info.id)
        self._callbacks[info.id] = on_exit
        if launch.completes:
            asyncio.get_running_loop().call_soon(self._complete, info.id)
        return info

    def _complete(self, container_id: str) -> None:
        """A Job's pod: the container "succeeds" right after it starts."""
        info = self._infos.get(container_id)
        if info is None or info.finished_at is not None:
            return
        info.finished_at = time.time()
        info.exit_code = 0
        cb = self._callbacks.pop(container_id, None)
        if cb is not None:
            cb(info)

    async def stop(self, container_id: str, *, grace_period: float) -> None:
        info = self._infos.get(container_id)
        if info is None or info.finished_at is not None:
            return
        info.finished_at = time.time()
        info.exit_code = 143
        info.signal = 15
        cb = self._callbacks.pop(container_id, None)
        if cb is not None:
            asyncio.get_running_loop().call_soon(cb, info)

    def status(self, container_id: str) -> ContainerInfo | None:
        return self._infos.get(container_id)

    def adoptable(self) -> list[ContainerInfo]:
        return []

    def adopt(self, container_id: str, *, on_exit: ExitCallback) -> ContainerInfo | None:
        return None

    async def remove_pod(self, pod_uid: str) -> None:
        for cid in self._by_pod.pop(pod_uid, ()):
            self._infos.pop(cid, None)
            self._callbacks.pop(cid, None)

    def log_path(self, pod_uid: str, container: str, attempt: int) -> str | None:
        return None
