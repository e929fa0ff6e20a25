"""exec joins the namespaces of the container's main process: a process in a mount (and
UTS) namespace of its own — as a per-pod mount namespace or ``ip netns exec`` makes — gets
an ``nsenter`` prefix, and a command exec'd through it sees that namespace's mounts and
hostname. Needs root and util-linux's ``unshare``/``nsenter``."""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path

import pytest

from kubesvc.runtime.streaming.exec import ContainerTarget, ExecSession, namespace_prefix

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not shutil.which("unshare") or not shutil.which("nsenter"),
    reason="needs root and util-linux unshare/nsenter (namespaces of a container process)")


def test_same_namespaces_need_no_prefix() -> None:
    t = ContainerTarget("ns", "p", "c", pid=os.getpid(), fallback_prefix=["ip", "netns"])
    assert namespace_prefix(t) == []


def test_a_gone_process_falls_back_to_the_network_prefix() -> None:
    t = ContainerTarget("ns", "p", "c", pid=None, fallback_prefix=["ip", "netns", "exec", "x"])
    assert namespace_prefix(t) == ["ip", "netns", "exec", "x"]


async def test_exec_enters_the_mount_and_uts_namespace_of_the_main_process(
        tmp_path: Path) -> None:
    mnt = tmp_path / "only-in-the-pod"
    mnt.mkdir()
    # The "container": its own mount + UTS namespace with a tmpfs and a hostname there.
    main = await asyncio.create_subprocess_exec(
        "unshare", "--mount", "--uts", "--propagation", "private", "sh", "-c",
        f"mount -t tmpfs none {mnt} && echo marker > {mnt}/file && hostname pod-host && "
        "echo ready && exec sleep 60", stdout=asyncio.subprocess.PIPE)
    try:
        assert main.stdout is not None
        assert (await asyncio.wait_for(main.stdout.readline(), 10)).strip() == b"ready"
        target = ContainerTarget("ns", "p", "c", pid=main.pid,
                                 env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")})
        prefix = namespace_prefix(target)
        assert prefix[:2] == ["nsenter", f"--target={main.pid}"]
        assert "--mount" in prefix and "--uts" in prefix and "--net" not in prefix
        assert not (mnt / "file").exists()  # not in the agent's mount namespace
        session = await ExecSession.start(target, ["sh", "-c", f"cat {mnt}/file; hostname"],
                                          stdin=False, stdout=True, stderr=True, tty=False)
        out = b""
        while chunk := await session.read_stdout():
            out += chunk
        assert await session.wait() == 0
        session.close()
        assert out == b"marker\npod-host\n"
    finally:
        main.kill()
        await main.wait()


async def test_exec_runs_as_the_containers_user() -> None:
    """securityContext.runAsUser/runAsGroup (the agent is root here)."""
    target = ContainerTarget("ns", "p", "c", pid=None, uid=65534, gid=65534,
                             env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")})
    session = await ExecSession.start(target, ["sh", "-c", "id -u; id -g"], stdin=False,
                                      stdout=True, stderr=True, tty=False)
    out = b""
    while chunk := await session.read_stdout():
        out += chunk
    assert await session.wait() == 0
    session.close()
    assert out == b"65534\n65534\n"
