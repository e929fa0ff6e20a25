"""The proxy's ChangeTracker driven directly (recorded changes -> SyncRequests: full first,
then only what changed, slices merged per Service) and the proxy state's health-check
answer, shared by both data planes: one count per Service over all its ports, by IP
(upstream ``LocalReadyEndpoints``)."""

from __future__ import annotations

from typing import Any

from kubesvc.api.objects import LABEL_SERVICE_NAME
from kubesvc.proxy.model import Endpoint, ServicePort, ServicePortName
from kubesvc.proxy.tracker import ChangeTracker, ProxyState, SyncRequest


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


# -- ChangeTracker: recording changes and checkpointing them into SyncRequests

def _svc(name: str, *ports: int) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": "ns"},
            "spec": {"clusterIP": "10.96.0.5", "clusterIPs": ["10.96.0.5"],
                     "ports": [{"name": f"p{p}", "port": p, "targetPort": p + 8000,
                                "protocol": "TCP"} for p in ports]}}


def _slice(svc: str, name: str, port: int, *ips: str) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": "ns",
                         "labels": {LABEL_SERVICE_NAME: svc}},
            "addressType": "IPv4",
            "ports": [{"name": f"p{port}", "port": port + 8000, "protocol": "TCP"}],
            "endpoints": [{"addresses": [ip], "nodeName": "n1",
                           "conditions": {"ready": True, "serving": True,
                                          "terminating": False}} for ip in ips]}


def _ips(req: SyncRequest, svc: str) -> list[str]:
    return [e.ip for spn in req.state.by_service.get(f"ns/{svc}", [])
            for e in req.state.endpoints[spn]]


def test_first_checkpoint_is_full_then_only_the_changed_services() -> None:
    t = ChangeTracker()
    assert t.has_pending()  # the first sync is always due
    t.service_changed(_svc("web", 80), key="ns/web")
    t.slice_changed(_slice("web", "web-a", 80, "10.0.0.2", "10.0.0.1"))
    req = t.checkpoint()
    assert req.full and req.changed == {"ns/web"}
    assert _ips(req, "web") == ["10.0.0.1", "10.0.0.2"]  # sorted by address
    assert req.oldest_change > 0
    assert not t.has_pending()

    t.service_changed(_svc("api", 81), key="ns/api")
    req = t.checkpoint()
    assert not req.full and req.changed == {"ns/api"}
    assert set(req.state.by_service) == {"ns/web", "ns/api"}
    assert t.checkpoint().changed == set()  # nothing new: an empty, non-full request


def test_slices_merge_and_an_endpoint_in_two_slices_counts_once() -> None:
    t = ChangeTracker()
    t.service_changed(_svc("web", 80), key="ns/web")
    t.slice_changed(_slice("web", "web-a", 80, "10.0.0.1", "10.0.0.2"))
    t.slice_changed(_slice("web", "web-b", 80, "10.0.0.2", "10.0.0.3"))
    assert _ips(t.checkpoint(), "web") == ["10.0.0.1", "10.0.0.2", "10.0.0.3"]
    t.slice_changed(_slice("web", "web-a", 80), deleted=True)
    assert _ips(t.checkpoint(), "web") == ["10.0.0.2", "10.0.0.3"]


def test_deleting_a_service_drops_its_ports_and_marks_it_changed() -> None:
    t = ChangeTracker()
    t.service_changed(_svc("web", 80, 81), key="ns/web")
    t.slice_changed(_slice("web", "web-a", 80, "10.0.0.1"))
    st = t.checkpoint().state
    assert len(st.by_service["ns/web"]) == 2 and len(st.ports) == 2
    t.service_changed(None, key="ns/web")
    req = t.checkpoint()
    assert req.changed == {"ns/web"}
    assert req.state.by_service == {} and req.state.ports == {} and req.state.endpoints == {}


def test_slices_before_their_service_and_unlabelled_slices() -> None:
    t = ChangeTracker()
    t.checkpoint()
    t.slice_changed(_slice("web", "web-a", 80, "10.0.0.1"))
    unlabelled = _slice("web", "stray", 80, "10.0.0.9")
    del unlabelled["metadata"]["labels"]
    t.slice_changed(unlabelled)  # belongs to no Service: ignored
    req = t.checkpoint()
    assert req.changed == {"ns/web"} and req.state.by_service == {}  # no Service yet
    t.service_changed(_svc("web", 80), key="ns/web")
    assert _ips(t.checkpoint(), "web") == ["10.0.0.1"]


def test_request_full_resync_lists_every_service() -> None:
    t = ChangeTracker()
    t.service_changed(_svc("web", 80), key="ns/web")
    t.service_changed(_svc("api", 81), key="ns/api")
    t.checkpoint()
    t.request_full_resync()
    assert t.has_pending()
    req = t.checkpoint()
    assert req.full and req.changed == {"ns/web", "ns/api"}
    assert req.oldest_change == 0.0  # no change pending, only the resync
