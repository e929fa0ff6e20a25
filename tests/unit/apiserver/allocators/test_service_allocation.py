"""Service ClusterIP / NodePort admission through the Registry: upstream's rules and
messages, release on delete and on type changes, no leaks on failure, concurrency."""

from __future__ import annotations

import asyncio
import ipaddress
from typing import Any

import pytest

from kubesvc import errors
from kubesvc.apiserver.registry import Registry
from kubesvc.client.options import WriteOptions
from kubesvc.storage.memory import MemoryStore
from kubesvc.storage.store import Store
from tests.unit.apiserver.registry.registry_helpers import svc


def node_ports(s: dict[str, Any]) -> list[int]:
    return [p["nodePort"] for p in s["spec"]["ports"] if p.get("nodePort")]


async def test_cluster_ip_from_the_dynamic_band(reg: Registry) -> None:
    s = await reg.create("services", svc("web", selector={"app": "web"}))
    ip = ipaddress.ip_address(s["spec"]["clusterIP"])
    assert ip in ipaddress.ip_network("10.96.0.0/12")
    assert int(ip) - int(ipaddress.ip_address("10.96.0.1")) >= 256  # not the static band
    assert s["spec"]["clusterIPs"] == [str(ip)]
    assert s["spec"]["ipFamilies"] == ["IPv4"] and s["spec"]["ipFamilyPolicy"] == "SingleStack"
    assert reg.ips.has(str(ip))


async def test_requested_ip_rules(reg: Registry) -> None:
    s = await reg.create("services", svc("dns", clusterIP="10.96.0.10"))
    assert s["spec"]["clusterIP"] == "10.96.0.10"
    with pytest.raises(errors.Invalid) as ei:
        await reg.create("services", svc("dns2", clusterIP="10.96.0.10"))
    assert ei.value.message == (
        'Service "dns2" is invalid: spec.clusterIPs: Invalid value: []string{"10.96.0.10"}: '
        "failed to allocate IP 10.96.0.10: provided IP is already allocated"
    )
    assert ei.value.causes[0].field == "spec.clusterIPs"
    with pytest.raises(errors.Invalid) as ei:
        await reg.create("services", svc("far", clusterIP="192.168.1.1"))
    assert ei.value.message == (
        'Service "far" is invalid: spec.clusterIPs: Invalid value: []string{"192.168.1.1"}: '
        "failed to allocate IP 192.168.1.1: the provided IP (192.168.1.1) is not in the valid "
        "range. The range of valid IPs is 10.96.0.0/12"
    )


async def test_headless_and_external_name_get_no_ip(reg: Registry) -> None:
    used = reg.ips.range.used
    h = await reg.create("services", svc("h", clusterIP="None", selector={"a": "b"}))
    assert h["spec"]["clusterIPs"] == ["None"]
    e = await reg.create("services", {"metadata": {"name": "db", "namespace": "default"},
                                      "spec": {"type": "ExternalName",
                                               "externalName": "my.external-database.com"}})
    assert "clusterIP" not in e["spec"]
    assert reg.ips.range.used == used


async def test_range_full() -> None:
    reg = Registry(MemoryStore(), service_cidr="10.0.0.0/29", compact_interval=0)
    await reg.start()  # .1 goes to the kubernetes Service: 5 left
    try:
        for i in range(5):
            await reg.create("services", svc(f"s{i}"))
        with pytest.raises(errors.InternalError) as ei:
            await reg.create("services", svc("s5"))
        assert ei.value.message == (
            "Internal error occurred: failed to allocate a serviceIP: range is full"
        )
        await reg.delete("services", "s2", namespace="default")
        again = await reg.create("services", svc("s5"))
        assert again["spec"]["clusterIP"]
    finally:
        await reg.stop()


