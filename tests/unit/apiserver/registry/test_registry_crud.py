"""Registry create/get/update/patch semantics against the Store backends."""

from __future__ import annotations

import asyncio

import orjson
import pytest

from kubesvc import errors
from kubesvc.apiserver.registry import Registry
from kubesvc.apiserver.registry.codec import encode
from kubesvc.apiserver.registry.fieldvalidation import prune_path
from kubesvc.client.options import DeleteOptions, WriteOptions
from kubesvc.client.protocol import Client
from kubesvc.storage.store import Store
from tests.unit.apiserver.registry.registry_helpers import cm, deployment, pod, svc


async def test_registry_is_a_client(reg: Registry) -> None:
    assert isinstance(reg, Client)


async def test_create_sets_system_fields_and_resource_version(reg: Registry, store: Store) -> None:
    out = await reg.create("configmaps", cm("a", x="1"))
    md = out["metadata"]
    assert md["uid"] and md["creationTimestamp"].endswith("Z")
    assert "generation" not in md
    kv = await store.get("/registry/core/configmaps/default/a")
    assert kv is not None
    assert md["resourceVersion"] == str(kv.mod_revision)
    stored = orjson.loads(kv.value)
    assert "resourceVersion" not in stored["metadata"]
    got = await reg.get("configmaps", "a", namespace="default")
    assert got == out


async def test_generation_for_deployments(reg: Registry) -> None:
    d = await reg.create("deployments.apps", deployment("web"))
    assert d["metadata"]["generation"] == 1
    d["metadata"]["labels"] = {"x": "y"}
    d2 = await reg.update("deployments.apps", d)
    assert d2["metadata"]["generation"] == 1  # metadata-only change
    d2["spec"]["replicas"] = 3
    d3 = await reg.update("deployments.apps", d2)
    assert d3["metadata"]["generation"] == 2


async def test_already_exists_and_not_found_messages(reg: Registry) -> None:
    await reg.create("services", svc("web", selector={"app": "web"}))
    with pytest.raises(errors.AlreadyExists) as ei:
        await reg.create("services", svc("web"))
    assert ei.value.message == 'services "web" already exists'
    with pytest.raises(errors.NotFound) as nf:
        await reg.get("deployments.apps", "nope", namespace="default")
    assert nf.value.message == 'deployments.apps "nope" not found'
    assert nf.value.status()["details"] == {"name": "nope", "group": "apps", "kind": "deployments"}


async def test_rejected_create_leaves_no_allocation(reg: Registry) -> None:
    bad = svc("web", type="NodePort", ports=[{"port": 0, "nodePort": 30080}])
    with pytest.raises(errors.Invalid):
        await reg.create("services", bad)
    ok = await reg.create("services", svc("web", type="NodePort",
                                            ports=[{"port": 80, "nodePort": 30080}]))
    assert ok["spec"]["ports"][0]["nodePort"] == 30080


async def test_generate_name(reg: Registry) -> None:
    out = await reg.create("configmaps", {"metadata": {"generateName": "cfg-"}, "data": {}},
                           namespace="default")
    assert out["metadata"]["name"].startswith("cfg-") and len(out["metadata"]["name"]) == 9


async def test_namespace_mismatch_and_missing_namespace(reg: Registry) -> None:
    with pytest.raises(errors.BadRequest) as br:
        await reg.create("configmaps", cm("a", ns="other"), namespace="default")
    assert br.value.message == (
        "the namespace of the provided object does not match the namespace sent on the request"
    )
    with pytest.raises(errors.NotFound) as nf:
        await reg.create("configmaps", cm("a", ns="missing"), namespace="missing")
    assert nf.value.message == 'namespaces "missing" not found'


async def test_validation_error_is_invalid(reg: Registry) -> None:
    with pytest.raises(errors.Invalid) as ei:
        await reg.create("configmaps", cm("Bad_Name"))
    assert ei.value.message.startswith('ConfigMap "Bad_Name" is invalid: metadata.name')


