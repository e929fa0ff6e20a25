"""Memory cgroups of containers: ``resources.limits.memory`` enforced by the kernel, as
the kubelet's cgroup manager and the runtime do, so a container over its limit is
OOM-killed (reason ``OOMKilled``) while the node agent and the control plane, outside its
cgroup, are untouched.

One cgroup per container attempt, ``<root>/<container-id>``, under a root of this node
agent's own (named for its data dir, so agents of several clusters on one machine never
touch each other's). :class:`CgroupV2` speaks the unified hierarchy (``memory.max``,
``memory.swap.max``, ``memory.events``' ``oom_kill``, ``cgroup.kill``); :class:`CgroupV1`
the legacy memory controller (``memory.limit_in_bytes``, ``memory.memsw.limit_in_bytes``,
``memory.oom_control``' ``oom_kill``) for kernels where memory is still bound to a v1
hierarchy. :func:`detect` picks the first that works here (it creates and removes a probe
cgroup) and otherwise returns :class:`Unavailable` with the reason, which the agent puts in
a Warning event of every pod whose limits it cannot enforce — never silently.

The container's process enters its cgroup between fork and exec (``preexec_fn`` writes
``0`` — "this process" — to the file :meth:`MemoryCgroups.create` returns), so every
process it starts is charged too. Used by :class:`~kubesvc.runtime.process.ProcessRunner`;
``tests/unit/runtime/test_cgroups.py`` drives both flavours against fake trees.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import signal
import time
from pathlib import Path
from typing import Protocol

log = logging.getLogger(__name__)

CGROUP_FS = Path("/sys/fs/cgroup")


class MemoryCgroups(Protocol):
    """Where container cgroups are made; ``problem`` is "" when limits are enforced."""

    problem: str

    def create(self, cid: str, limit: int | None) -> str:
        """Make the container's cgroup with a ``limit`` (bytes; None: unlimited, the cgroup
        still holds every process of the container); returns the file its process writes
        ``0`` to, to enter it. Raises OSError."""
        ...

    def oom_killed(self, cid: str) -> bool:
        """Whether the kernel OOM-killed a process of the container's cgroup."""
        ...

    def remove(self, cid: str) -> None:
        """Kill what is left in the cgroup and remove it (no error when absent)."""
        ...

    def leftovers(self) -> list[str]:
        """Container ids of the cgroups under this agent's root (after a restart)."""
        ...

    def remove_root(self) -> None:
        """Remove this agent's root when it holds no container cgroup (no error else)."""
        ...


def _read_int_field(path: Path, key: str) -> int:
    try:
        for line in path.read_text().splitlines():
            k, _, v = line.partition(" ")
            if k == key:
                return int(v)
    except (OSError, ValueError):
        pass
    return 0


def _pids(path: Path) -> list[int]:
    try:
        return [int(x) for x in path.read_text().split()]
    except (OSError, ValueError):
        return []


