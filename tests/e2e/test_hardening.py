"""Issue 17 (node/storage side): ``kill -9`` of ``kubesvc up`` leaves no pod process living
on (the main process dies with the agent; what it left behind dies when the next ``up``
starts on the same data dir), and a data dir that cannot be written is reported in one
line, without a traceback; a full disk answers writes with 503 and fails /readyz until
space is freed."""

from __future__ import annotations

import contextlib
import os
import random
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.e2e.conftest import KUBESVC, MISSING, ROOT, free_port, start_cluster

pytestmark = pytest.mark.skipif(bool(MISSING), reason=MISSING or "ok")


def pids_running(marker: str) -> list[int]:
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            cmd = Path(f"/proc/{d}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            state = Path(f"/proc/{d}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z" and cmd.strip() == marker:
            out.append(int(d))
    return out


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def wait_gone(pids: list[int], timeout: float) -> None:
    end = time.monotonic() + timeout
    while any(alive(p) for p in pids):
        assert time.monotonic() < end, f"{pids} still running after {timeout} s"
        time.sleep(0.1)


def test_kill_9_of_up_leaves_no_pod_process(tmp_path: Path) -> None:
    n = random.randint(100000, 999999)
    main, child = f"sleep {n}", f"sleep {n + 1}"
    data = tmp_path / "data"
    c = start_cluster(data)
    try:
        c.kubectl("run", "sleeper", "--image=busybox", "--restart=Never", "--command", "--",
                  "sh", "-c", f"sleep {n + 1} & exec sleep {n}")
        c.wait_for(lambda: pids_running(main) and pids_running(child), timeout=30,
                   what="pod processes")
        mains, children = pids_running(main), pids_running(child)
        c.proc.send_signal(signal.SIGKILL)
        c.proc.wait(timeout=10)
        wait_gone(mains, 5)  # the container's main process dies with its agent
        assert all(alive(p) for p in children)  # its own child is not signalled...
    finally:
        c.stop()
    c2 = start_cluster(data, api_port=c.api_port, dns_port=c.dns_port,
                       service_cidr=c.service_cidr, lb_pool=c.lb_pool)
    try:
        # ...it is killed by the next agent (which then runs the pod anew).
        wait_gone(children, 20)
    finally:
        c2.stop()
        for pid in pids_running(main) + pids_running(child):
            os.kill(pid, signal.SIGKILL)


def test_read_only_data_dir_is_one_line_and_non_zero_exit(tmp_path: Path) -> None:
    data = tmp_path / "ro"
    data.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(data)],
                             capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a read-only tmpfs: {mounted.stderr.decode().strip()}")
    try:
        r = subprocess.run(
            [*KUBESVC, "up", "--data-dir", str(data), "--api-port", str(free_port()),
             "--dns-addr", f"127.0.0.1:{free_port()}"],
            capture_output=True, text=True, timeout=60, cwd=ROOT)
    finally:
        subprocess.run(["umount", str(data)], check=False)
    assert r.returncode != 0
    assert "Traceback" not in r.stderr
    lines = [ln for ln in r.stderr.splitlines() if ln.startswith("kubesvc up:")]
    assert len(lines) == 1, r.stderr
    assert str(data / "state.db") in lines[0] and "read-only file system" in lines[0]
    assert "writable" in lines[0]


def test_full_disk_answers_503_and_readyz_fails_until_space_is_freed(tmp_path: Path) -> None:
    mnt = tmp_path / "small"
    mnt.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mnt)],
                             capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs: {mounted.stderr.decode().strip()}")
    c = None
    try:
        c = start_cluster(mnt / "data")
        filler = mnt / "filler"
        with contextlib.suppress(OSError), open(filler, "wb", buffering=0) as f:
            while True:  # bounded by the 4 MiB file system
                f.write(b"\0" * 65536)
        big = tmp_path / "big"
        big.write_bytes(b"x" * 300_000)
        r = c.kubectl("create", "configmap", "big", f"--from-file=a={big}", check=False)
        assert r.returncode != 0
        assert "storage error" in r.stderr and str(mnt / "data" / "state.db") in r.stderr
        ready = c.kubectl("get", "--raw", "/readyz?verbose", check=False)
        assert "[-]etcd failed" in ready.stdout + ready.stderr
        assert c.proc.poll() is None  # still serving
        filler.unlink()
        c.kubectl("create", "configmap", "small", "--from-literal=a=b")
        assert c.kubectl("get", "--raw", "/readyz").stdout.strip() == "ok"
    finally:
        if c is not None:
            c.stop()
        subprocess.run(["umount", "-l", str(mnt)], check=False)