async def test_node_port_rules(reg: Registry) -> None:
    s = await reg.create("services", svc("np", type="NodePort",
                                          ports=[{"port": 80, "nodePort": 30080}]))
    assert node_ports(s) == [30080] and s["spec"]["externalTrafficPolicy"] == "Cluster"
    with pytest.raises(errors.Invalid) as ei:
        await reg.create("services", svc("np2", type="NodePort",
                                          ports=[{"port": 80, "nodePort": 30080}]))
    assert ei.value.message == (
        'Service "np2" is invalid: spec.ports[0].nodePort: Invalid value: 30080: provided port '
        "is already allocated"
    )
    with pytest.raises(errors.Invalid) as ei:
        await reg.create("services", svc("np3", type="NodePort",
                                          ports=[{"name": "a", "port": 80},
                                                 {"name": "b", "port": 81, "nodePort": 8080}]))
    assert ei.value.message == (
        'Service "np3" is invalid: spec.ports[1].nodePort: Invalid value: 8080: provided port is '
        "not in the valid range. The range of valid ports is 30000-32767"
    )
    auto = await reg.create("services", svc("auto", type="NodePort"))
    assert 30000 + 86 <= node_ports(auto)[0] <= 32767  # dynamic band first
    shared = await reg.create("services", svc("dual", type="NodePort", ports=[
        {"name": "tcp", "port": 53, "protocol": "TCP"},
        {"name": "udp", "port": 53, "protocol": "UDP"}]))
    a, b = node_ports(shared)
    assert a == b  # same port number shares one NodePort, as upstream


async def test_load_balancer_ports_and_health_check(reg: Registry) -> None:
    lb = await reg.create("services", svc("lb", type="LoadBalancer"))
    assert len(node_ports(lb)) == 1 and lb["spec"]["allocateLoadBalancerNodePorts"] is True
    none = await reg.create("services", svc("lb2", type="LoadBalancer",
                                             allocateLoadBalancerNodePorts=False))
    assert node_ports(none) == []
    local = await reg.create("services", svc("lb3", type="LoadBalancer",
                                              externalTrafficPolicy="Local"))
    hc = local["spec"]["healthCheckNodePort"]
    assert reg.ports.has(hc) and hc not in node_ports(local)
    # Local -> Cluster releases the health-check port.
    local["spec"]["externalTrafficPolicy"] = "Cluster"
    local["spec"].pop("healthCheckNodePort")
    upd = await reg.update("services", local)
    assert "healthCheckNodePort" not in upd["spec"] and not reg.ports.has(hc)


async def test_type_switching_releases_and_allocates(reg: Registry) -> None:
    s = await reg.create("services", svc("t", type="NodePort"))
    ip, port = s["spec"]["clusterIP"], node_ports(s)[0]
    # NodePort -> ClusterIP: ports released, IP kept.
    s["spec"]["type"] = "ClusterIP"
    s = await reg.update("services", s)
    assert node_ports(s) == [] and not reg.ports.has(port)
    assert s["spec"]["clusterIP"] == ip and reg.ips.has(ip)
    # ClusterIP -> ExternalName: IP released.
    s = await reg.patch("services", "t", {"spec": {"type": "ExternalName",
                                                   "externalName": "x.example.com"}},
                        namespace="default")
    assert "clusterIP" not in s["spec"] and not reg.ips.has(ip)
    # ExternalName -> ClusterIP: a new IP.
    s = await reg.patch("services", "t", {"spec": {"type": "ClusterIP", "externalName": None}},
                        namespace="default")
    assert s["spec"]["clusterIP"] and reg.ips.has(s["spec"]["clusterIP"])
    # ClusterIP -> LoadBalancer: ports allocated.
    s = await reg.patch("services", "t", {"spec": {"type": "LoadBalancer"}}, namespace="default")
    assert len(node_ports(s)) == 1 and reg.ports.has(node_ports(s)[0])
    # LoadBalancer -> NodePort keeps the port.
    p = node_ports(s)[0]
    s = await reg.patch("services", "t", {"spec": {"type": "NodePort"}}, namespace="default")
    assert node_ports(s) == [p]
    # Delete releases everything.
    ip = s["spec"]["clusterIP"]
    await reg.delete("services", "t", namespace="default")
    assert not reg.ips.has(ip) and not reg.ports.has(p)


