"""Upstream ``test/e2e/network/service.go`` (Kubernetes v1.32): the session-affinity cases
for ClusterIP and NodePort Services - the four [Conformance] ones and the two untagged
"session affinity timeout" ones - written anew against kubesvc.

As upstream (``execAffinityTestForNonLBService*``): a serve-hostname Service with
sessionAffinity ClientIP over three pods, reachability first, then ``checkAffinity``. The
client is the test process on the node, so every request carries the same client IP, as
requests from upstream's single exec pod do. Run by pytest; uses :mod:`.framework` and
:mod:`.probes`.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.conformance.framework import (
    Api,
    core,
    hostname_via,
    serve_hostname_pods,
    service,
    update_service,
)
from tests.conformance.probes import (
    Dns,
    check_affinity,
    check_service_reachability,
    service_ip_and_port,
)

# Upstream waits out a 125 s affinity timeout; a short one keeps the suite within its time
# budget and exercises the same expiry path.
AFFINITY_TIMEOUT_SECONDS = 4


def _start_affinity_service(api: Api, dnsc: Dns, ns: str, name: str, svc_type: str, *,
                            timeout_seconds: int | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"type": svc_type, "sessionAffinity": "ClientIP"}
    if timeout_seconds is not None:
        spec["sessionAffinityConfig"] = {"clientIP": {"timeoutSeconds": timeout_seconds}}
    api.create(core(ns, "services"), service(
        name, selector={"name": name},
        ports=[{"port": 80, "targetPort": 9376, "protocol": "TCP"}], **spec))
    serve_hostname_pods(api, ns, name, 3)
    svc = dict(api.get(core(ns, "services", name)))
    check_service_reachability(api, dnsc, svc, path="/")
    return svc


def _affinity(api: Api, dnsc: Dns, ns: str, name: str, svc_type: str, *,
              transition: bool) -> None:
    """``execAffinityTestForNonLBServiceWithOptionalTransition``."""
    svc = _start_affinity_service(api, dnsc, ns, name, svc_type)
    ip, port = service_ip_and_port(api, svc)
    if not transition:
        check_affinity(ip, port, should_hold=True)
        return
    update_service(api, ns, name, lambda s: s["spec"].__setitem__("sessionAffinity", "None"))
    check_affinity(ip, port, should_hold=False)
    update_service(api, ns, name,
                   lambda s: s["spec"].__setitem__("sessionAffinity", "ClientIP"))
    check_affinity(ip, port, should_hold=True)


def _affinity_timeout(api: Api, dnsc: Dns, ns: str, name: str, svc_type: str) -> None:
    """``execAffinityTestForSessionAffinityTimeout``: sticky until the timeout expires,
    then other pods answer."""
    svc = _start_affinity_service(api, dnsc, ns, name, svc_type,
                                  timeout_seconds=AFFINITY_TIMEOUT_SECONDS)
    ip, port = service_ip_and_port(api, svc)
    check_affinity(ip, port, should_hold=True)
    hosts: set[str] = set()
    for _ in range(10):
        try:
            hosts.add(hostname_via(ip, port, path="/"))
        except (AssertionError, OSError):
            pass
        if len(hosts) > 1:
            return
        time.sleep(AFFINITY_TIMEOUT_SECONDS + 1)
    pytest.fail(f"Session is sticky after reaching the timeout: only {hosts} answered "
                f"{ip}:{port}")


def test_should_have_session_affinity_work_for_service_with_type_clusterip(
        api: Api, dnsc: Dns, ns: str) -> None:
    """[sig-network] Services should have session affinity work for service with type
    clusterIP [LinuxOnly] [Conformance]"""
    _affinity(api, dnsc, ns, "affinity-clusterip", "ClusterIP", transition=False)


def test_should_be_able_to_switch_session_affinity_for_service_with_type_clusterip(
        api: Api, dnsc: Dns, ns: str) -> None:
    """[sig-network] Services should be able to switch session affinity for service with
    type clusterIP [LinuxOnly] [Conformance]"""
    _affinity(api, dnsc, ns, "affinity-clusterip-transition", "ClusterIP", transition=True)


def test_should_have_session_affinity_work_for_nodeport_service(
        api: Api, dnsc: Dns, ns: str) -> None:
    """[sig-network] Services should have session affinity work for NodePort service
    [LinuxOnly] [Conformance]"""
    _affinity(api, dnsc, ns, "affinity-nodeport", "NodePort", transition=False)


def test_should_be_able_to_switch_session_affinity_for_nodeport_service(
        api: Api, dnsc: Dns, ns: str) -> None:
    """[sig-network] Services should be able to switch session affinity for NodePort
    service [LinuxOnly] [Conformance]"""
    _affinity(api, dnsc, ns, "affinity-nodeport-transition", "NodePort", transition=True)


def test_should_have_session_affinity_timeout_work_for_service_with_type_clusterip(
        api: Api, dnsc: Dns, ns: str) -> None:
    """[sig-network] Services should have session affinity timeout work for service with
    type clusterIP [LinuxOnly]"""
    _affinity_timeout(api, dnsc, ns, "affinity-clusterip-timeout", "ClusterIP")


def test_should_have_session_affinity_timeout_work_for_nodeport_service(
        api: Api, dnsc: Dns, ns: str) -> None:
    """[sig-network] Services should have session affinity timeout work for NodePort
    service [LinuxOnly]"""
    _affinity_timeout(api, dnsc, ns, "affinity-nodeport-timeout", "NodePort")
