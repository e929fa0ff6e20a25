"""The proxy state's health-check answer, shared by both data planes: one count per
Service over all its ports, by IP (upstream ``LocalReadyEndpoints``)."""

from __future__ import annotations

from kubesvc.proxy.model import Endpoint, ServicePort, ServicePortName
from kubesvc.proxy.tracker import ProxyState


def _port(name: str, port: int, *, local: bool = True, hc: int = 31000) -> ServicePort:
    return ServicePort(id=ServicePortName("ns", "web", name, "TCP"), cluster_ips=("10.96.0.5",),
                       port=port, node_port=30000 + port, external_ips=(), lb_ips=(),
                       session_affinity=False, affinity_timeout=0, internal_local=False,
                       external_local=local, source_ranges=(), health_check_node_port=hc)


def _ep(ip: str, port: int, node: str = "n1", ready: bool = True) -> Endpoint:
    return Endpoint(ip=ip, port=port, ready=ready, serving=ready, terminating=False,
                    node_name=node)


def _state(*ports: tuple[ServicePort, list[Endpoint]]) -> ProxyState:
    st = ProxyState()
    for sp, eps in ports:
        st.ports[sp.id] = sp
        st.endpoints[sp.id] = eps
        st.by_service.setdefault("ns/web", []).append(sp.id)
    return st


def test_local_endpoints_are_counted_over_every_port_by_ip() -> None:
    # A pod serving only the second port still counts, and a pod on both counts once.
    http, admin = _port("http", 80), _port("admin", 81)
    st = _state((http, [_ep("10.0.0.1", 8080)]),
                (admin, [_ep("10.0.0.1", 8081), _ep("10.0.0.2", 8081),
                         _ep("10.0.0.3", 8081, node="n2"), _ep("10.0.0.4", 8081, ready=False)]))
    assert st.health_check("ns/web", node_name="n1") == (31000, 2)
    assert st.health_check("ns/web", node_name="n2") == (31000, 1)
    assert st.health_check("ns/web", node_name="n3") == (31000, 0)


def test_no_health_check_without_external_traffic_policy_local() -> None:
    st = _state((_port("http", 80, local=False, hc=0), [_ep("10.0.0.1", 8080)]))
    assert st.health_check("ns/web", node_name="n1") is None
    assert st.health_check("ns/other", node_name="n1") is None
