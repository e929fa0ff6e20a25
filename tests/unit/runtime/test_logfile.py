"""Container log rotation (kubelet's containerLogMaxSize/MaxFiles): a real process floods
its stdout through the runner's pipe; the live file never passes the limit by more than one
read, rotated files are gzipped but the newest, at most max_files exist, and a following
``kubectl logs`` reads on across rotations without losing or repeating a byte."""

from __future__ import annotations

import asyncio
import gzip
import os
from pathlib import Path

from kubesvc.runtime.logfile import READ_SIZE, LogPump, rotated_logs, tidy
from kubesvc.runtime.process import ProcessRunner
from kubesvc.runtime.types import ContainerInfo, ContainerLaunch

MIB = 1024 * 1024


def launch(argv: list[str], attempt: int = 0) -> ContainerLaunch:
    return ContainerLaunch(namespace="default", pod="p", pod_uid="uid-1", container="c",
                           attempt=attempt, argv=argv, env={"PATH": os.environ["PATH"]})


async def run_to_exit(runner: ProcessRunner, argv: list[str],
                      attempt: int = 0) -> ContainerInfo:
    done: asyncio.Future[ContainerInfo] = asyncio.get_running_loop().create_future()
    info = await runner.start(launch(argv, attempt), on_exit=done.set_result)
    await asyncio.wait_for(done, 60)
    return info


async def test_a_flood_is_rotated_within_a_chunk_and_bounded(tmp_path: Path) -> None:
    runner = ProcessRunner(tmp_path, log_max_size=MIB, log_max_files=3)
    biggest = 0
    stop = asyncio.Event()
    path = tmp_path / "pods/uid-1/c/0.log"

    async def watch() -> None:
        nonlocal biggest
        while not stop.is_set():
            if path.exists():
                biggest = max(biggest, path.stat().st_size)
            await asyncio.sleep(0)

    w = asyncio.create_task(watch())
    # 20 MiB of lines, as fast as dd writes them.
    info = await run_to_exit(runner, ["sh", "-c", "yes 0123456789abcdef | head -c 20971520"])
    stop.set()
    await w
    assert info.exit_code == 0
    assert biggest <= MIB + READ_SIZE
    for _ in range(100):  # the last compression runs in a worker thread
        rotated = rotated_logs(str(path))
        if len(rotated) <= 2 and all(p.endswith(".gz") for p in rotated[:-1]):
            break
        await asyncio.sleep(0.05)
    assert len(rotated) == 2, rotated  # max_files 3: the live file and two rotated
    assert rotated[0].endswith(".gz") and not rotated[1].endswith(".gz")
    total = sum(os.path.getsize(p) for p in [*rotated, str(path)])
    assert total <= 3 * (MIB + READ_SIZE)
    # Nothing lost at the seams: the newest rotated file and the live one join up.
    with gzip.open(rotated[0]) as g:
        older = g.read()
    data = older + Path(rotated[1]).read_bytes() + path.read_bytes()
    assert data.endswith(b"0123456789abcdef\n" * 10 + b"0123456789abcdef\n"[:20971520 % 17])
    assert b"\n".join(set(data.split(b"\n")[1:-1])) == b"0123456789abcdef"


async def test_follow_reads_across_rotations(tmp_path: Path) -> None:
    from kubesvc.runtime.logs import PodLogs
    from kubesvc.runtime.podstatus import ContainerRecord

    runner = ProcessRunner(tmp_path, log_max_size=64 * 1024, log_max_files=5)
    script = "i=0; while [ $i -lt 30000 ]; do echo line-$i; i=$((i+1)); done; sleep 0.3"
    done: asyncio.Future[ContainerInfo] = asyncio.get_running_loop().create_future()
    info = await runner.start(launch(["sh", "-c", script]), on_exit=done.set_result)
    rec = ContainerRecord("c", "img")
    rec.current = info
    pod = {"spec": {"containers": [{"name": "c"}]}}
    logs = PodLogs(lambda _ns, _n: (pod, {"c": rec}), runner, poll_interval=0.001)
    got = b""
    async for chunk in logs.stream("default", "p", follow=True):
        got += chunk
    await done
    assert got == b"".join(f"line-{i}\n".encode() for i in range(30000))
    assert rotated_logs(info.log_path)  # it did rotate under the reader


async def test_full_disk_drops_output_but_keeps_draining(tmp_path: Path) -> None:
    r, w = os.pipe()
    pump = LogPump(r, str(tmp_path / "0.log"))
    os.close(pump._wfd)
    pump._wfd = os.open("/dev/full", os.O_WRONLY)
    os.write(w, b"x" * 1000)
    os.close(w)
    await asyncio.wait_for(pump.closed.wait(), 5)  # drained to EOF, no exception


def test_tidy_keeps_max_files_and_compresses_older(tmp_path: Path) -> None:
    live = tmp_path / "0.log"
    for stamp in ("20260101-000001.1", "20260101-000002.1", "20260101-000003.1",
                  "20260101-000004.1"):
        (tmp_path / f"0.log.{stamp}").write_bytes(stamp.encode())
    (tmp_path / "0.log.20260101-000000.1.gz.tmp").write_bytes(b"half")
    tidy(str(live), 3)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["0.log.20260101-000003.1.gz", "0.log.20260101-000004.1"]
    assert gzip.decompress((tmp_path / names[0]).read_bytes()) == b"20260101-000003.1"
