"""SandboxManager without running anything: a projected kube-api-access volume (a bound
token from TokenRequest, kube-root-ca.crt, the namespace) written on prepare and refreshed,
the token source left out while the API does not serve TokenRequest, a missing
ServiceAccount as a volume error, and no isolation meaning volumes fail loudly."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from kubesvc import errors
from kubesvc.runtime.sandbox.manager import SandboxManager, SandboxUnavailable
from kubesvc.runtime.sandbox.volumes import VolumeError

Obj = dict[str, Any]
POD: Obj = {
    "metadata": {"name": "p", "namespace": "team", "uid": "uid-1"},
    "spec": {"serviceAccountName": "robot", "containers": [{"name": "c"}], "volumes": [
        {"name": "kube-api-access-x", "projected": {"defaultMode": 0o644, "sources": [
            {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
            {"configMap": {"name": "kube-root-ca.crt", "items": [
                {"key": "ca.crt", "path": "ca.crt"}]}},
            {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {
                "fieldPath": "metadata.namespace"}}]}}]}}]},
}


class Objects:
    def __init__(self) -> None:
        self.items: dict[tuple[str, str, str], Obj] = {
            ("configmaps", "team", "kube-root-ca.crt"): {"data": {"ca.crt": "PEM"}}}
        self.token_calls: list[tuple[str, str, Obj]] = []

    async def get(self, resource: str, ns: str, name: str) -> Obj:
        try:
            return self.items[(resource, ns, name)]
        except KeyError:
            raise errors.NotFound(f'{resource} "{name}" not found') from None

    async def token(self, ns: str, sa: str, body: Obj) -> Obj:
        self.token_calls.append((ns, sa, body))
        return {**body, "status": {"token": f"tok-{len(self.token_calls)}"}}


def _vol(tmp: Path) -> Path:
    return tmp / "sandboxes" / "uid-1" / "volumes" / "kubernetes.io~projected" / \
        "kube-api-access-x"


async def test_projected_service_account_volume(tmp_path: Path) -> None:
    objs = Objects()
    m = SandboxManager(tmp_path, getter=objs.get, token_requester=objs.token)
    await m.prepare(POD, ip="10.0.0.5", hostname="p")
    v = _vol(tmp_path)
    assert (v / "token").read_text() == "tok-1"
    assert (v / "ca.crt").read_text() == "PEM" and (v / "namespace").read_text() == "team"
    ns, sa, body = objs.token_calls[0]
    assert (ns, sa) == ("team", "robot")
    assert body["kind"] == "TokenRequest" and body["spec"]["expirationSeconds"] == 3607
    assert body["spec"]["boundObjectRef"] == {"apiVersion": "v1", "kind": "Pod", "name": "p",
                                              "uid": "uid-1"}
    assert (tmp_path / "sandboxes/uid-1/etc-hosts").read_text().splitlines()[-1] == \
        "10.0.0.5\tp"
    # Unchanged sources: nothing rewritten and no new token before 80% of its life.
    assert not await m.refresh(POD)
    assert len(objs.token_calls) == 1
    objs.items[("configmaps", "team", "kube-root-ca.crt")] = {"data": {"ca.crt": "NEW"}}
    assert await m.refresh(POD)
    assert (v / "ca.crt").read_text() == "NEW"
    await m.remove("uid-1")
    assert not (tmp_path / "sandboxes" / "uid-1").exists()


async def test_token_left_out_while_not_served_and_missing_service_account(
        tmp_path: Path) -> None:
    objs = Objects()

    async def not_served(ns: str, sa: str, body: Obj) -> Obj:
        raise errors.NotFound("the server could not find the requested resource")

    m = SandboxManager(tmp_path, getter=objs.get, token_requester=not_served)
    await m.prepare(POD, ip="10.0.0.5", hostname="p")
    assert sorted(os.listdir(_vol(tmp_path)))[-2:] == ["ca.crt", "namespace"]
    assert not (_vol(tmp_path) / "token").exists()
    await m.remove("uid-1")

    async def no_sa(ns: str, sa: str, body: Obj) -> Obj:
        raise errors.NotFound(f'serviceaccounts "{sa}" not found')

    m = SandboxManager(tmp_path / "2", getter=objs.get, token_requester=no_sa)
    with pytest.raises(VolumeError) as e:
        await m.prepare(POD, ip="10.0.0.5", hostname="p")
    assert e.value.event_message == ('MountVolume.SetUp failed for volume "kube-api-access-x" '
                                     ': serviceaccounts "robot" not found')


async def test_no_isolation_fails_pods_with_volumes(tmp_path: Path) -> None:
    objs = Objects()
    m = SandboxManager(tmp_path, getter=objs.get, mode="none")
    with pytest.raises(SandboxUnavailable, match=r"volumes \['kube-api-access-x'\] cannot be "
                       "mounted"):
        await m.prepare(POD, ip="10.0.0.5", hostname="p")
    bare = {"metadata": {"name": "b", "namespace": "d", "uid": "u2"},
            "spec": {"containers": [{"name": "c"}]}}
    psb = await m.prepare(bare, ip="10.0.0.6", hostname="b")
    assert m.plan(bare, psb, {"name": "c"}, ["sh"], {}) == ""  # runs unisolated
    with pytest.raises(SandboxUnavailable, match="user and groups cannot be set"):
        m.plan(bare, psb, {"name": "c", "securityContext": {"runAsUser": 5}}, ["sh"], {})


async def test_gc_removes_the_sandboxes_of_pods_that_are_gone(tmp_path: Path) -> None:
    objs = Objects()
    m = SandboxManager(tmp_path, getter=objs.get, token_requester=objs.token)
    await m.prepare(POD, ip="10.0.0.5", hostname="p")
    (tmp_path / "sandboxes" / "gone-uid" / "volumes").mkdir(parents=True)
    assert await m.gc({"uid-1"}) == 1
    assert sorted(os.listdir(tmp_path / "sandboxes")) == ["uid-1"]


async def test_a_sweep_reads_each_source_once(tmp_path: Path) -> None:
    objs = Objects()
    reads: list[str] = []

    async def counting(resource: str, ns: str, name: str) -> Obj:
        reads.append(name)
        return await objs.get(resource, ns, name)

    m = SandboxManager(tmp_path, getter=counting, token_requester=objs.token)
    other = {**POD, "metadata": {**POD["metadata"], "name": "q", "uid": "uid-2"}}
    await m.prepare(POD, ip="10.0.0.5", hostname="p")
    await m.prepare(other, ip="10.0.0.6", hostname="q")
    reads.clear()
    with m.sweep():
        await m.refresh(POD)
        await m.refresh(other)
    assert reads == ["kube-root-ca.crt"]
    await m.refresh(POD)  # outside a sweep: read again
    assert reads == ["kube-root-ca.crt", "kube-root-ca.crt"]
