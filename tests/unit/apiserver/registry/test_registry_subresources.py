"""Scale (apps) and binding (pods) subresources, and bootstrap objects."""

from __future__ import annotations

import pytest

from kubesvc import errors
from kubesvc.apiserver.registry import Registry
from kubesvc.storage.store import Store
from tests.unit.apiserver.registry.registry_helpers import deployment, pod, svc


async def test_scale_get_update_patch(reg: Registry) -> None:
    await reg.create("deployments.apps", deployment("web", replicas=2))
    sc = await reg.get("deployments.apps", "web", namespace="default", subresource="scale")
    assert sc["kind"] == "Scale" and sc["apiVersion"] == "autoscaling/v1"
    assert sc["spec"] == {"replicas": 2}
    assert sc["status"] == {"replicas": 0, "selector": "app=web"}
    sc["spec"]["replicas"] = 5
    out = await reg.update("deployments.apps", sc, subresource="scale")
    assert out["spec"]["replicas"] == 5
    d = await reg.get("deployments.apps", "web", namespace="default")
    assert d["spec"]["replicas"] == 5 and d["metadata"]["generation"] == 2
    sc["spec"]["replicas"] = 7  # stale resourceVersion
    with pytest.raises(errors.Conflict):
        await reg.update("deployments.apps", sc, subresource="scale")
    out = await reg.patch("deployments.apps", "web", {"spec": {"replicas": 1}},
                          namespace="default", subresource="scale")
    assert out["spec"]["replicas"] == 1
    with pytest.raises(errors.NotFound):
        await reg.get("services", "kubernetes", namespace="default", subresource="scale")


async def test_binding_sets_node_name(reg: Registry) -> None:
    await reg.create("pods", pod("p"))
    binding = {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "p"},
               "target": {"apiVersion": "v1", "kind": "Node", "name": "n1"}}
    status = await reg.create("pods", binding, namespace="default", subresource="binding")
    assert status["status"] == "Success"
    p = await reg.get("pods", "p", namespace="default")
    assert p["spec"]["nodeName"] == "n1"
    assert any(c["type"] == "PodScheduled" and c["status"] == "True"
               for c in p["status"]["conditions"])
    with pytest.raises(errors.Conflict) as ei:
        await reg.create("pods", binding, namespace="default", subresource="binding")
    assert ei.value.message == (
        'Operation cannot be fulfilled on pods/binding "p": pod p is already assigned to node "n1"'
    )


async def test_bootstrap_objects(reg: Registry) -> None:
    for ns in ("default", "kube-system", "kube-public", "kube-node-lease"):
        assert (await reg.get("namespaces", ns))["status"]["phase"] == "Active"
    k = await reg.get("services", "kubernetes", namespace="default")
    assert k["spec"]["clusterIP"] == "10.96.0.1"
    assert k["spec"]["ports"] == [{"name": "https", "protocol": "TCP", "port": 443,
                                   "targetPort": 6443}]
    assert k["metadata"]["labels"] == {"component": "apiserver", "provider": "kubernetes"}
    ep = await reg.get("endpoints", "kubernetes", namespace="default")
    assert ep["subsets"] == [{"addresses": [{"ip": "127.0.0.1"}],
                              "ports": [{"name": "https", "port": 6443, "protocol": "TCP"}]}]
    es = await reg.get("endpointslices.discovery.k8s.io", "kubernetes", namespace="default")
    assert es["addressType"] == "IPv4"
    assert es["endpoints"] == [{"addresses": ["127.0.0.1"], "conditions": {"ready": True}}]
    assert es["metadata"]["labels"]["kubernetes.io/service-name"] == "kubernetes"
    assert reg.ips.has("10.96.0.1")


async def test_restart_keeps_objects_and_follows_new_endpoint(store: Store) -> None:
    first = Registry(store, compact_interval=0)
    await first.start()
    uid = (await first.get("services", "kubernetes", namespace="default"))["metadata"]["uid"]
    made = await first.create("services", svc("web", type="NodePort"))
    await first.stop()
    second = Registry(store, compact_interval=0, apiserver_endpoint=("10.0.0.5", 7443))
    await second.start()
    try:
        k = await second.get("services", "kubernetes", namespace="default")
        assert k["metadata"]["uid"] == uid
        assert k["spec"]["ports"][0]["targetPort"] == 7443
        ep = await second.get("endpoints", "kubernetes", namespace="default")
        assert ep["subsets"][0]["addresses"] == [{"ip": "10.0.0.5"}]
        assert second.ips.has(made["spec"]["clusterIP"])
        assert second.ports.has(made["spec"]["ports"][0]["nodePort"])
    finally:
        await second.stop()


async def test_status_update_keeps_metadata_changes_and_resets_spec(reg: Registry) -> None:
    """Upstream's status strategies reset only the spec: a status patch may also change
    labels and annotations (the "service status lifecycle" conformance case)."""
    lb = svc("st")
    lb["spec"]["type"] = "LoadBalancer"
    created = await reg.create("services", lb)
    out = await reg.patch(
        "services", "st",
        {"metadata": {"annotations": {"patchedstatus": "true"}},
         "spec": {"sessionAffinity": "ClientIP"},
         "status": {"loadBalancer": {"ingress": [{"ip": "203.0.113.1"}]}}},
        patch_type="merge", subresource="status")
    assert out["metadata"]["annotations"] == {"patchedstatus": "true"}
    assert out["status"]["loadBalancer"]["ingress"][0]["ip"] == "203.0.113.1"
    assert out["spec"] == created["spec"]  # the spec part of the patch is ignored
    assert out["metadata"]["uid"] == created["metadata"]["uid"]
