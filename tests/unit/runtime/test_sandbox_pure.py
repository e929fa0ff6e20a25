"""The pod sandbox's pure parts: the atomic writer's layout and swaps, volume planning and
payloads (items, modes, optional, upstream's messages), hostPath type checks, the mount
plan (system binds, volumes, protected paths masked), securityContext resolution."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest

from kubesvc.runtime.sandbox import atomic, mountplan, security, volumes
from kubesvc.runtime.sandbox.atomic import FileProjection
from kubesvc.runtime.sandbox.quantity import parse_quantity, resource_value


def test_atomic_writer_layout_swap_and_removal(tmp_path: Path) -> None:
    t = tmp_path / "vol"
    assert atomic.write_payload(t, {"a": FileProjection(b"1"), "d/b": FileProjection(b"2", 0o600)})
    first = os.readlink(t / "..data")
    assert first.startswith("..") and (t / first).is_dir()
    assert os.readlink(t / "a") == "..data/a" and os.readlink(t / "d") == "..data/d"
    assert (t / "d" / "b").read_bytes() == b"2"
    assert (t / "d" / "b").stat().st_mode & 0o777 == 0o600
    assert not atomic.write_payload(t, {"a": FileProjection(b"1"),
                                        "d/b": FileProjection(b"2", 0o600)})  # unchanged
    assert os.readlink(t / "..data") == first
    assert atomic.write_payload(t, {"a": FileProjection(b"3")})
    second = os.readlink(t / "..data")
    assert second != first and not (t / first).exists()  # the old version is gone
    assert (t / "a").read_bytes() == b"3" and not os.path.lexists(t / "d")
    assert sorted(os.listdir(t)) == sorted([second, "..data", "a"])


@pytest.mark.parametrize("bad", ["/abs", "../up", "a/../b", "..hidden"])
def test_atomic_writer_refuses_bad_paths(tmp_path: Path, bad: str) -> None:
    with pytest.raises(atomic.PayloadError):
        atomic.write_payload(tmp_path / "v", {bad: FileProjection(b"x")})


def test_configmap_and_secret_payloads() -> None:
    cm = {"data": {"k1": "v1", "k2": "v2"}, "binaryData": {"bin": base64.b64encode(b"\0").decode()}}
    p = volumes.configmap_payload({"name": "c"}, cm, ns="default")
    assert {k: v.data for k, v in p.items()} == {"k1": b"v1", "k2": b"v2", "bin": b"\0"}
    assert {v.mode for v in p.values()} == {0o644}
    p = volumes.configmap_payload({"name": "c", "defaultMode": 0o400, "items": [
        {"key": "k1", "path": "x/y", "mode": 0o600}, {"key": "k2", "path": "z"}]}, cm,
        ns="default", fs_group=7)
    assert p["x/y"] == FileProjection(b"v1", 0o640, gid=7)
    assert p["z"] == FileProjection(b"v2", 0o440, gid=7)
    with pytest.raises(ValueError, match=r'^configmap "c" not found$'):
        volumes.configmap_payload({"name": "c"}, None, ns="default")
    assert volumes.configmap_payload({"name": "c", "optional": True}, None, ns="default") == {}
    with pytest.raises(ValueError, match=r"^configmap references non-existent config key: "
                       r"nope$"):
        volumes.configmap_payload({"name": "c", "items": [{"key": "nope", "path": "p"}]}, cm,
                                  ns="default")
    sec = {"data": {"pw": base64.b64encode(b"s3").decode()}}
    assert volumes.secret_payload({"secretName": "s"}, sec, ns="d")["pw"].data == b"s3"
    with pytest.raises(ValueError, match=r"^references non-existent secret key: x$"):
        volumes.secret_payload({"secretName": "s", "items": [{"key": "x", "path": "x"}]},
                               sec, ns="d")
    with pytest.raises(ValueError, match=r'^secret "s" not found$'):
        volumes.secret_payload({"secretName": "s"}, None, ns="d")


def test_downward_payload_and_quantities() -> None:
    pod = {"metadata": {"name": "p", "namespace": "ns", "uid": "u1",
                        "labels": {"b": "2", "a": "1"}, "annotations": {"x": "y"}},
           "spec": {"containers": [{"name": "c", "resources": {
               "limits": {"cpu": "1250m", "memory": "64Mi"}, "requests": {"memory": "32Mi"}}}]}}
    items = [{"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}},
             {"path": "uid", "fieldRef": {"fieldPath": "metadata.uid"}},
             {"path": "cpu", "resourceFieldRef": {"containerName": "c",
                                                  "resource": "limits.cpu"}},
             {"path": "mem", "resourceFieldRef": {"containerName": "c",
                                                  "resource": "requests.memory",
                                                  "divisor": "1Mi"}, "mode": 0o400}]
    p = volumes.downward_payload(items, pod, default_mode=None)
    assert p["labels"].data == b'a="1"\nb="2"'
    assert p["uid"].data == b"u1" and p["cpu"].data == b"2" and p["mem"].data == b"32"
    assert p["mem"].mode == 0o400
    assert parse_quantity("250m") * 4 == 1 and parse_quantity("1Ki") == 1024
    assert parse_quantity("1e3") == 1000
    assert resource_value({"resources": {}}, {"resource": "limits.cpu", "divisor": "1m"}) == \
        str((os.cpu_count() or 1) * 1000)


def test_plan_volumes_and_host_path_types(tmp_path: Path) -> None:
    pod = {"spec": {"volumes": [
        {"name": "e", "emptyDir": {"medium": "Memory", "sizeLimit": "1Mi"}},
        {"name": "c", "configMap": {"name": "x"}},
        {"name": "h", "hostPath": {"path": "/srv/x"}}]}}
    vs = volumes.plan_volumes(pod, tmp_path)
    assert [(v.name, v.kind) for v in vs] == [("e", "emptyDir"), ("c", "configMap"),
                                              ("h", "hostPath")]
    assert vs[0].host_path == str(tmp_path / "volumes/kubernetes.io~empty-dir/e")
    assert vs[0].size_limit == 1 << 20 and vs[1].read_only and not vs[0].read_only
    assert vs[2].host_path == "/srv/x"
    with pytest.raises(volumes.VolumeError, match="not supported"):
        volumes.plan_volumes({"spec": {"volumes": [{"name": "n", "nfs": {}}]}}, tmp_path)
    f = tmp_path / "file"
    f.write_text("")
    volumes.check_host_path("h", {"path": str(f), "type": "File"})
    with pytest.raises(volumes.VolumeError) as e:
        volumes.check_host_path("h", {"path": str(f), "type": "Directory"})
    assert e.value.event_message == ('MountVolume.SetUp failed for volume "h" : hostPath type '
                                     f"check failed: {f} is not a directory")
    with pytest.raises(volumes.VolumeError, match="is not a socket file"):
        volumes.check_host_path("h", {"path": str(f), "type": "Socket"})
    volumes.check_host_path("h", {"path": str(tmp_path / "new"), "type": "DirectoryOrCreate"})
    assert (tmp_path / "new").is_dir()
    volumes.check_host_path("h", {"path": str(tmp_path / "nf"), "type": "FileOrCreate"})
    assert (tmp_path / "nf").is_file()
    with pytest.raises(volumes.VolumeError, match="is not a file"):
        volumes.check_host_path("h", {"path": str(tmp_path), "type": "FileOrCreate"})


def test_mount_plan(tmp_path: Path) -> None:
    data = tmp_path / "data"
    (data / "vol").mkdir(parents=True)
    plan = mountplan.build_plan(
        root=str(tmp_path / "root"), argv=["sh", "-c", "true"], env={"PATH": "/usr/bin:/bin"},
        volumes=[mountplan.VolumeBind(str(data / "vol"), "/data", True),
                 mountplan.VolumeBind(str(tmp_path), "/host", False)],
        etc_files={"/etc/hosts": str(data / "hosts")}, protected=[str(data)], uid=5, gid=6,
        groups=[7], keep_caps=[10], workdir="/w")
    by_target = {m.target: m for m in plan.mounts}
    assert by_target["/usr"] == mountplan.Mount("bind", "/usr", "/usr", read_only=True)
    assert by_target["/proc"].kind == "proc" and by_target["/tmp"].kind == "tmpfs"
    assert by_target["/etc"].kind == "tmpfs" and "/etc/shadow" not in by_target
    assert by_target["/etc/hosts"].source == str(data / "hosts")
    assert by_target["/data"] == mountplan.Mount("bind", "/data", str(data / "vol"),
                                                 read_only=True)
    # The data dir shows through the /host bind: masked by an empty read-only tmpfs, last.
    mask = plan.mounts[-1]
    assert mask == mountplan.Mount("tmpfs", "/host/data", read_only=True, options="mode=0000")
    assert (plan.uid, plan.gid, plan.groups, plan.keep_caps, plan.workdir) == (5, 6, [7], [10],
                                                                               "/w")
    targets = [m.target for m in plan.mounts]
    assert targets.index("/etc") < targets.index("/etc/hosts")


def test_symlink_chain(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "real" / "f").write_text("")
    os.symlink("real", tmp_path / "link")
    links, real = mountplan.symlink_chain(str(tmp_path / "link" / "f"))
    assert links == [(str(tmp_path / "link"), "real")]
    assert real == os.path.realpath(tmp_path / "real" / "f")


def test_security_identity() -> None:
    pod = {"metadata": {"name": "p", "namespace": "n", "uid": "u"},
           "spec": {"securityContext": {"runAsUser": 10, "runAsGroup": 20,
                                        "supplementalGroups": [30], "fsGroup": 40}}}
    ident = security.identity(pod, {"name": "c"}, agent_uid=0)
    assert (ident.uid, ident.gid, ident.groups, ident.fs_group) == (10, 20, [30, 40], 40)
    assert ident.keep_caps == sorted(security.CAPS[c] for c in security.DEFAULT_CAPS)
    own = security.identity(pod, {"name": "c", "securityContext": {
        "runAsUser": 11, "capabilities": {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]}}},
        agent_uid=0)
    assert own.uid == 11 and own.keep_caps == [10]
    assert security.identity(pod, {"name": "c", "securityContext": {"privileged": True}},
                             agent_uid=0).keep_caps is None
    with pytest.raises(security.SecurityError, match=r'^container has runAsNonRoot and image '
                       r'will run as root \(pod: "p_n\(u\)", container: c\)$'):
        security.identity({"metadata": pod["metadata"], "spec": {}},
                          {"name": "c", "securityContext": {"runAsNonRoot": True}}, agent_uid=0)
    with pytest.raises(security.SecurityError, match="runAsUser breaks non-root policy"):
        security.identity({"metadata": pod["metadata"], "spec": {}}, {
            "name": "c", "securityContext": {"runAsNonRoot": True, "runAsUser": 0}},
            agent_uid=0)
    with pytest.raises(security.SecurityError, match="unprivileged"):
        security.identity(pod, {"name": "c"}, agent_uid=1000)


async def test_env_resource_field_ref_uses_the_divisor() -> None:
    from kubesvc.runtime.envvars import container_env

    async def getter(resource: str, ns: str, name: str) -> dict[str, object]:
        raise AssertionError("not called")

    pod = {"metadata": {"name": "p", "namespace": "d"}, "spec": {}, "status": {}}
    c = {"name": "c", "resources": {"limits": {"memory": "64Mi", "cpu": "500m"}}, "env": [
        {"name": "MEM", "valueFrom": {"resourceFieldRef": {"resource": "limits.memory",
                                                           "divisor": "1Mi"}}},
        {"name": "CPU", "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu"}}}]}
    env = await container_env(pod, c, services=[], getter=getter, bind_address="0.0.0.0")
    assert env["MEM"] == "64" and env["CPU"] == "1"  # 0.5 cpu rounds up to 1


def test_mount_plan_makes_room_under_a_read_only_system_dir(tmp_path: Path) -> None:
    plan = mountplan.build_plan(
        root=str(tmp_path / "root"), argv=["sh"], env={"PATH": "/usr/bin"},
        volumes=[mountplan.VolumeBind(str(tmp_path), "/usr/share/no-such-dir/html", False)],
        etc_files={}, protected=[])
    targets = {m.target: m for m in plan.mounts}
    assert targets["/usr"].kind == "tmpfs" and targets["/usr/share"].kind == "tmpfs"
    assert targets["/usr/bin"] == mountplan.Mount("bind", "/usr/bin", "/usr/bin",
                                                  read_only=True)
    order = [m.target for m in plan.mounts]
    assert order.index("/usr") < order.index("/usr/share") < order.index(
        "/usr/share/no-such-dir/html")
    # An existing path needs nothing of the kind.
    plan = mountplan.build_plan(root=str(tmp_path / "root"), argv=["sh"], env={},
                                volumes=[mountplan.VolumeBind(str(tmp_path), "/usr/share",
                                                              False)],
                                etc_files={}, protected=[])
    assert {m.target: m for m in plan.mounts}["/usr"].kind == "bind"
