"""The seams of the node agent: the ``PodRunner`` protocol (start/stop/observe one container
attempt), the ``LogSource`` protocol (what the API server's ``pods/log`` handler reads), and
the small records they exchange.

The agent (:mod:`kubesvc.runtime.agent`) decides *what* should run (restart policy, back-off,
probes, termination); a runner only does it: :class:`kubesvc.runtime.process.ProcessRunner`
(host processes), :class:`kubesvc.runtime.simulated.SimulatedRunner` (no process, like
kwok). The fake for tests is ``tests/fakes/runner.py``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from kubesvc.api.podlogs import LogOptions


@dataclass(slots=True)
class ContainerLaunch:
    """Everything a runner needs to start one attempt of one container."""

    namespace: str
    pod: str
    pod_uid: str
    container: str
    attempt: int  # equals the container's restartCount when started
    argv: list[str]
    env: dict[str, str]
    netns: str | None = None  # network namespace name (netns mode); None = host
    workdir: str | None = None
    image: str = ""
    hostname: str = ""  # netns mode: the pod's hostname, set in a UTS namespace of its own
    sandbox_plan: str = ""  # the launch plan (JSON) of its pod sandbox; "" = unisolated
    stdin: bool = False  # keep stdin open for ``kubectl attach`` (container ``stdin``)
    stdin_once: bool = False
    tty: bool = False  # run on a PTY (container ``tty``)
    memory_limit: int | None = None  # bytes (``resources.limits.memory``), in a cgroup
    # Simulated runtime only: the container exits 0 at once instead of running forever
    # (a Job's pod, as kwok's pod-complete stage does).
    completes: bool = False


@dataclass(frozen=True, slots=True)
class SandboxJoin:
    """How to run another process inside a running container's sandbox (``kubectl exec``):
    its main process ``pid`` (``/proc/<pid>/ns/mnt`` is the sandbox's mount namespace,
    ``/proc/<pid>/ns/net`` its network, ``/proc/<pid>/ns/uts`` its hostname) and its launch
    plan, which :meth:`argv` hands to the launcher's ``--join`` mode: it enters the user (when
    unprivileged), mount, network and UTS namespaces of ``pid``, changes to the container's
    working directory, drops to the container's capabilities, groups, gid and uid, and
    execs the command."""

    pid: int
    plan: str
    launcher: str

    def argv(self, command: list[str]) -> list[str]:
        import sys

        return [sys.executable, "-I", "-S", self.launcher, "--join", str(self.pid), self.plan,
                "--", *command]


@dataclass(slots=True)
class ContainerInfo:
    """What a runner knows about one container attempt."""

    id: str  # without the "kubesvc://" scheme
    pod_uid: str
    container: str
    attempt: int
    started_at: float  # unix time
    pid: int | None = None
    finished_at: float | None = None
    exit_code: int | None = None
    signal: int | None = None  # the signal that ended it, when known
    reason: str = ""  # set when the runner itself knows why (ContainerStatusUnknown, ...)
    message: str = ""
    log_path: str = ""
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def running(self) -> bool:
        return self.finished_at is None

    def sandbox_join(self) -> SandboxJoin | None:
        """How to enter this (running) container's sandbox; None when it has none (an
        unisolated or simulated container: run the command as the node would)."""
        plan = self.extra.get("sandbox_plan", "")
        if not plan or not self.pid or not self.running:
            return None
        return SandboxJoin(self.pid, plan, self.extra.get("launcher", ""))


ExitCallback = Callable[[ContainerInfo], None]


@runtime_checkable
class PodRunner(Protocol):
    """Runs container attempts. ``simulated`` runners run nothing (pods still go Ready)."""

    simulated: bool

    async def start(self, launch: ContainerLaunch, *, on_exit: ExitCallback) -> ContainerInfo:
        """Start one attempt; ``on_exit`` is called (on the loop) once it has ended.
        Raises ``RuntimeError`` (with a human message) when it cannot start."""
        ...

    async def stop(self, container_id: str, *, grace_period: float) -> None:
        """SIGTERM the attempt's process group, SIGKILL after ``grace_period`` seconds;
        returns once it has exited. No-op for unknown or finished ids."""
        ...

    def status(self, container_id: str) -> ContainerInfo | None: ...

    def adoptable(self) -> list[ContainerInfo]:
        """Attempts left running by a previous agent (recorded under the data dir)."""
        ...

    def adopt(self, container_id: str, *, on_exit: ExitCallback) -> ContainerInfo | None:
        """Take over a recorded, still-running attempt; None when it has gone."""
        ...

    async def remove_pod(self, pod_uid: str) -> None:
        """Forget every attempt of a pod (kill leftovers, drop records and logs)."""
        ...

    def log_path(self, pod_uid: str, container: str, attempt: int) -> str | None:
        """The log file of an attempt, if it has one."""
        ...


@runtime_checkable
class LogSource(Protocol):
    """What the API server's ``GET pods/{name}/log`` streams from.

    Raises ``errors.NotFound`` (no such pod here) or ``errors.BadRequest`` (with upstream's
    message: no/unknown container, no previous instance, container waiting)."""

    def stream(
        self,
        namespace: str,
        pod: str,
        *,
        container: str | None = None,
        follow: bool = False,
        tail_lines: int | None = None,
        previous: bool = False,
        options: LogOptions | None = None,
    ) -> AsyncIterator[bytes]:
        """``options``: the full query (since, timestamps, limitBytes); its follow,
        tailLines and previous agree with the keyword arguments."""
        ...
