"""Pure endpoint selection of :mod:`kubesvc.proxy.model`: what the data planes serve and
what the health check node port reports."""

from __future__ import annotations

from kubesvc.proxy.model import Endpoint, local_ready_count, usable_endpoints


def ep(ip: str, *, node: str = "n1", ready: bool = True, serving: bool = True,
       terminating: bool = False, port: int = 8080) -> Endpoint:
    return Endpoint(ip=ip, port=port, ready=ready, serving=serving, terminating=terminating,
                    node_name=node)


def test_health_check_counts_only_ready_local_endpoints_by_ip() -> None:
    eps = [ep("10.0.0.1"), ep("10.0.0.1", port=9090), ep("10.0.0.2", node="n2"),
           ep("10.0.0.3", ready=False, terminating=True)]
    assert local_ready_count(eps, node_name="n1") == 1
    assert local_ready_count(eps, node_name="n2") == 1
    assert local_ready_count(eps, node_name="n3") == 0


def test_only_terminating_endpoints_still_serve_but_do_not_pass_the_health_check() -> None:
    """Upstream: traffic falls back to serving-terminating endpoints, while the health check
    node port answers 503 (no ready local endpoint) so load balancers drain the node."""
    eps = [ep("10.0.0.3", ready=False, terminating=True)]
    assert [e.ip for e in usable_endpoints(eps, local_only=True, node_name="n1")] == [
        "10.0.0.3"]
    assert local_ready_count(eps, node_name="n1") == 0
