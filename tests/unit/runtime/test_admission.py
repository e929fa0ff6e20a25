"""The node agent's host-port admission (:mod:`kubesvc.runtime.admission`)."""

from __future__ import annotations

from typing import Any

from kubesvc.runtime import admission as a


def pod(*ports: dict[str, Any]) -> dict[str, Any]:
    return {"spec": {"containers": [{"name": "c", "ports": list(ports)}]}}


def test_host_ports_and_conflicts() -> None:
    web = a.host_ports(pod({"containerPort": 80, "hostPort": 8080}, {"containerPort": 9}))
    assert web == {("TCP", "0.0.0.0", 8080)}
    udp = a.host_ports(pod({"containerPort": 80, "hostPort": 8080, "protocol": "UDP"}))
    on_ip = a.host_ports(pod({"containerPort": 80, "hostPort": 8080, "hostIP": "10.0.0.1"}))
    other = a.host_ports(pod({"containerPort": 80, "hostPort": 8081}))
    assert a.ports_conflict(web, [on_ip])  # 0.0.0.0 holds every address
    assert not a.ports_conflict(udp, [web])
    assert not a.ports_conflict(other, [web, udp])
    assert not a.host_ports(pod({"containerPort": 80}))


def test_rejected_pods_are_recognised() -> None:
    assert a.rejected({"status": {"phase": "Failed", "reason": a.NODE_PORTS_REASON,
                                  "message": a.NODE_PORTS_MESSAGE}})
    assert not a.rejected({"status": {"phase": "Failed", "reason": "Error"}})