class _Tree:
    """A directory of container cgroups (shared by both flavours)."""

    limit_files: tuple[str, ...] = ()
    optional_files: tuple[str, ...] = ()
    events: tuple[str, str] = ("", "")

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.problem = ""

    def create(self, cid: str, limit: int | None) -> str:
        self._ensure_root()
        d = self.root / cid
        d.mkdir(exist_ok=True)
        if limit is None:
            return str(d / "cgroup.procs")
        for name in self.limit_files:
            (d / name).write_text(str(limit))
        for name in self.optional_files:  # no swap beyond the limit, where the knob exists
            if (d / name).exists():
                with contextlib.suppress(OSError):
                    (d / name).write_text(self._optional_value(limit))
        return str(d / "cgroup.procs")

    def _ensure_root(self) -> None:
        self.root.mkdir(exist_ok=True)

    def _optional_value(self, limit: int) -> str:
        return str(limit)

    def oom_killed(self, cid: str) -> bool:
        f, key = self.events
        return _read_int_field(self.root / cid / f, key) > 0

    def remove(self, cid: str) -> None:
        d = self.root / cid
        if not d.is_dir():
            return
        self._kill(d)
        for _ in range(50):
            try:
                d.rmdir()
                self.remove_root()  # the last one takes the root with it
                return
            except FileNotFoundError:
                return
            except OSError:  # EBUSY until the killed processes are reaped
                self._kill(d)
                time.sleep(0.01)
        log.warning("cgroup %s: could not be removed", d)

    def _kill(self, d: Path) -> None:
        for pid in _pids(d / "cgroup.procs"):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)

    def remove_root(self) -> None:
        with contextlib.suppress(OSError):
            self.root.rmdir()

    def leftovers(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return [p.name for p in self.root.iterdir() if p.is_dir()]


class CgroupV2(_Tree):
    limit_files = ("memory.max",)
    optional_files = ("memory.swap.max",)
    events = ("memory.events", "oom_kill")

    def _ensure_root(self) -> None:
        self.root.mkdir(exist_ok=True)
        ctl = self.root / "cgroup.subtree_control"
        if "memory" not in ctl.read_text().split():
            ctl.write_text("+memory")  # the children get memory.max

    def _optional_value(self, limit: int) -> str:
        return "0"

    def _kill(self, d: Path) -> None:
        kill = d / "cgroup.kill"
        if kill.exists():
            with contextlib.suppress(OSError):
                kill.write_text("1")
                return
        super()._kill(d)


class CgroupV1(_Tree):
    limit_files = ("memory.limit_in_bytes",)
    optional_files = ("memory.memsw.limit_in_bytes",)
    events = ("memory.oom_control", "oom_kill")


class Unavailable:
    """No memory controller this agent can use; every limit gets a Warning event."""

    def __init__(self, problem: str) -> None:
        self.problem = problem

    def create(self, cid: str, limit: int | None) -> str:
        raise OSError(self.problem)

    def oom_killed(self, cid: str) -> bool:
        return False

    def remove(self, cid: str) -> None:
        return None

    def leftovers(self) -> list[str]:
        return []

    def remove_root(self) -> None:
        return None


def root_name(data_dir: Path) -> str:
    digest = hashlib.sha256(str(Path(data_dir).resolve()).encode()).hexdigest()[:12]
    return f"kubesvc-{digest}"


def _mounts() -> list[tuple[str, str, str]]:
    """(mount point, fs type, options) of the cgroup file systems."""
    out = []
    try:
        for line in Path("/proc/self/mounts").read_text().splitlines():
            parts = line.split()
            if len(parts) >= 4 and parts[2] in ("cgroup", "cgroup2"):
                out.append((parts[1], parts[2], parts[3]))
    except OSError:
        pass
    return out


def _own_v2_cgroup() -> str:
    try:
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            if line.startswith("0::"):
                return line[3:].strip() or "/"
    except OSError:
        pass
    return "/"


def _probe(tree: _Tree) -> str:
    """"" when a child cgroup with a memory limit can be made under ``tree.root``."""
    probe = f"probe-{os.getpid()}"
    try:
        tree.create(probe, 1 << 30)
    except OSError as exc:
        return f"cannot create a memory-limited cgroup under {tree.root}: {exc.strerror or exc}"
    finally:
        with contextlib.suppress(OSError):
            (tree.root / probe).rmdir()
        with contextlib.suppress(OSError):
            tree.root.rmdir()  # made again by the first container with a limit
    return ""


def detect(data_dir: Path) -> MemoryCgroups:
    """The first memory cgroup flavour that works on this node, or :class:`Unavailable`."""
    if os.geteuid() != 0:
        return Unavailable("the node agent is not root (no cgroup delegation)")
    name = root_name(data_dir)
    reasons: list[str] = []
    for point, fstype, opts in _mounts():
        base = Path(point)
        if fstype == "cgroup2":
            controllers = base / "cgroup.controllers"
            try:
                have = controllers.read_text().split()
            except OSError:
                continue
            if "memory" not in have:
                reasons.append(f"cgroup2 at {point} has no memory controller "
                               f"(controllers: {' '.join(have) or 'none'})")
                continue
            # Beside the agent's own cgroup (a process may not sit in an inner node), with
            # memory enabled for the children of that parent.
            parent = base / _own_v2_cgroup().lstrip("/")
            parent = parent.parent if parent != base else base
            with contextlib.suppress(OSError):
                (parent / "cgroup.subtree_control").write_text("+memory")
            v2 = CgroupV2(parent / name)
            why = _probe(v2)
            if not why:
                return v2
            reasons.append(why)
        elif "memory" in opts.split(","):
            v1 = CgroupV1(base / name)
            why = _probe(v1)
            if not why:
                return v1
            reasons.append(why)
    if not reasons:
        reasons.append("no cgroup file system with a memory controller is mounted")
    return Unavailable("; ".join(reasons))


def purge(data_dir: Path) -> int:
    """Kill every process in the cgroups of the node agent on ``data_dir`` and remove them
    (for a caller whose agent died and will not be restarted, e.g. the netns cluster's
    teardown); returns how many container cgroups there were."""
    tree = detect(data_dir)
    left = tree.leftovers()
    for cid in left:
        tree.remove(cid)
    tree.remove_root()
    return len(left)