async def test_update_conflict_and_unconditional(reg: Registry) -> None:
    a = await reg.create("configmaps", cm("a", x="1"))
    a["data"] = {"x": "2"}
    b = await reg.update("configmaps", a)
    assert int(b["metadata"]["resourceVersion"]) > int(a["metadata"]["resourceVersion"])
    a["data"] = {"x": "3"}  # stale resourceVersion
    with pytest.raises(errors.Conflict) as ei:
        await reg.update("configmaps", a)
    assert ei.value.message == (
        'Operation cannot be fulfilled on configmaps "a": the object has been modified; please '
        "apply your changes to the latest version and try again"
    )
    del a["metadata"]["resourceVersion"]
    c = await reg.update("configmaps", a)
    assert c["data"] == {"x": "3"}
    assert c["metadata"]["uid"] == b["metadata"]["uid"]


async def test_noop_update_does_not_write(reg: Registry, store: Store) -> None:
    a = await reg.create("configmaps", cm("a", x="1"))
    rev = await store.revision()
    b = await reg.update("configmaps", a)
    assert b["metadata"]["resourceVersion"] == a["metadata"]["resourceVersion"]
    assert await store.revision() == rev


async def test_update_missing_object(reg: Registry) -> None:
    with pytest.raises(errors.NotFound):
        await reg.update("configmaps", cm("nope"))
    # Services allow create-on-update, as upstream.
    out = await reg.update("services", svc("fresh"))
    assert out["spec"]["clusterIP"]


async def test_status_subresource_split(reg: Registry) -> None:
    s = await reg.create("services", svc("lb", type="LoadBalancer"))
    s["status"] = {"loadBalancer": {"ingress": [{"ip": "1.2.3.4"}]}}
    s["spec"]["sessionAffinity"] = "ClientIP"
    main = await reg.update("services", s)
    assert main["status"] == {"loadBalancer": {}}  # status ignored on the main resource
    assert main["spec"]["sessionAffinity"] == "ClientIP"
    main["status"] = {"loadBalancer": {"ingress": [{"ip": "1.2.3.4"}]}}
    main["spec"]["sessionAffinity"] = "None"
    st = await reg.update("services", main, subresource="status")
    assert st["status"]["loadBalancer"]["ingress"][0]["ip"] == "1.2.3.4"
    assert st["spec"]["sessionAffinity"] == "ClientIP"  # spec ignored on /status


async def test_status_ignored_on_create(reg: Registry) -> None:
    d = deployment("web")
    d["status"] = {"replicas": 5}
    out = await reg.create("deployments.apps", d)
    assert "replicas" not in (out.get("status") or {})


async def test_patch_types(reg: Registry) -> None:
    await reg.create("configmaps", cm("a", x="1", y="2"))
    out = await reg.patch("configmaps", "a", {"data": {"y": None, "z": "3"}},
                          namespace="default")
    assert out["data"] == {"x": "1", "z": "3"}
    out = await reg.patch("configmaps", "a", [{"op": "replace", "path": "/data/x", "value": "9"}],
                          namespace="default", patch_type="json")
    assert out["data"]["x"] == "9"
    await reg.create("services", svc("web", ports=[{"name": "a", "port": 80},
                                                   {"name": "b", "port": 81}]))
    out = await reg.patch("services", "web",
                          {"spec": {"ports": [{"port": 81, "name": "b", "targetPort": 8081}]}},
                          namespace="default", patch_type="strategic")
    assert [(p["port"], p["targetPort"]) for p in out["spec"]["ports"]] == [(80, 80), (81, 8081)]


async def test_patch_with_stale_resource_version_conflicts(reg: Registry) -> None:
    a = await reg.create("configmaps", cm("a", x="1"))
    await reg.patch("configmaps", "a", {"data": {"x": "2"}}, namespace="default")
    with pytest.raises(errors.Conflict):
        await reg.patch("configmaps", "a",
                        {"metadata": {"resourceVersion": a["metadata"]["resourceVersion"]},
                         "data": {"x": "3"}}, namespace="default")


async def test_concurrent_patches_all_apply(reg: Registry) -> None:
    await reg.create("configmaps", cm("a"))
    await asyncio.gather(*(
        reg.patch("configmaps", "a", {"data": {f"k{i}": str(i)}}, namespace="default")
        for i in range(20)
    ))
    got = await reg.get("configmaps", "a", namespace="default")
    assert len(got["data"]) == 20


