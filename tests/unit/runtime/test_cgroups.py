"""Memory cgroups against fake trees (plain directories standing in for the cgroup file
systems): the files each flavour writes, OOM detection from the kernel's counters, removal;
and the ProcessRunner putting a container with a limit into its cgroup, reporting
OOMKilled, and a node that cannot enforce limits saying so."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

from kubesvc.runtime.cgroups import CgroupV1, CgroupV2, Unavailable, root_name
from kubesvc.runtime.process import ProcessRunner
from kubesvc.runtime.types import ContainerInfo, ContainerLaunch
from tests.unit.runtime.helpers import GracefulClient, make_agent, pod, running, wait_for


def test_v2_writes_memory_max_and_no_swap(tmp_path: Path) -> None:
    root = tmp_path / "kubesvc-x"
    root.mkdir()
    (root / "cgroup.subtree_control").write_text("")
    child = root / "abc"
    child.mkdir()
    (child / "memory.swap.max").write_text("max")
    v2 = CgroupV2(root)
    procs = v2.create("abc", 64 << 20)
    assert procs == str(child / "cgroup.procs")
    assert (child / "memory.max").read_text() == str(64 << 20)
    assert (child / "memory.swap.max").read_text() == "0"
    assert (root / "cgroup.subtree_control").read_text() == "+memory"
    assert not v2.oom_killed("abc")
    (child / "memory.events").write_text("low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n")
    assert v2.oom_killed("abc")
    assert v2.leftovers() == ["abc"]


def test_v1_writes_limit_in_bytes_and_reads_oom_control(tmp_path: Path) -> None:
    v1 = CgroupV1(tmp_path / "kubesvc-y")
    v1.create("c1", 1000)
    d = tmp_path / "kubesvc-y" / "c1"
    assert (d / "memory.limit_in_bytes").read_text() == "1000"
    (d / "memory.oom_control").write_text("oom_kill_disable 0\nunder_oom 0\noom_kill 0\n")
    assert not v1.oom_killed("c1")
    (d / "memory.oom_control").write_text("oom_kill_disable 0\nunder_oom 0\noom_kill 2\n")
    assert v1.oom_killed("c1")
    for f in d.iterdir():  # a real cgroup's files go with its rmdir
        f.unlink()
    v1.remove("c1")
    assert not d.exists() and v1.leftovers() == []


def test_root_name_differs_per_data_dir(tmp_path: Path) -> None:
    assert root_name(tmp_path / "a") != root_name(tmp_path / "b")
    assert root_name(tmp_path / "a").startswith("kubesvc-")


class FakeCgroups:
    """Records what the runner asks; ``procs`` is a plain file the child writes 0 to."""

    def __init__(self, tmp: Path, *, oom: bool) -> None:
        self.tmp, self.oom = tmp, oom
        self.problem = ""
        self.created: dict[str, int | None] = {}
        self.removed: list[str] = []

    def create(self, cid: str, limit: int | None) -> str:
        self.created[cid] = limit
        (self.tmp / f"{cid}.procs").write_text("")
        return str(self.tmp / f"{cid}.procs")

    def oom_killed(self, cid: str) -> bool:
        return self.oom

    def remove(self, cid: str) -> None:
        self.removed.append(cid)

    def leftovers(self) -> list[str]:
        return []

    def remove_root(self) -> None:
        pass


async def _run(runner: ProcessRunner, argv: list[str], limit: int | None) -> ContainerInfo:
    done: asyncio.Future[ContainerInfo] = asyncio.get_running_loop().create_future()
    launch = ContainerLaunch(namespace="default", pod="p", pod_uid="u1", container="main",
                             attempt=0, argv=argv, env={}, memory_limit=limit)
    await runner.start(launch, on_exit=done.set_result)
    return await asyncio.wait_for(done, 10)


@pytest.mark.skipif(sys.platform != "linux", reason="needs Linux")
async def test_runner_puts_the_container_in_its_cgroup_and_reports_oom(tmp_path: Path) -> None:
    fake = FakeCgroups(tmp_path, oom=True)
    runner = ProcessRunner(tmp_path / "node", cgroups=fake)
    info = await _run(runner, ["sh", "-c", "kill -9 $$"], 64 << 20)
    assert fake.created == {info.id: 64 << 20}
    assert (tmp_path / f"{info.id}.procs").read_text() == "0"  # the child entered it
    assert fake.removed == [info.id]
    assert (info.exit_code, info.reason) == (137, "OOMKilled")
    fake.oom = False
    info = await _run(runner, ["sh", "-c", "exit 3"], None)  # no limit: a cgroup all the same
    assert fake.created[info.id] is None and (info.exit_code, info.reason) == (3, "")
    await runner.close()


async def test_unavailable_cgroups_are_reported_not_silent(tmp_path: Path) -> None:
    runner = ProcessRunner(tmp_path / "node", cgroups=Unavailable("no memory controller"))
    assert runner.memory_limit_problem == "no memory controller"
    info = await _run(runner, ["true"], 1 << 20)
    assert info.extra["cgroup_error"] == "no memory controller"
    assert info.exit_code == 0
    await runner.close()


async def test_agent_warns_when_a_memory_limit_cannot_be_enforced(tmp_path: Path) -> None:
    client = GracefulClient()
    runner = ProcessRunner(tmp_path / "node", cgroups=Unavailable("no memory controller here"))
    agent = make_agent(client, tmp_path / "node", runner=runner, pod_cidr="127.233.0.0/24")
    p = pod("limited", command=["sleep", "30"])
    p["spec"]["containers"][0]["resources"] = {"limits": {"memory": "64Mi"}}

    def warnings() -> list[str]:
        return [str(e.get("message")) for e in client.objects.get("events", {}).values()
                if e.get("reason") == "MemoryLimitNotEnforced" and e.get("type") == "Warning"]

    async with running(agent):
        await client.create("pods", p)
        await wait_for(lambda: bool(warnings()), timeout=10, what="the Warning event")
    assert warnings()[0] == ("resources.limits.memory 64Mi of container main is not enforced "
                             "on node node-1: no memory controller here")
