"""Fixtures and helpers shared by the NetworkPolicy cases (:mod:`.test_netpol`) and the
data-plane checks beyond upstream's list (``tests/e2e/test_netpol.py``): the model's
namespaces and 9 pods made once per module on the 2-node cluster (``two_node_api``), a
per-case cleanup of policies and labels, and upstream's policy builders
(``GenNetworkPolicyWithNameAndPodSelector``, ``SetSpecIngressRules``, ...)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conformance.framework import Api, ApiError, core, is_ready, poll
from tests.conformance.netpolmodel import NAMESPACES, PODS, Model, Reachability, pod_spec, refs

NP = "/apis/networking.k8s.io/v1/namespaces/{ns}/networkpolicies"
NAME_LABEL = "kubernetes.io/metadata.name"
NODE_OF = {"a": "node-1", "b": "node-2", "c": "node-1"}


@pytest.fixture(scope="module")
def api(two_node_api: Api) -> Api:
    return two_node_api


@pytest.fixture(scope="module")
def model(api: Api) -> Iterator[Model]:
    """``initializeResources``: namespaces x, y, z and their pods a, b, c, made once."""
    root = f"netpol-{uuid.uuid4().hex[:5]}"
    names = {n: f"{root}-{n}" for n in NAMESPACES}
    for name in names.values():
        api.create(core(None, "namespaces"), {"apiVersion": "v1", "kind": "Namespace",
                                              "metadata": {"name": name}})
    try:
        for name in names.values():
            for pod in PODS:
                api.create(core(name, "pods"), pod_spec(pod, NODE_OF[pod]))

        def all_ready() -> list[dict[str, Any]] | None:
            pods = [api.get(core(ns, "pods", p)) for ns in names.values() for p in PODS]
            ok = all(is_ready(p) and p["status"].get("podIP") for p in pods)
            return pods if ok else None

        pods = poll(all_ready, timeout=60, what="the 9 model pods Ready")
        yield Model(namespaces=names, pods=refs(pods))
    finally:
        for name in names.values():
            try:
                api.delete(core(name, "pods"), gracePeriodSeconds=0)
            except ApiError:
                pass
            try:
                api.delete(core(None, "namespaces", name))
            except ApiError:
                pass


@pytest.fixture
def k8s(api: Api, model: Model) -> Iterator[Model]:
    """The model for one case; its policies, and pod and namespace labels it changed,
    are put back afterwards (``cleanNetworkPolicies``, ``ResetPodLabels``)."""
    yield model
    for ns in model.namespaces.values():
        for item in api.list(NP.format(ns=ns)):
            try:
                api.delete(NP.format(ns=ns) + "/" + item["metadata"]["name"])
            except ApiError:
                pass
        api.patch(core(None, "namespaces", ns),
                  {"metadata": {"labels": {"ns2": None}}})
        for pod in PODS:
            api.patch(core(ns, "pods", pod),
                      {"metadata": {"labels": {"pod": pod, "pod2": None,
                                               "target": None}}})


def policy(api: Api, ns: str, name: str, pod_selector: dict[str, Any], *,
           ingress: list[dict[str, Any]] | None = None,
           egress: list[dict[str, Any]] | None = None,
           types: list[str] | None = None) -> None:
    """``GenNetworkPolicyWithNameAndPodSelector`` + ``SetSpecIngressRules``/``Egress``:
    a None rule list is absent; ``[]`` sets the policy type with no rule (deny)."""
    spec: dict[str, Any] = {"podSelector": pod_selector}
    t = list(types or [])
    if ingress is not None:
        spec["ingress"] = ingress
        t = t or []
        if "Ingress" not in t:
            t.append("Ingress")
    if egress is not None:
        spec["egress"] = egress
        if "Egress" not in t:
            t.append("Egress")
    spec["policyTypes"] = t
    api.create(NP.format(ns=ns), {"apiVersion": "networking.k8s.io/v1",
                                  "kind": "NetworkPolicy",
                                  "metadata": {"name": name}, "spec": spec})


def match(**labels: str) -> dict[str, Any]:
    return {"matchLabels": labels}


def ns_is(name: str) -> dict[str, Any]:
    return {"namespaceSelector": match(**{NAME_LABEL: name})}


def R(k8s: Model) -> Reachability:
    return Reachability(k8s.keys())


def P(k8s: Model, ns: str, pod: str) -> str:
    return f"{k8s.ns(ns)}/{pod}"


