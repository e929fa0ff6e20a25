"""Upstream ``test/e2e/network/endpointslicemirroring.go`` (Kubernetes v1.32), [sig-network]
EndpointSliceMirroring: both cases, written anew against kubesvc. Custom Endpoints of a
selector-less Service must be mirrored into EndpointSlices (and the proxy must use them).
Run by pytest; uses :mod:`.framework`.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.conformance.framework import (
    Api,
    core,
    create_pod_sync,
    discovery,
    netexec_pod,
    poll,
    reachable_http,
    service,
    two_port_service,
)

SVC_LABEL = "kubernetes.io/service-name"


def _slices(api: Api, ns: str, svc: str) -> list[dict[str, Any]]:
    return api.list(discovery(ns), labelSelector=f"{SVC_LABEL}={svc}")


def test_should_mirror_a_custom_endpoints_resource_through_create_update_and_delete(
        api: Api, ns: str) -> None:
    """[sig-network] EndpointSliceMirroring should mirror a custom Endpoints resource
    through create update and delete [Conformance]"""
    name = "example-custom-endpoints"
    api.create(core(ns, "services"), service(
        name, ports=[{"name": "example", "port": 80, "protocol": "TCP"}]))
    endpoints = {"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": name},
                 "subsets": [{"ports": [{"port": 80}], "addresses": [{"ip": "10.1.2.3"}]}]}
    api.create(core(ns, "endpoints"), endpoints)

    def mirrored(ip: str, *, exactly_one: bool) -> bool:
        sls = _slices(api, ns, name)
        if not sls or (exactly_one and len(sls) != 1):
            return False
        for sl in sls:
            ports, eps = sl.get("ports") or [], sl.get("endpoints") or []
            if not exactly_one:  # upstream fails at once on a malformed mirror
                if len(ports) != 1 or ports[0].get("port") != 80 or len(eps) != 1 or \
                        eps[0].get("addresses") != [ip]:
                    pytest.fail(f"malformed mirrored EndpointSlice: {sl}")
            elif len(ports) != 1 or ports[0].get("port") != 80 or len(eps) != 1 or \
                    eps[0].get("addresses") != [ip]:
                return False
        return True

    poll(lambda: mirrored("10.1.2.3", exactly_one=False), timeout=12,
         what="a mirrored EndpointSlice for the new Endpoints")

    cur = api.get(core(ns, "endpoints", name))
    cur["subsets"][0]["addresses"] = [{"ip": "10.2.3.4"}]
    api.update(core(ns, "endpoints", name), cur)
    poll(lambda: mirrored("10.2.3.4", exactly_one=True), timeout=12,
         what="the mirrored EndpointSlice to follow the update")

    api.delete(core(ns, "endpoints", name))
    poll(lambda: not _slices(api, ns, name), timeout=12,
         what="the mirrored EndpointSlices to go with the Endpoints")


def test_should_mirror_a_custom_endpoint_with_multiple_subsets_and_same_ip_address(
        api: Api, ns: str) -> None:
    """[sig-network] EndpointSliceMirroring should mirror a custom Endpoint with multiple
    subsets and same IP address"""
    svc = two_port_service(api, ns)
    name = svc["metadata"]["name"]
    pod = create_pod_sync(api, ns, netexec_pod("pod-handle-http-request", 8090, 9090))
    ip = pod["status"]["podIP"]
    api.create(core(ns, "endpoints"), {
        "apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": name},
        "subsets": [{"ports": [{"name": "port80", "port": 8090}], "addresses": [{"ip": ip}]},
                    {"ports": [{"name": "port81", "port": 9090}], "addresses": [{"ip": ip}]}]})
    poll(lambda: _slices(api, ns, name), timeout=12, what="a mirrored EndpointSlice")
    cluster_ip = svc["spec"]["clusterIP"]
    for port in (80, 81):
        got = reachable_http(cluster_ip, port)
        assert got == "pod-handle-http-request", f"{cluster_ip}:{port} answered {got!r}"
    api.delete(core(ns, "endpoints", name))
    poll(lambda: not _slices(api, ns, name), timeout=12,
         what="the mirrored EndpointSlices to go with the Endpoints")
