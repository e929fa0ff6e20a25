"""The mount plan of one container: the ordered list of mounts the launcher
(:mod:`.launch`) makes in the container's new mount namespace to build its root, plus who it
runs as. Pure apart from looking at the host's directories to copy (``/etc``'s entries,
symlinks such as ``/bin -> usr/bin``).

The root is a private tmpfs holding: read-only binds of the host's system directories
(``/usr``, ``/bin``, ``/sbin``, ``/lib*``) and of ``/etc``'s entries (not ``shadow``,
``sudoers``, ``ssh``, ``netns``...), a minimal ``/dev`` (null, zero, full, random, urandom,
tty, a new devpts, shm), a new ``/proc``, ``/sys`` read-only, private ``/tmp``, ``/run``,
``/var/tmp``; read-only binds of what the container's command needs from elsewhere (the
Python runtime kubesvc runs on, since image mappings run ``sys.executable``; the resolved
``command[0]`` and its interpreter; the ``PATH``/``PYTHONPATH`` directories); the pod's
volumes at their ``mountPath``; the kubelet-written ``/etc/hosts``, ``/etc/resolv.conf``,
``/etc/hostname``; last, an empty read-only tmpfs over every protected path (the cluster's
data dir) that a bind would otherwise show.
"""

from __future__ import annotations

import os
import shutil
import sys
from dataclasses import asdict, dataclass, field
from typing import Any

SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
ETC_HIDDEN = frozenset({
    "shadow", "shadow-", "gshadow", "gshadow-", "sudoers", "sudoers.d", "ssh", "netns",
    "resolv.conf", "hosts", "hostname", "machine-id", "subuid", "subgid", "security",
})
ETC_MASKED = ("/etc/ssl/private",)
DEV_NODES = ("null", "zero", "full", "random", "urandom", "tty")


@dataclass(frozen=True, slots=True)
class Mount:
    """``kind``: bind | tmpfs | proc | devpts | symlink. ``target`` is inside the root;
    ``source`` the host path (bind) or the link text (symlink)."""

    kind: str
    target: str
    source: str = ""
    read_only: bool = False
    options: str = ""


@dataclass(slots=True)
class LaunchPlan:
    """What the launcher reads (as JSON) besides the argv."""

    root: str  # the host directory the new root is mounted on
    mounts: list[Mount] = field(default_factory=list)
    workdir: str = "/"
    uid: int | None = None
    gid: int | None = None
    groups: list[int] = field(default_factory=list)
    keep_caps: list[int] | None = None  # bounding set to keep (root only); None = all
    userns: bool = False  # unprivileged: a user namespace mapping our own uid/gid
    hostname: str = ""  # set in a UTS namespace of its own ("" = the node's)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class VolumeBind:
    source: str
    target: str
    read_only: bool


def under(path: str, base: str) -> bool:
    base = base.rstrip("/") or "/"
    return path == base or path.startswith(base + "/") or base == "/"


def symlink_chain(path: str) -> tuple[list[tuple[str, str]], str]:
    """The symlinks met while resolving ``path`` (``(link, text)``, in order) and the real
    path it ends at, so a root can reproduce the same path."""
    links: list[tuple[str, str]] = []
    todo = [p for p in path.split("/") if p]
    resolved = "/"
    hops = 0
    while todo:
        part = todo.pop(0)
        if part == ".":
            continue
        if part == "..":
            resolved = os.path.dirname(resolved) or "/"
            continue
        cand = os.path.join(resolved, part)
        if os.path.islink(cand) and hops < 40:
            hops += 1
            text = os.readlink(cand)
            links.append((cand, text))
            if text.startswith("/"):
                resolved = "/"
            todo = [p for p in text.split("/") if p] + todo
        else:
            resolved = cand
    return links, resolved


def _covered(path: str, bound: list[str]) -> bool:
    return any(under(path, b) for b in bound)


def expose(path: str, bound: list[str]) -> list[Mount]:
    """Read-only binds (and the symlinks on the way) that make host ``path`` visible at the
    same path; nothing when already covered by ``bound`` (updated)."""
    if not path.startswith("/") or not os.path.exists(path) or path == "/":
        return []
    if any(under(os.path.realpath(path), p) for p in PRIVATE):
        return []
    links, real = symlink_chain(path)
    if not os.access(real, os.R_OK):
        return []  # an unprivileged agent cannot show what it cannot read itself
    out = [Mount("symlink", link, text) for link, text in links if not _covered(link, bound)]
    if not _covered(real, bound):
        out.append(Mount("bind", real, real, read_only=True))
        bound.append(real)
    return out