async def test_patch_missing_is_not_found(reg: Registry) -> None:
    with pytest.raises(errors.NotFound):
        await reg.patch("configmaps", "nope", {"data": {}}, namespace="default")


async def test_dry_run_writes_nothing(reg: Registry, store: Store) -> None:
    rev = await store.revision()
    out = await reg.create("services", svc("web", type="NodePort"), opts=WriteOptions(dry_run=True))
    assert out["metadata"]["uid"]
    assert await store.revision() == rev
    with pytest.raises(errors.NotFound):
        await reg.get("services", "web", namespace="default")
    real = await reg.create("configmaps", cm("a", x="1"))
    rev = await store.revision()
    real["data"] = {"x": "2"}
    upd = await reg.update("configmaps", real, opts=WriteOptions(dry_run=True))
    assert upd["data"] == {"x": "2"}
    assert await store.revision() == rev
    await reg.delete("configmaps", "a", namespace="default", opts=DeleteOptions(dry_run=True))
    assert (await reg.get("configmaps", "a", namespace="default"))["data"] == {"x": "1"}


async def test_field_validation(reg: Registry) -> None:
    body = svc("web")
    body["spec"]["bogus"] = 1
    with pytest.raises(errors.BadRequest) as ei:
        await reg.create("services", body, opts=WriteOptions(field_validation="Strict"))
    assert ei.value.message == (
        'Service in version "v1" cannot be handled as a Service: strict decoding error: '
        'unknown field "spec.bogus"'
    )
    warnings: list[str] = []
    out = await reg.create("services", body, warnings=warnings,
                           opts=WriteOptions(field_validation="Warn"))
    assert warnings == ['unknown field "spec.bogus"']
    assert "bogus" not in out["spec"]  # dropped, as upstream's decoding drops it
    body["spec"]["ports"][0]["extra"] = "x"
    body["metadata"]["name"] = "web2"
    quiet = await reg.create("services", body, opts=WriteOptions(field_validation="Ignore"))
    assert "bogus" not in quiet["spec"] and "extra" not in quiet["spec"]["ports"][0]
    with pytest.raises(errors.Invalid):
        await reg.patch("services", "web", {"spec": {"nope": 1}}, namespace="default",
                        opts=WriteOptions(field_validation="Strict"))


async def test_object_too_large(reg: Registry, store: Store) -> None:
    rev = await store.revision()
    with pytest.raises(errors.RequestEntityTooLarge):
        encode(cm("big", x="a" * (3 * 1024 * 1024 + 1)))
    lease = {"metadata": {"name": "big"}, "spec": {"holderIdentity": "a" * (3 * 1024 * 1024)}}
    with pytest.raises((errors.RequestEntityTooLarge, errors.Invalid)):
        await reg.create("leases.coordination.k8s.io", lease, namespace="default")
    assert await store.revision() == rev


async def test_uid_mismatch_on_update_conflicts(reg: Registry) -> None:
    a = await reg.create("configmaps", cm("a"))
    a["metadata"]["uid"] = "other"
    with pytest.raises(errors.Conflict) as ei:
        await reg.update("configmaps", a)
    assert "Precondition failed: UID in precondition: other" in ei.value.message


async def test_cluster_scoped_resources(reg: Registry) -> None:
    node = await reg.create("nodes", {"metadata": {"name": "n1"}, "status": {"capacity": {}}})
    assert "namespace" not in node["metadata"]
    assert (await reg.get("nodes", "n1"))["metadata"]["name"] == "n1"


async def test_pod_create_sets_pending_phase(reg: Registry) -> None:
    p = await reg.create("pods", pod("p"))
    assert p["status"]["phase"] == "Pending"
    assert p["status"]["qosClass"] == "BestEffort"


def test_prune_path() -> None:
    obj = {"spec": {"a.b": {"c": 1, "d": 2}, "ports": [{"x": 1}, {"x": 2, "y": 3}]}}
    prune_path(obj, ".spec.a.b.c")
    prune_path(obj, ".spec.ports[1].y")
    prune_path(obj, ".spec.ports[7].y")  # gone already: no error
    assert obj == {"spec": {"a.b": {"d": 2}, "ports": [{"x": 1}, {"x": 2}]}}
