"""The container launcher: ``python -I -S launch.py PLAN.json -- ARGV...`` (run by
:class:`kubesvc.runtime.process.ProcessRunner` as the container's main process) enters a new
mount namespace (and, unprivileged, a user namespace mapping its own uid/gid), builds the
container's root from the plan (:mod:`.mountplan`) on a private tmpfs, ``pivot_root``s into
it and detaches the host's tree, changes to the working directory, drops the capability
bounding set to the plan's, takes the plan's groups/gid/uid, and ``exec``s ARGV in place —
so the container's pid is this process's pid, and ``/proc/<pid>/ns/mnt`` is its sandbox.

Standard library only and never imported by kubesvc (it runs before any kubesvc code could
be trusted inside the root); a failure is printed to stderr (the container's log) and ends
the process with 127 (command not found), 126 (not executable) or 1 (sandbox set-up).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import json
import os
import platform
import stat
import sys

CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000
CLONE_NEWUTS = 0x04000000
MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
MNT_DETACH = 2
PR_SET_PDEATHSIG = 1
PR_GET_PDEATHSIG = 2
PR_CAPBSET_DROP = 24
SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41, "riscv64": 41, "ppc64le": 203,
                  "s390x": 217}

libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


class SetupError(Exception):
    pass


def _check(rc: int, what: str) -> None:
    if rc != 0:
        e = ctypes.get_errno()
        raise SetupError(f"{what}: {os.strerror(e)}")


def mount(src: str | None, target: str, fstype: str | None, flags: int,
          data: str | None = None) -> None:
    _check(libc.mount(src.encode() if src else None, target.encode(),
                      fstype.encode() if fstype else None, ctypes.c_ulong(flags),
                      data.encode() if data else None),
           f"mount {src or fstype} on {target}")


def _write(path: str, text: str) -> None:
    with open(path, "w") as f:
        f.write(text)


def unshare(userns: bool) -> None:
    if not userns:
        _check(libc.unshare(CLONE_NEWNS), "unshare(CLONE_NEWNS)")
        return
    uid, gid = os.geteuid(), os.getegid()
    _check(libc.unshare(CLONE_NEWUSER | CLONE_NEWNS), "unshare(CLONE_NEWUSER|CLONE_NEWNS)")
    _write("/proc/self/setgroups", "deny")
    _write("/proc/self/uid_map", f"{uid} {uid} 1\n")
    _write("/proc/self/gid_map", f"{gid} {gid} 1\n")


def _locked_flags(path: str) -> int:
    """The flags a read-only remount must keep (in a user namespace they are locked)."""
    st = os.statvfs(path)
    out = 0
    for bit, flag in ((os.ST_NOSUID, MS_NOSUID), (os.ST_NODEV, MS_NODEV),
                      (os.ST_NOEXEC, MS_NOEXEC)):
        if st.f_flag & bit:
            out |= flag
    return out


def _mountpoint(path: str, *, directory: bool) -> None:
    if os.path.lexists(path):
        return
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if directory:
        os.mkdir(path, 0o755)
    else:
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o644))


def apply(root: str, m: dict[str, object]) -> None:
    kind = str(m["kind"])
    target = root + str(m["target"])
    source = str(m.get("source") or "")
    options = str(m.get("options") or "") or None
    ro = bool(m.get("read_only"))
    if kind == "symlink":
        if not os.path.lexists(target):
            os.makedirs(os.path.dirname(target), exist_ok=True)
            os.symlink(source, target)
        return
    if kind == "bind":
        try:
            st = os.stat(source)
        except OSError as exc:
            raise SetupError(f"bind {source}: {exc.strerror}") from exc
        _mountpoint(target, directory=stat.S_ISDIR(st.st_mode))
        mount(source, target, None, MS_BIND | MS_REC)
        if ro:
            mount(None, target, None, MS_REMOUNT | MS_BIND | MS_RDONLY | _locked_flags(target))
        return
    _mountpoint(target, directory=True)
    if kind == "tmpfs":
        mount("tmpfs", target, "tmpfs", MS_NOSUID | MS_NODEV, options)
        if ro:
            mount(None, target, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)
    elif kind == "proc":
        mount("proc", target, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    elif kind == "devpts":
        try:
            mount("devpts", target, "devpts", MS_NOSUID | MS_NOEXEC, options)
        except SetupError:
            pass  # no ptys inside; everything else works
    else:
        raise SetupError(f"unknown mount kind {kind!r}")


def pivot(root: str) -> None:
    nr = SYS_PIVOT_ROOT.get(platform.machine())
    old = os.path.join(root, ".oldroot")
    os.makedirs(old, exist_ok=True)
    if nr is None:
        os.chroot(root)  # an architecture we do not know the syscall number of
        os.chdir("/")
        return
    _check(libc.syscall(ctypes.c_long(nr), root.encode(), old.encode()), "pivot_root")
    os.chdir("/")
    _check(libc.umount2(b"/.oldroot", MNT_DETACH), "umount /.oldroot")
    os.rmdir("/.oldroot")


def drop_caps(keep: list[int]) -> None:
    try:
        with open("/proc/sys/kernel/cap_last_cap") as f:
            last = int(f.read())
    except OSError:
        last = 40
    for cap in range(last + 1):
        if cap not in keep:
            _check(libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0), f"drop capability {cap}")


def setup(plan: dict[str, object]) -> None:
    root = str(plan["root"])
    userns = bool(plan.get("userns"))
    unshare(userns)
    hostname = str(plan.get("hostname") or "")
    if hostname:
        _check(libc.unshare(CLONE_NEWUTS), "unshare(CLONE_NEWUTS)")
        name = hostname.encode()
        _check(libc.sethostname(name, len(name)), "sethostname")
    mount(None, "/", None, MS_REC | MS_PRIVATE)
    mount("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755")
    for m in plan.get("mounts") or []:  # type: ignore[attr-defined]
        apply(root, m)
    workdir = str(plan.get("workdir") or "/")
    wd = root + workdir
    if not os.path.isdir(wd):
        os.makedirs(wd, exist_ok=True)  # as container runtimes create a missing workingDir
    pivot(root)
    os.chdir(workdir)
    become(plan)


NS_TYPES = {"user": CLONE_NEWUSER, "mnt": CLONE_NEWNS, "net": 0x40000000, "uts": 0x04000000}


def join(pid: int, plan: dict[str, object]) -> None:
    """Enter the namespaces of a running container's main process (``--join``)."""
    names = ["user"] if plan.get("userns") else []
    fds = []
    for ns in [*names, "mnt", "net", "uts"]:
        path = f"/proc/{pid}/ns/{ns}"
        if ns != "user" and os.stat(path).st_ino == os.stat(f"/proc/self/ns/{ns}").st_ino:
            continue
        fds.append((ns, os.open(path, os.O_RDONLY)))
    for ns, fd in fds:
        _check(libc.setns(fd, NS_TYPES[ns]), f"setns({ns} of {pid})")
        os.close(fd)
    os.chdir(str(plan.get("workdir") or "/"))
    become(plan)