def _interpreter(path: str) -> str:
    try:
        with open(path, "rb") as f:
            head = f.read(256)
    except OSError:
        return ""
    if not head.startswith(b"#!"):
        return ""
    line = head[2:].split(b"\n", 1)[0].strip().split()
    return line[0].decode(errors="replace") if line else ""


def python_paths() -> list[str]:
    """What the Python kubesvc runs on needs: its executable (and the directory it is in, a
    venv's ``bin``), its prefixes, and the directory kubesvc is imported from (agnhost and
    the pause image run ``python -m kubesvc.runtime.agnhost``)."""
    import kubesvc

    src = os.path.dirname(os.path.dirname(os.path.abspath(kubesvc.__file__)))
    return [sys.executable, os.path.dirname(sys.executable), sys.base_prefix,
            os.path.realpath(sys.prefix), src]


def command_paths(argv: list[str], env: dict[str, str]) -> list[str]:
    """Host paths the command needs: ``argv[0]`` (looked up on the container's PATH) and a
    script's interpreter, and the PYTHONPATH directories. Other PATH directories are not
    shown (a lookup inside falls through to the system's)."""
    out: list[str] = []
    if argv:
        exe = argv[0] if "/" in argv[0] else shutil.which(argv[0], path=env.get("PATH", ""))
        if exe:
            exe = os.path.abspath(exe)
            out.append(exe)
            interp = _interpreter(exe)
            if interp:
                out.append(interp)
    out += [p for p in env.get("PYTHONPATH", "").split(":") if p.startswith("/") and p != "/"]
    return out


# Never shown from the host, whatever a path above says: the root's own private dirs.
PRIVATE = ("/tmp", "/run", "/var/tmp", "/dev", "/proc", "/sys", "/etc")


def _etc_mounts(etc: str = "/etc") -> list[Mount]:
    out = [Mount("tmpfs", "/etc", options="mode=0755")]
    try:
        entries = sorted(os.listdir(etc))
    except OSError:
        return out
    for name in entries:
        if name in ETC_HIDDEN:
            continue
        p = os.path.join(etc, name)
        if os.path.islink(p):
            out.append(Mount("symlink", f"/etc/{name}", os.readlink(p)))
        elif os.path.isdir(p) or os.path.isfile(p):
            out.append(Mount("bind", f"/etc/{name}", p, read_only=True))
    return out


def base_mounts(*, userns: bool) -> list[Mount]:
    """The system part of every root."""
    out: list[Mount] = []
    for d in SYSTEM_DIRS:
        if os.path.islink(d):
            out.append(Mount("symlink", d, os.readlink(d)))
        elif os.path.isdir(d):
            out.append(Mount("bind", d, d, read_only=True))
    out += _etc_mounts()
    out.append(Mount("tmpfs", "/dev", options="mode=0755"))
    out += [Mount("bind", f"/dev/{n}", f"/dev/{n}") for n in DEV_NODES
            if os.path.exists(f"/dev/{n}")]
    out += [Mount("symlink", "/dev/fd", "/proc/self/fd"),
            Mount("symlink", "/dev/stdin", "/proc/self/fd/0"),
            Mount("symlink", "/dev/stdout", "/proc/self/fd/1"),
            Mount("symlink", "/dev/stderr", "/proc/self/fd/2"),
            Mount("devpts", "/dev/pts", options="newinstance,ptmxmode=0666,mode=0620"),
            Mount("symlink", "/dev/ptmx", "pts/ptmx"),
            Mount("tmpfs", "/dev/shm", options="mode=1777")]
    if userns:
        out.append(Mount("bind", "/proc", "/proc"))  # a new proc needs a PID namespace
    else:
        out.append(Mount("proc", "/proc"))
        out.append(Mount("bind", "/sys", "/sys", read_only=True))
    out += [Mount("tmpfs", "/tmp", options="mode=1777"),
            Mount("tmpfs", "/run", options="mode=0755"),
            Mount("tmpfs", "/var/tmp", options="mode=1777")]
    return out


