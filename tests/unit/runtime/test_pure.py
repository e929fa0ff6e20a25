"""Pure pieces of the node agent: service env vars (upstream envvars.go), $(VAR) expansion,
downward API, image resolution, back-off, phase computation, IP allocation, log tails,
agnhost flag and duration parsing."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from kubesvc import errors
from kubesvc.runtime.agnhost.common import parse_duration, parse_flags
from kubesvc.runtime.backoff import Backoff, go_duration
from kubesvc.runtime.envvars import (
    EnvError,
    container_env,
    expand,
    field_ref,
    service_env,
    services_for_pod,
)
from kubesvc.runtime.images import ImageMap, ImageNotRunnable, load_mappings
from kubesvc.runtime.logs import tail_offset
from kubesvc.runtime.network import IPAllocator
from kubesvc.runtime.podstatus import phase


def svc(name: str, ns: str = "default", ip: str = "10.0.0.1", **extra: Any) -> dict[str, Any]:
    ports = extra.pop("ports", [{"port": 80}])
    return {"metadata": {"name": name, "namespace": ns},
            "spec": {"clusterIP": ip, "ports": ports, **extra}}


def test_service_env_matches_upstream() -> None:
    s = svc("my-svc", ip="10.96.1.2", ports=[
        {"name": "http", "port": 80, "protocol": "TCP"},
        {"name": "dns-udp", "port": 53, "protocol": "UDP"}])
    env = service_env([s, svc("headless", ip="None"), svc("ext", ip="")])
    assert env == [
        ("MY_SVC_SERVICE_HOST", "10.96.1.2"),
        ("MY_SVC_SERVICE_PORT", "80"),
        ("MY_SVC_SERVICE_PORT_HTTP", "80"),
        ("MY_SVC_SERVICE_PORT_DNS_UDP", "53"),
        ("MY_SVC_PORT", "tcp://10.96.1.2:80"),
        ("MY_SVC_PORT_80_TCP", "tcp://10.96.1.2:80"),
        ("MY_SVC_PORT_80_TCP_PROTO", "tcp"),
        ("MY_SVC_PORT_80_TCP_PORT", "80"),
        ("MY_SVC_PORT_80_TCP_ADDR", "10.96.1.2"),
        ("MY_SVC_PORT_53_UDP", "udp://10.96.1.2:53"),
        ("MY_SVC_PORT_53_UDP_PROTO", "udp"),
        ("MY_SVC_PORT_53_UDP_PORT", "53"),
        ("MY_SVC_PORT_53_UDP_ADDR", "10.96.1.2"),
    ]


def test_services_for_pod_respects_enable_service_links() -> None:
    services = [svc("kubernetes", ip="10.96.0.1"), svc("a", ns="team"), svc("b", ns="other")]
    p: dict[str, Any] = {"metadata": {"name": "p", "namespace": "team"}, "spec": {}}
    assert [s["metadata"]["name"] for s in services_for_pod(p, services)] == ["a", "kubernetes"]
    p["spec"]["enableServiceLinks"] = False
    assert [s["metadata"]["name"] for s in services_for_pod(p, services)] == ["kubernetes"]


def test_expand_and_field_refs() -> None:
    env = {"A": "1", "B": "two"}
    assert expand("$(A)-$(B)-$(C)-$$(A)", env) == "1-two-$(C)-$(A)"
    p = {"metadata": {"name": "n", "namespace": "ns", "uid": "u",
                      "labels": {"app": "web"}},
         "spec": {"nodeName": "node-1"},
         "status": {"podIP": "127.1.0.3", "hostIP": "127.0.0.1"}}
    assert field_ref(p, "metadata.name") == "n"
    assert field_ref(p, "status.podIP") == "127.1.0.3"
    assert field_ref(p, "spec.nodeName") == "node-1"
    assert field_ref(p, "metadata.labels['app']") == "web"
    with pytest.raises(EnvError):
        field_ref(p, "spec.bogus")


async def test_container_env_order_and_refs() -> None:
    p = {"metadata": {"name": "n", "namespace": "ns", "uid": "u"}, "spec": {"nodeName": "x"},
         "status": {"podIP": "127.1.0.3", "hostIP": "127.0.0.1"}}
    c = {"env": [{"name": "MY_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
                 {"name": "URL", "value": "http://$(MY_IP):$(S_SERVICE_PORT)"},
                 {"name": "K", "valueFrom": {"configMapKeyRef": {"name": "cm", "key": "k"}}}]}

    async def getter(resource: str, ns: str, name: str) -> dict[str, Any]:
        if resource == "configmaps" and name == "cm":
            return {"data": {"k": "v"}}
        raise errors.NotFound("nope")

    env = await container_env(p, c, services=[svc("s", ns="ns")], getter=getter,
                              bind_address="127.1.0.3")
    assert env["URL"] == "http://127.1.0.3:80"
    assert env["K"] == "v" and env["POD_IP"] == "127.1.0.3" and env["HOSTNAME"] == "n"
    c["env"].append({"name": "X", "valueFrom": {"secretKeyRef": {"name": "nope", "key": "k"}}})
    with pytest.raises(EnvError, match='secret "nope" not found'):
        await container_env(p, c, services=[], getter=getter, bind_address="")


async def test_container_env_forbidden_is_a_config_error_even_when_optional() -> None:
    """The Node authorizer may not have seen the pod bound yet: the container waits (and
    is retried) instead of starting without the optional Secret's values."""
    p = {"metadata": {"name": "n", "namespace": "ns"}, "spec": {},
         "status": {"podIP": "127.1.0.3", "hostIP": "127.0.0.1"}}
    msg = 'secrets "s" is forbidden: no relationship found'

    async def getter(resource: str, ns: str, name: str) -> dict[str, Any]:
        raise errors.Forbidden(msg)

    for c in ({"envFrom": [{"secretRef": {"name": "s", "optional": True}}]},
              {"env": [{"name": "X", "valueFrom": {"secretKeyRef": {
                  "name": "s", "key": "k", "optional": True}}}]}):
        with pytest.raises(EnvError, match="forbidden: no relationship"):
            await container_env(p, c, services=[], getter=getter, bind_address="")


