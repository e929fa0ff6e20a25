"""NodeAgent against the FakeClient and FakeRunner: node registration and lease, pod
status as upstream, restarts with back-off, restart policies, graceful deletion, images
without a runner, init containers, adoption after a restart."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kubesvc.client.options import DeleteOptions
from kubesvc.runtime.types import ContainerInfo
from tests.fakes.runner import FakeRunner
from tests.unit.runtime.helpers import (
    GracefulClient,
    condition,
    cstatus,
    make_agent,
    pod,
    running,
    stored,
    wait_for,
)


async def test_registers_node_and_renews_lease(tmp_path: Path) -> None:
    client = GracefulClient()
    agent = make_agent(client, tmp_path, runner=FakeRunner(), node_ip="127.0.0.1")
    async with running(agent):
        node = await client.get("nodes", "node-1")
        labels = node["metadata"]["labels"]
        assert labels["kubernetes.io/hostname"] == "node-1"
        assert labels["kubernetes.io/os"] == "linux"
        assert "kubernetes.io/arch" in labels
        assert node["spec"]["podCIDR"] == "127.1.0.0/16"
        ready = next(c for c in node["status"]["conditions"] if c["type"] == "Ready")
        assert (ready["status"], ready["reason"]) == ("True", "KubeletReady")
        assert {"type": "InternalIP", "address": "127.0.0.1"} in node["status"]["addresses"]
        assert node["status"]["nodeInfo"]["kubeletVersion"].startswith("v1.32")
        assert node["status"]["allocatable"]["pods"] == "110"
        lease = await client.get("leases.coordination.k8s.io", "node-1",
                                 namespace="kube-node-lease")
        first = lease["spec"]["renewTime"]
        assert lease["spec"]["holderIdentity"] == "node-1"
        assert lease["spec"]["leaseDurationSeconds"] == 40
        assert lease["metadata"]["ownerReferences"][0]["kind"] == "Node"
        await wait_for(lambda: agent.heart.renewals >= 3, what="lease renewals")
        lease = await client.get("leases.coordination.k8s.io", "node-1",
                                 namespace="kube-node-lease")
        assert lease["spec"]["renewTime"] > first


async def test_pod_runs_and_reports_running_ready(tmp_path: Path) -> None:
    client = GracefulClient()
    runner = FakeRunner()
    await client.create("services", {"metadata": {"name": "web-svc", "namespace": "default"},
                                     "spec": {"clusterIP": "10.96.0.10", "ports": [
                                         {"name": "http", "port": 80, "protocol": "TCP"}]}})
    agent = make_agent(client, tmp_path, runner=runner)
    async with running(agent):
        await client.create("pods", pod("web", command=["/bin/server"], args=["--x=$(POD_IP)"],
                                        containers=None))
        await wait_for(lambda: cstatus(client, "web").get("ready"), what="ready")
        obj = stored(client, "web")
        assert obj is not None
        st = obj["status"]
        assert st["phase"] == "Running"
        assert st["podIP"].startswith("127.1.")
        assert st["podIPs"] == [{"ip": st["podIP"]}]
        assert st["hostIP"] == "127.0.0.1"
        assert st["startTime"]
        types = {c["type"]: c["status"] for c in st["conditions"]}
        assert types == {"PodReadyToStartContainers": "True", "Initialized": "True",
                         "ContainersReady": "True", "Ready": "True", "PodScheduled": "True"}
        cs = st["containerStatuses"][0]
        assert cs["state"]["running"]["startedAt"]
        assert cs["restartCount"] == 0 and cs["started"] is True
        assert cs["containerID"].startswith("kubesvc://")
        assert cs["image"] == "busybox" and cs["imageID"].startswith("busybox@sha256:")
        launch = runner.launches[0]
        assert launch.argv == ["/bin/server", f"--x={st['podIP']}"]
        assert launch.env["POD_IP"] == st["podIP"]
        assert launch.env["HOSTNAME"] == "web"
        assert launch.env["WEB_SVC_SERVICE_HOST"] == "10.96.0.10"
        assert launch.env["WEB_SVC_SERVICE_PORT_HTTP"] == "80"
        assert launch.env["WEB_SVC_PORT_80_TCP_ADDR"] == "10.96.0.10"
        await wait_for(lambda: len(_events(client, "web")) == 3, what="events")
        assert [e["reason"] for e in _events(client, "web")] == ["Pulled", "Created", "Started"]
        assert _events(client, "web")[2]["message"] == "Started container main"


async def test_restart_then_crashloop_backoff(tmp_path: Path) -> None:
    client = GracefulClient()
    runner = FakeRunner()
    agent = make_agent(client, tmp_path, runner=runner, backoff_base=0.5)
    async with running(agent):
        await client.create("pods", pod("crash", command=["x"]))
        await wait_for(lambda: runner.running("crash"), what="started")
        runner.exit(runner.running("crash")[0].id, 2)
        # First restart is immediate (as upstream's back-off).
        await wait_for(lambda: cstatus(client, "crash").get("restartCount") == 1
                       and "running" in cstatus(client, "crash")["state"], what="restart 1")
        last = cstatus(client, "crash")["lastState"]["terminated"]
        assert (last["exitCode"], last["reason"]) == (2, "Error")
        runner.exit(runner.running("crash")[0].id, 1)
        await wait_for(lambda: "waiting" in cstatus(client, "crash").get("state", {}),
                       what="crashloop")
        cs = cstatus(client, "crash")
        assert cs["state"]["waiting"]["reason"] == "CrashLoopBackOff"
        assert cs["state"]["waiting"]["message"].startswith(
            "back-off 500ms restarting failed container=main pod=crash_default(")
        assert cs["lastState"]["terminated"]["exitCode"] == 1
        assert cs["ready"] is False
        assert condition(client, "crash", "Ready")["reason"] == "ContainersNotReady"
        assert stored(client, "crash")["status"]["phase"] == "Running"  # type: ignore[index]
        await wait_for(lambda: cstatus(client, "crash").get("restartCount") == 2
                       and "running" in cstatus(client, "crash")["state"], what="restart 2")


async def test_restart_policies(tmp_path: Path) -> None:
    client = GracefulClient()
    runner = FakeRunner()
    agent = make_agent(client, tmp_path, runner=runner)
    async with running(agent):
        await client.create("pods", pod("never-ok", command=["x"], restartPolicy="Never"))
        await client.create("pods", pod("never-bad", command=["x"], restartPolicy="Never"))
        await client.create("pods", pod("onfail", command=["x"], restartPolicy="OnFailure"))
        await wait_for(lambda: len(runner.running()) == 3, what="three running")
        runner.exit(runner.running("never-ok")[0].id, 0)
        runner.exit(runner.running("never-bad")[0].id, 3)
        runner.exit(runner.running("onfail")[0].id, 0)
        await wait_for(lambda: all((stored(client, n) or {}).get("status", {}).get("phase")
                                   == "Succeeded" for n in ("never-ok", "onfail")))
        await wait_for(lambda: (stored(client, "never-bad") or {}).get("status", {})
                       .get("phase") == "Failed")
        term = cstatus(client, "never-ok")["state"]["terminated"]
        assert (term["exitCode"], term["reason"]) == (0, "Completed")
        assert condition(client, "never-ok", "Ready")["reason"] == "PodCompleted"
        assert cstatus(client, "never-bad")["state"]["terminated"]["reason"] == "Error"
        assert len(runner.launches) == 3  # nothing restarted


async def test_graceful_delete_stops_then_deletes(tmp_path: Path) -> None:
    client = GracefulClient()
    runner = FakeRunner()
    agent = make_agent(client, tmp_path, runner=runner)
    async with running(agent):
        await client.create("pods", pod("bye", command=["x"],
                                        terminationGracePeriodSeconds=7))
        await wait_for(lambda: cstatus(client, "bye").get("ready"))
        cid = runner.running("bye")[0].id
        await client.delete("pods", "bye")
        await wait_for(lambda: stored(client, "bye") is None, what="pod deleted")
        assert [s.container_id for s in runner.stops] == [cid]
        assert 6.5 < runner.stops[0].grace_period <= 7.0
        assert ("pods", "bye", 0) in client.deletes
        assert runner.removed  # logs/records dropped
        # Its IP is free again.
        assert agent.network.get(runner.infos[cid].pod_uid) is None


async def test_image_without_runner_waits_with_clear_reason(tmp_path: Path) -> None:
    client = GracefulClient()
    agent = make_agent(client, tmp_path, runner=FakeRunner())
    async with running(agent):
        await client.create("pods", pod("nginx", image="nginx:1.27"))
        await wait_for(lambda: "waiting" in cstatus(client, "nginx").get("state", {}))
        w = cstatus(client, "nginx")["state"]["waiting"]
        assert w["reason"] == "ErrImageNeverPull"
        assert '"nginx:1.27"' in w["message"] and "images.yaml" in w["message"]
        assert stored(client, "nginx")["status"]["phase"] == "Pending"  # type: ignore[index]
        await wait_for(lambda: _events(client, "nginx"), what="events")
        reasons = {e["reason"]: e for e in _events(client, "nginx")}
        assert reasons["ErrImageNeverPull"]["type"] == "Warning"
        assert reasons["Failed"]["message"] == "Error: ErrImageNeverPull"
        assert reasons["Failed"]["involvedObject"]["fieldPath"] == "spec.containers{main}"
        assert reasons["Failed"]["source"] == {"component": "kubelet", "host": "node-1"}


def _events(client: GracefulClient, pod_name: str) -> list[dict[str, Any]]:
    return [e for e in client.objects.get("events", {}).values()
            if e["involvedObject"]["name"] == pod_name]


async def test_init_containers_run_first(tmp_path: Path) -> None:
    client = GracefulClient()
    runner = FakeRunner()
    agent = make_agent(client, tmp_path, runner=runner)
    async with running(agent):
        p = pod("withinit", command=["x"])
        p["spec"]["initContainers"] = [{"name": "setup", "image": "busybox", "command": ["i"]}]
        await client.create("pods", p)
        await wait_for(lambda: runner.running("withinit", "setup"))
        assert not runner.running("withinit", "main")
        assert condition(client, "withinit", "Initialized").get("reason") in (
            None, "ContainersNotInitialized")
        await wait_for(lambda: condition(client, "withinit", "Initialized").get("status")
                       == "False")
        assert cstatus(client, "withinit")["state"]["waiting"]["reason"] == "PodInitializing"
        runner.exit(runner.running("withinit", "setup")[0].id, 0)
        await wait_for(lambda: cstatus(client, "withinit").get("ready"))
        assert condition(client, "withinit", "Initialized")["status"] == "True"
        obj = stored(client, "withinit")
        assert obj is not None
        init = obj["status"]["initContainerStatuses"][0]
        assert init["state"]["terminated"]["reason"] == "Completed"


async def test_pod_deleted_without_grace_is_cleaned_up(tmp_path: Path) -> None:
    client = GracefulClient()
    runner = FakeRunner()
    agent = make_agent(client, tmp_path, runner=runner)
    async with running(agent):
        await client.create("pods", pod("gone", command=["x"]))
        await wait_for(lambda: runner.running("gone"))
        await client.delete("pods", "gone", opts=DeleteOptions(grace_period_seconds=0))
        await wait_for(lambda: not runner.running("gone"), what="container stopped")
        await wait_for(lambda: agent.pod_state("default", "gone") is None)


async def test_adopts_running_containers_after_restart(tmp_path: Path) -> None:
    client = GracefulClient()
    p = pod("kept", command=["x"])
    created = await client.create("pods", p)
    uid = created["metadata"]["uid"]
    await client.patch("pods", "kept", {"status": {"phase": "Running", "podIP": "127.1.0.9",
                                                   "containerStatuses": [
                                                       {"name": "main", "restartCount": 4}]}},
                       subresource="status")
    runner = FakeRunner()
    runner.recorded = [ContainerInfo(id="old1", pod_uid=uid, container="main", attempt=4,
                                     started_at=1.0, pid=12345),
                       ContainerInfo(id="orphan", pod_uid="gone-uid", container="main",
                                     attempt=0, started_at=1.0, pid=12346)]
    agent = make_agent(client, tmp_path, runner=runner)
    async with running(agent):
        await wait_for(lambda: cstatus(client, "kept").get("containerID") == "kubesvc://old1")
        cs = cstatus(client, "kept")
        assert cs["restartCount"] == 4 and cs["ready"] is True
        assert stored(client, "kept")["status"]["podIP"] == "127.1.0.9"  # type: ignore[index]
        assert runner.launches == []  # nothing restarted


async def test_ephemeral_container_starts_once_and_reports_its_status(tmp_path: Path) -> None:
    client = GracefulClient()
    runner = FakeRunner()
    agent = make_agent(client, tmp_path, runner=runner)
    async with running(agent):
        await client.create("pods", pod("dbg", command=["x"]))
        await wait_for(lambda: cstatus(client, "dbg").get("ready"))
        await client.patch("pods", "dbg", {"spec": {"ephemeralContainers": [
            {"name": "debugger", "image": "busybox", "command": ["/bin/debugger"], "stdin": True,
             "tty": True, "targetContainerName": "main"}]}})
        await wait_for(lambda: runner.running("dbg", "debugger"), what="debugger started")
        launch = next(la for la, _ in runner._pairs() if la.container == "debugger")
        assert launch.argv == ["/bin/debugger"] and launch.stdin and launch.tty

        def ephemeral() -> dict[str, Any]:
            obj = stored(client, "dbg") or {}
            return ((obj.get("status") or {}).get("ephemeralContainerStatuses") or [{}])[0]

        await wait_for(lambda: "running" in ephemeral().get("state", {}))
        st = ephemeral()
        assert st["name"] == "debugger" and st["ready"] is False and "started" not in st
        assert [c["name"] for c in stored(client, "dbg")["status"][  # type: ignore[index]
            "containerStatuses"]] == ["main"]
        runner.exit(runner.running("dbg", "debugger")[0].id, 3)
        await wait_for(lambda: "terminated" in ephemeral().get("state", {}))
        assert ephemeral()["state"]["terminated"]["exitCode"] == 3
        assert sum(la.container == "debugger" for la, _ in runner._pairs()) == 1
        assert stored(client, "dbg")["status"]["phase"] == "Running"  # type: ignore[index]
