"""ServiceAccount admission for pods (upstream's plugin/pkg/admission/serviceaccount):
serviceAccountName defaulting (and the deprecated field mirrored), a pod refused when its
ServiceAccount is missing, the kube-api-access projected volume and mounts exactly as
upstream adds them, and automountServiceAccountToken honoured (pod first, then SA)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import pytest

from kubesvc import errors
from kubesvc.apiserver.registry.core import Registry
from kubesvc.storage.memory import MemoryStore

MOUNT = "/var/run/secrets/kubernetes.io/serviceaccount"


@pytest.fixture
async def reg() -> AsyncIterator[Registry]:
    r = Registry(MemoryStore(), compact_interval=0, service_account_admission=True)
    await r.start()
    assert r.service_account_admission is not None
    r.service_account_admission.default_attempts = 2  # keep the missing-default case short
    await r.create("serviceaccounts", {"metadata": {"name": "default"}}, namespace="default")
    try:
        yield r
    finally:
        await r.stop()


def pod(name: str, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"containers": [{"name": "c", "image": "registry.k8s.io/pause"}],
                     **spec}}


async def test_default_serviceaccount_and_token_volume(reg: Registry) -> None:
    out = await reg.create("pods", pod("p", initContainers=[
        {"name": "i", "image": "registry.k8s.io/pause"}]), namespace="default")
    spec = out["spec"]
    assert spec["serviceAccountName"] == "default" and spec["serviceAccount"] == "default"
    (vol,) = spec["volumes"]
    assert re.fullmatch(r"kube-api-access-[bcdfghjklmnpqrstvwxz2456789]{5}", vol["name"])
    assert vol["projected"] == {"defaultMode": 420, "sources": [
        {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
        {"configMap": {"name": "kube-root-ca.crt",
                       "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
        {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {
            "apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}}]}
    for c in spec["containers"] + spec["initContainers"]:
        assert c["volumeMounts"] == [{"name": vol["name"], "readOnly": True,
                                      "mountPath": MOUNT}]


async def test_missing_serviceaccount_is_forbidden(reg: Registry) -> None:
    with pytest.raises(errors.Forbidden) as exc:
        await reg.create("pods", pod("p", serviceAccountName="ghost"), namespace="default")
    assert exc.value.message == ('pods "p" is forbidden: error looking up service account '
                                 'default/ghost: serviceaccount "ghost" not found')
    await reg.create("namespaces", {"metadata": {"name": "bare"}})
    with pytest.raises(errors.Forbidden) as exc:
        await reg.create("pods", {**pod(""), "metadata": {"generateName": "web-"}},
                         namespace="bare")
    assert exc.value.message == ("pods is forbidden: error looking up service account "
                                 'bare/default: serviceaccount "default" not found')


async def test_automount_opt_out_and_existing_mounts(reg: Registry) -> None:
    out = await reg.create("pods", pod("a", automountServiceAccountToken=False),
                           namespace="default")
    assert "volumes" not in out["spec"]
    assert "volumeMounts" not in out["spec"]["containers"][0]
    await reg.create("serviceaccounts", {"metadata": {"name": "quiet"},
                                         "automountServiceAccountToken": False,
                                         "imagePullSecrets": [{"name": "regcred"}]},
                     namespace="default")
    out = await reg.create("pods", pod("b", serviceAccount="quiet"), namespace="default")
    assert out["spec"]["serviceAccountName"] == "quiet"
    assert "volumes" not in out["spec"]
    assert out["spec"]["imagePullSecrets"] == [{"name": "regcred"}]
    # the pod's own preference wins over the ServiceAccount's
    out = await reg.create("pods", pod("c", serviceAccountName="quiet",
                                       automountServiceAccountToken=True),
                           namespace="default")
    assert out["spec"]["volumes"][0]["name"].startswith("kube-api-access-")
    # a container that mounts something at the path already keeps it
    mine = [{"name": "mine", "mountPath": MOUNT}]
    p = pod("d", volumes=[{"name": "mine", "emptyDir": {}}])
    p["spec"]["containers"][0]["volumeMounts"] = mine
    out = await reg.create("pods", p, namespace="default")
    assert out["spec"]["containers"][0]["volumeMounts"] == mine
    assert [v["name"] for v in out["spec"]["volumes"]] == ["mine"]


async def test_without_admission_only_the_deprecated_field_is_mirrored() -> None:
    r = Registry(MemoryStore(), compact_interval=0)
    await r.start()
    try:
        out = await r.create("pods", pod("p", serviceAccountName="x"), namespace="default")
        assert out["spec"]["serviceAccount"] == "x" and "volumes" not in out["spec"]
        out = await r.create("pods", pod("q"), namespace="default")
        assert "serviceAccountName" not in out["spec"]
    finally:
        await r.stop()