def test_image_resolution(tmp_path: Path) -> None:
    m = ImageMap()
    ag = "registry.k8s.io/e2e-test-images/agnhost:2.53"
    argv = m.resolve({"image": ag, "args": ["netexec", "--http-port=8080"]})
    assert argv[1:] == ["-m", "kubesvc.runtime.agnhost", "netexec", "--http-port=8080"]
    argv = m.resolve({"image": ag, "command": ["/agnhost", "serve-hostname"]})
    assert argv[1:] == ["-m", "kubesvc.runtime.agnhost", "serve-hostname"]
    assert m.resolve({"image": "registry.k8s.io/pause:3.10"})[-1] == "pause"
    sh = [shutil.which("busybox"), "sh"] if shutil.which("busybox") else ["sh"]
    assert m.resolve({"image": "busybox", "command": ["sh", "-c", "x"]}) == [*sh, "-c", "x"]
    assert m.resolve({"image": "busybox:1.36", "args": ["sh", "-c", "x"]}) == [*sh, "-c", "x"]
    assert m.resolve({"image": "busybox"}) == sh
    assert m.resolve({"image": "alpine:3.20"}) == (sh if len(sh) == 2 else ["/bin/sh"])
    assert m.resolve({"image": "busybox", "command": ["ls", "/"]}) == ["ls", "/"]  # host's
    with pytest.raises(ImageNotRunnable, match='image "nginx" has no runner'):
        m.resolve({"image": "nginx"})
    f = tmp_path / "images.yaml"
    f.write_text("images:\n- image: nginx\n  command: [/usr/sbin/nginx]\n"
                 "  args: ['-g', 'daemon off;']\n")
    user = ImageMap(load_mappings(f))
    # "nginx" normalizes to docker.io/library/nginx:latest; the bare pattern still matches.
    assert user.resolve({"image": "nginx"}) == ["/usr/sbin/nginx", "-g", "daemon off;"]
    assert user.resolve({"image": "nginx", "args": ["-t"]}) == ["/usr/sbin/nginx", "-t"]


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_curl_image_keeps_its_entrypoint_rules() -> None:
    m = ImageMap()
    for args, out in ((["-s", "http://127.0.0.1:1/"], "curl -s http://127.0.0.1:1/"),
                      (["echo", "hi"], "hi")):
        argv = m.resolve({"image": "curlimages/curl:8.11.1", "args": args})
        # run the entrypoint with curl replaced by echo, to see what it would exec
        argv = [a.replace("set -- curl", "set -- echo curl") for a in argv]
        got = subprocess.run(argv, capture_output=True, text=True, timeout=10).stdout.strip()
        assert got == out
    assert m.resolve({"image": "curlimages/curl"})[-2:] == ["/entrypoint.sh", "curl"]  # CMD
    assert ImageMap().resolve({"image": "nicolaka/netshoot"})[0] in ("zsh", "bash")


