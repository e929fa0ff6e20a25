"""The pod sandbox with the real ProcessRunner (root: a mount namespace per container):
volume contents inside the pod, the data dir invisible, runAsUser, runAsNonRoot refused,
a missing configMap as FailedMount then mounted once created, configMap updates reaching
the running pod, entering a running container's sandbox (SandboxJoin)."""

from __future__ import annotations

import asyncio
import base64
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from kubesvc.runtime.sandbox.manager import isolation
from tests.unit.runtime.helpers import GracefulClient, cstatus, make_agent, pod, running, wait_for

pytestmark = [
    pytest.mark.skipif(sys.platform != "linux", reason="needs Linux namespaces"),
    pytest.mark.skipif(os.geteuid() != 0, reason="the mount-namespace sandbox needs root"),
    pytest.mark.skipif(isolation()[0] != "mount", reason=f"no mount namespaces: {isolation()[1]}"),
]


def _log(agent: Any, name: str) -> str:
    st = agent.pod_state("default", name)
    if st is None:
        return ""
    rec = st.records["main"]
    if rec.current is None or not rec.current.log_path:
        return ""
    try:
        return Path(rec.current.log_path).read_text()
    except OSError:
        return ""


def _events(client: GracefulClient) -> list[str]:
    return [f"{e.get('reason')}: {e.get('message')}"
            for e in client.objects.get("events", {}).values()]