async def test_update_keeps_allocated_values_when_omitted(reg: Registry) -> None:
    s = await reg.create("services", svc("k", type="NodePort"))
    body = svc("k", type="NodePort")  # no clusterIP, no nodePort (like a PUT from a file)
    body["metadata"]["resourceVersion"] = s["metadata"]["resourceVersion"]
    out = await reg.update("services", body)
    assert out["spec"]["clusterIP"] == s["spec"]["clusterIP"]
    assert node_ports(out) == node_ports(s)


async def test_changing_node_port_swaps_allocation(reg: Registry) -> None:
    s = await reg.create("services", svc("c", type="NodePort"))
    old = node_ports(s)[0]
    s["spec"]["ports"][0]["nodePort"] = 31999
    out = await reg.update("services", s)
    assert node_ports(out) == [31999]
    assert reg.ports.has(31999) and not reg.ports.has(old)


async def test_failures_leave_no_allocation(reg: Registry) -> None:
    ips_used, ports_used = reg.ips.range.used, reg.ports.range.used
    await reg.create("services", svc("dup", type="NodePort"))
    with pytest.raises(errors.AlreadyExists):
        await reg.create("services", svc("dup", type="NodePort", clusterIP="10.96.0.50",
                                          ports=[{"port": 80, "nodePort": 30090}]))
    assert not reg.ips.has("10.96.0.50") and not reg.ports.has(30090)
    with pytest.raises(errors.Invalid):  # a valid port, then one already taken
        await reg.create("services", svc("x", type="NodePort", ports=[
            {"name": "a", "port": 80, "nodePort": 30091},
            {"name": "b", "port": 81, "nodePort": 30091}]))
    assert not reg.ports.has(30091)
    with pytest.raises(errors.Invalid):  # bad selector: validation fails before allocation
        await reg.create("services", svc("y", type="NodePort", selector={"a": "b c"}))
    assert reg.ips.range.used == ips_used + 1 and reg.ports.range.used == ports_used + 1
    ok = await reg.create("services", svc("y", type="NodePort",
                                           ports=[{"port": 80, "nodePort": 30091}]))
    assert node_ports(ok) == [30091]


async def test_dry_run_allocates_nothing(reg: Registry) -> None:
    used = (reg.ips.range.used, reg.ports.range.used)
    out = await reg.create("services", svc("d", type="NodePort"), opts=WriteOptions(dry_run=True))
    assert node_ports(out) and out["spec"]["clusterIP"]
    assert (reg.ips.range.used, reg.ports.range.used) == used


async def test_concurrent_creates_get_distinct_values(reg: Registry) -> None:
    made = await asyncio.gather(*(
        reg.create("services", svc(f"s{i}", type="NodePort")) for i in range(200)
    ))
    ips = {s["spec"]["clusterIP"] for s in made}
    ports = {node_ports(s)[0] for s in made}
    assert len(ips) == 200 and len(ports) == 200
    assert all(reg.ips.has(ip) for ip in ips) and all(reg.ports.has(p) for p in ports)


async def test_allocations_survive_restart(store: Store) -> None:
    first = Registry(store, compact_interval=0)
    await first.start()
    s = await first.create("services", svc("keep", type="NodePort"))
    await first.stop()
    second = Registry(store, compact_interval=0)
    await second.start()
    try:
        with pytest.raises(errors.Invalid):
            await second.create("services", svc("clash", clusterIP=s["spec"]["clusterIP"]))
        with pytest.raises(errors.Invalid):
            await second.create("services", svc("clash", type="NodePort",
                                                 ports=[{"port": 80,
                                                         "nodePort": node_ports(s)[0]}]))
    finally:
        await second.stop()