def become(plan: dict[str, object]) -> None:
    userns = bool(plan.get("userns"))
    keep = plan.get("keep_caps")
    if keep is not None and not userns:
        drop_caps([int(c) for c in keep])  # type: ignore[attr-defined]
    groups = [int(g) for g in plan.get("groups") or []]  # type: ignore[attr-defined]
    gid, uid = plan.get("gid"), plan.get("uid")
    if userns or (gid is None and not groups and uid is None):
        return
    # A new uid/gid clears the parent-death signal the runner set (the container must still
    # die with its agent): read it first, set it again after, and end at once if the agent
    # died in between.
    sig = ctypes.c_int(0)
    libc.prctl(PR_GET_PDEATHSIG, ctypes.byref(sig), 0, 0, 0)
    parent = os.getppid()
    os.setgroups(sorted({*groups, *([int(str(gid))] if gid is not None else [])}))
    if gid is not None:
        os.setgid(int(str(gid)))
    if uid is not None:
        os.setuid(int(str(uid)))
    if sig.value:
        libc.prctl(PR_SET_PDEATHSIG, sig.value, 0, 0, 0)
        if os.getppid() != parent:
            os._exit(137)


def main(args: list[str]) -> int:
    joining = bool(args) and args[0] == "--join"
    if joining:
        args = args[1:]
        pid = int(args.pop(0)) if args else 0
    if len(args) < 3 or args[1] != "--":
        print("usage: launch.py [--join PID] PLAN.json -- ARGV...", file=sys.stderr)
        return 2
    with open(args[0]) as f:
        plan = json.load(f)
    argv = args[2:]
    try:
        if joining:
            join(pid, plan)
        else:
            setup(plan)
    except (SetupError, OSError) as exc:
        print(f"kubesvc: cannot set up the pod sandbox: {exc}", file=sys.stderr, flush=True)
        return 1
    try:
        os.execvp(argv[0], argv)
    except OSError as exc:
        code = 127 if exc.errno == errno.ENOENT else 126
        print(f'exec: "{argv[0]}": {exc.strerror}', file=sys.stderr, flush=True)
        return code
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