def test_backoff_as_upstream() -> None:
    now = [1000.0]
    b = Backoff(10, 300, clock=lambda: now[0])
    assert b.remaining("k", now[0]) == 0  # first restart is immediate
    b.next("k", now[0])
    assert b.remaining("k", now[0]) == 10
    now[0] += 4
    b.next("k", now[0])  # crashed again
    assert b.get("k") == 20
    for _ in range(10):
        b.next("k", now[0])
    assert b.get("k") == 300
    assert b.remaining("k", now[0] + 601) == 0  # stable for 10 min: starts over
    assert [go_duration(x) for x in (0.2, 10, 80, 300)] == ["200ms", "10s", "1m20s", "5m0s"]


def _cs(name: str, state: dict[str, Any], last: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"name": name, "state": state, "lastState": last or {}, "ready": False}


def test_phase_as_upstream_get_phase() -> None:
    run: dict[str, Any] = {"running": {}}
    ok = {"terminated": {"exitCode": 0}}
    bad = {"terminated": {"exitCode": 1}}
    wait = {"waiting": {"reason": "ContainerCreating"}}
    p: dict[str, Any] = {"spec": {"restartPolicy": "Always"}}
    assert phase(p, [], [_cs("a", run)]) == "Running"
    assert phase(p, [], [_cs("a", wait)]) == "Pending"
    assert phase(p, [], [_cs("a", {"waiting": {}}, {"terminated": {"exitCode": 1}})]) == \
        "Running"
    assert phase(p, [], [_cs("a", ok)]) == "Running"  # Always restarts it
    p["spec"]["restartPolicy"] = "Never"
    assert phase(p, [], [_cs("a", ok), _cs("b", ok)]) == "Succeeded"
    assert phase(p, [], [_cs("a", ok), _cs("b", bad)]) == "Failed"
    assert phase(p, [_cs("i", bad)], [_cs("a", wait)]) == "Failed"
    p["spec"]["restartPolicy"] = "OnFailure"
    assert phase(p, [], [_cs("a", bad)]) == "Running"
    assert phase(p, [_cs("i", run)], [_cs("a", wait)]) == "Pending"


def test_ip_allocator_round_robin_and_reserve() -> None:
    a = IPAllocator("127.1.0.0/29")
    ips = [a.allocate(f"p{i}") for i in range(3)]
    assert ips == ["127.1.0.1", "127.1.0.2", "127.1.0.3"]
    a.release("p0")
    assert a.allocate("p9") == "127.1.0.4"  # not the just-released one
    assert a.reserve("127.1.0.6", "old")
    assert not a.reserve("127.1.0.6", "other")
    assert not a.reserve("10.0.0.1", "x")
    assert a.allocate("p1") == "127.1.0.2"  # same owner, same IP
    assert a.reserve("127.1.0.5", "old")  # a second address of one owner
    a.release("old")
    assert a.owner("127.1.0.5") is None and a.owner("127.1.0.6") is None
    assert a.owner("127.1.0.2") == "p1"


def test_tail_offset(tmp_path: Path) -> None:
    f = tmp_path / "log"
    f.write_bytes(b"a\nb\nc\n")
    assert f.read_bytes()[tail_offset(str(f), 2):] == b"b\nc\n"
    assert f.read_bytes()[tail_offset(str(f), 10):] == b"a\nb\nc\n"
    assert f.read_bytes()[tail_offset(str(f), 0):] == b""
    f.write_bytes(b"a\nb\npartial")
    assert f.read_bytes()[tail_offset(str(f), 1):] == b"partial"


def test_agnhost_flags_and_durations() -> None:
    spec = {"http-port": 8080, "udp-port": 8081, "tcp": False, "name": ""}
    got = parse_flags(["--http-port=9000", "--udp-port", "-1", "--tcp", "--name=x"], spec)
    assert got == {"http-port": 9000, "udp-port": -1, "tcp": True, "name": "x"}
    assert parse_flags(["--tcp=false"], spec)["tcp"] is False
    assert parse_duration("1m30s") == 90 and parse_duration("250ms") == 0.25
    with pytest.raises(ValueError):
        parse_duration("5 seconds")


def test_status_digest_tells_statuses_apart() -> None:
    from kubesvc.runtime.podstatus import status_digest
    s = {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}
    same = {"conditions": [{"status": "True", "type": "Ready"}], "phase": "Running"}
    assert status_digest(s) == status_digest(same) and len(status_digest(s)) == 16
    assert status_digest(s) != status_digest({**s, "phase": "Pending"})