def bound_sources(mounts: list[Mount]) -> list[tuple[str, str]]:
    return [(m.source, m.target) for m in mounts if m.kind == "bind"]


def masks(mounts: list[Mount], protected: list[str]) -> list[Mount]:
    """An empty read-only tmpfs wherever a protected host path shows through a bind."""
    out: list[Mount] = []
    seen: set[str] = set()
    for p in protected:
        real = os.path.realpath(p)
        for src, dst in bound_sources(mounts):
            if not under(real, src):
                continue
            target = os.path.normpath(os.path.join(dst, os.path.relpath(real, src)))
            if target not in seen:
                seen.add(target)
                out.append(Mount("tmpfs", target, read_only=True, options="mode=0000"))
    return out


def _entries(host_dir: str, target_dir: str, skip: str) -> list[Mount]:
    out: list[Mount] = []
    try:
        names = sorted(os.listdir(host_dir))
    except OSError:
        return out
    for name in names:
        if name == skip:
            continue
        src, dst = os.path.join(host_dir, name), os.path.join(target_dir, name)
        if os.path.islink(src):
            out.append(Mount("symlink", dst, os.readlink(src)))
        elif os.path.isdir(src) or os.path.isfile(src):
            out.append(Mount("bind", dst, src, read_only=True))
    return out


def make_room(mounts: list[Mount], target: str) -> list[Mount]:
    """Let ``target`` (a volume's mountPath) be mounted where a read-only system bind has
    no such path, e.g. ``/usr/share/nginx/html``: from that bind down to the deepest
    directory that exists, each level becomes a tmpfs holding read-only binds of the host
    directory's entries, so the missing directories can be made on it (as a container's
    writable root layer allows)."""
    binds = [m for m in mounts if m.kind == "bind" and m.read_only and m.source == m.target
             and under(target, m.target) and target != m.target and m.target != "/"]
    if not binds:
        return mounts
    top = max(binds, key=lambda m: len(m.target))
    if os.path.lexists(target):
        return mounts
    levels = [top.target]
    rest = os.path.relpath(target, top.target).split("/")
    for part in rest[:-1]:
        nxt = os.path.join(levels[-1], part)
        if not os.path.isdir(nxt) or os.path.islink(nxt):
            break
        levels.append(nxt)
    out: list[Mount] = []
    for i, level in enumerate(levels):
        skip = levels[i + 1].rsplit("/", 1)[1] if i + 1 < len(levels) else ""
        mode = oct(os.stat(level).st_mode & 0o7777)[2:]
        out.append(Mount("tmpfs", level, options=f"mode={mode}"))
        out += _entries(level, level, skip)
    at = mounts.index(top)
    return [*mounts[:at], *out, *mounts[at + 1:]]


def build_plan(*, root: str, argv: list[str], env: dict[str, str],
               volumes: list[VolumeBind], etc_files: dict[str, str], protected: list[str],
               workdir: str = "/", uid: int | None = None, gid: int | None = None,
               groups: list[int] | None = None, keep_caps: list[int] | None = None,
               userns: bool = False, extra_paths: list[str] | None = None,
               hostname: str = "") -> LaunchPlan:
    """The whole plan of one container. ``etc_files``: target (``/etc/hosts``...) -> host
    file; ``protected``: host paths that must never show inside."""
    mounts = base_mounts(userns=userns)
    bound = [m.source for m in mounts if m.kind == "bind"] + [
        m.target for m in mounts if m.kind == "symlink" and m.target in SYSTEM_DIRS]
    bound += [d for d in SYSTEM_DIRS]
    for p in [*python_paths(), *command_paths(argv, env), *(extra_paths or [])]:
        mounts += expose(p, bound)
    for v in sorted(volumes, key=lambda v: v.target.rstrip("/").count("/")):
        mounts = make_room(mounts, v.target)
        mounts.append(Mount("bind", v.target, v.source, read_only=v.read_only))
    for target, src in etc_files.items():
        mounts.append(Mount("bind", target, src, read_only=True))
    mounts += [Mount("tmpfs", m, read_only=True, options="mode=0000") for m in ETC_MASKED
               if os.path.isdir(m)]
    mounts += masks(mounts, protected)
    return LaunchPlan(root=root, mounts=mounts, workdir=workdir or "/", uid=uid, gid=gid,
                      groups=list(groups or []), keep_caps=keep_caps, userns=userns,
                      hostname=hostname)