async def test_volumes_identity_and_no_data_dir(tmp_path: Path) -> None:
    client = GracefulClient()
    (tmp_path / "tokens.csv").write_text("secret-token,admin,1\n")
    agent = make_agent(client, tmp_path / "node", pod_cidr="127.231.0.0/24", sandbox="auto",
                       volume_sync_period=300)  # only the watch can update in time
    await client.create("configmaps", {"metadata": {"name": "cfg", "namespace": "default"},
                                       "data": {"a.txt": "alpha", "b.txt": "beta"}})
    await client.create("secrets", {"metadata": {"name": "sec", "namespace": "default"},
                                    "data": {"pw": base64.b64encode(b"hunter2").decode()}})
    script = ("id -u; id -G; cat /cfg/a.txt; echo; cat /cfg/..data/b.txt; echo; "
              "cat /sec/pw; echo; cat /dw/name; echo; cat /dw/labels; echo; "
              "ls -lL /sec/pw | cut -c1-10; pwd; "
              f"cat {tmp_path}/tokens.csv || echo NO-TOKENS; "
              f"ls {tmp_path / 'node'} || echo NO-DATA-DIR; "
              "grep -c ' /mem tmpfs' /proc/mounts; cat /etc/hostname; hostname; "
              "touch /usr/x 2>/dev/null || echo RO-USR; "
              "while ! grep -q gamma /cfg/a.txt; do sleep 0.1; done; echo UPDATED; sleep 30")
    p = pod("box", command=["sh", "-c", script], volumes=[
        {"name": "cfg", "configMap": {"name": "cfg"}},
        {"name": "sec", "secret": {"secretName": "sec", "defaultMode": 0o400}},
        {"name": "dw", "downwardAPI": {"items": [
            {"path": "name", "fieldRef": {"fieldPath": "metadata.name"}},
            {"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}}]}},
        {"name": "mem", "emptyDir": {"medium": "Memory", "sizeLimit": "8Mi"}}],
        securityContext={"runAsUser": 1234, "fsGroup": 2345})
    p["spec"]["containers"][0].update(workingDir="/work/here", volumeMounts=[
        {"name": "cfg", "mountPath": "/cfg"}, {"name": "sec", "mountPath": "/sec"},
        {"name": "dw", "mountPath": "/dw"}, {"name": "mem", "mountPath": "/mem"}])
    async with running(agent):
        await client.create("pods", p)
        await wait_for(lambda: "RO-USR" in _log(agent, "box"), timeout=15,
                       what="the pod's checks")
        out = _log(agent, "box").splitlines()
        assert out[0] == "1234"
        assert "2345" in out[1].split()
        assert out[2:6] == ["alpha", "beta", "hunter2", "box"]
        assert out[6] == 'app="box"'
        assert out[7] == "-r--r-----"  # defaultMode 0400 + fsGroup's group read
        assert out[8] == "/work/here"
        assert "secret-token" not in _log(agent, "box")
        assert "NO-TOKENS" in out and "NO-DATA-DIR" in out
        assert "1" in out  # /mem is a tmpfs
        assert out.count("box") >= 3  # metadata.name, /etc/hostname, the UTS hostname
        assert "1" in out[out.index("NO-DATA-DIR") + 1:][:1]  # /mem is a tmpfs
        # The configMap changes: the running pod sees it at once (the agent watches it).
        await client.patch("configmaps", "cfg", {"data": {"a.txt": "gamma"}},
                           namespace="default")
        await wait_for(lambda: "UPDATED" in _log(agent, "box"), timeout=2,
                       what="configMap update inside the pod")
        # A second process joins the running container's sandbox.
        st = agent.pod_state("default", "box")
        assert st is not None and st.records["main"].current is not None
        join = st.records["main"].current.sandbox_join()
        assert join is not None
        r = subprocess.run(join.argv(["sh", "-c", "id -u; pwd; cat /cfg/a.txt"]),
                           capture_output=True, text=True, timeout=10)
        assert r.returncode == 0, r.stderr
        assert r.stdout.split() == ["1234", "/work/here", "gamma"]


async def test_missing_configmap_then_created_and_run_as_non_root(tmp_path: Path) -> None:
    client = GracefulClient()
    agent = make_agent(client, tmp_path, pod_cidr="127.232.0.0/24", sandbox="auto")
    p = pod("waits", command=["sh", "-c", "cat /c/k; sleep 30"],
            volumes=[{"name": "c", "configMap": {"name": "later"}}])
    p["spec"]["containers"][0]["volumeMounts"] = [{"name": "c", "mountPath": "/c"}]
    nonroot = pod("nonroot", command=["sleep", "30"], securityContext={"runAsNonRoot": True})
    # A command that exists only inside the pod: a script from a configMap volume.
    script = pod("script", command=["/scripts/run.sh"],
                 volumes=[{"name": "s", "configMap": {"name": "scripts", "defaultMode": 0o755}}])
    script["spec"]["containers"][0]["volumeMounts"] = [{"name": "s", "mountPath": "/scripts"}]
    async with running(agent):
        await client.create("configmaps", {"metadata": {"name": "scripts",
                                                        "namespace": "default"},
                                           "data": {"run.sh": "#!/bin/sh\necho from-script\n"
                                                              "sleep 30\n"}})
        await client.create("pods", p)
        await client.create("pods", nonroot)
        await client.create("pods", script)
        await wait_for(lambda: "from-script" in _log(agent, "script"), timeout=10,
                       what="the configMap script to run")
        await wait_for(lambda: any('MountVolume.SetUp failed for volume "c" : configmap '
                                   '"later" not found' in e for e in _events(client)),
                       timeout=10, what="FailedMount event")
        assert cstatus(client, "waits").get("state", {}).get("waiting", {}).get(
            "reason") == "ContainerCreating"
        await wait_for(lambda: (cstatus(client, "nonroot").get("state") or {}).get(
            "waiting", {}).get("reason") == "CreateContainerConfigError", timeout=10)
        msg = cstatus(client, "nonroot")["state"]["waiting"]["message"]
        assert msg.startswith("container has runAsNonRoot and image will run as root "
                              '(pod: "nonroot_default(')
        await client.create("configmaps", {"metadata": {"name": "later",
                                                        "namespace": "default"},
                                           "data": {"k": "now"}})
        await wait_for(lambda: _log(agent, "waits").startswith("now"), timeout=10,
                       what="pod started once its configMap exists")
    await asyncio.sleep(0)
