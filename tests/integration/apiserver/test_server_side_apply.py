"""Server-side apply and managedFields with the real kubectl (v1.32) and the official
Python client against an in-process API server: re-apply with a field removed, two
managers conflicting (409 with upstream's message, ``--force-conflicts``), the client-side
apply -> server-side apply upgrade, ``--show-managed-fields``, managers from the
User-Agent, subresource entries, resetting managedFields."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.integration.apiserver.harness import Kubectl, ServerThread

DEPLOY = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
  labels: {{app: {name}{extra_label}}}
spec:
  replicas: {replicas}
  selector:
    matchLabels: {{app: {name}}}
  template:
    metadata:
      labels: {{app: {name}}}
    spec:
      containers:
      - name: web
        image: registry.k8s.io/pause:3.9
        ports:
        - containerPort: 80
{env}"""


def deploy(name: str, *, replicas: int = 2, extra_label: str = "", env: str = "") -> str:
    return DEPLOY.format(name=name, replicas=replicas, extra_label=extra_label, env=env)


def get(kubectl: Kubectl, *args: str) -> dict[str, Any]:
    out: dict[str, Any] = json.loads(kubectl("get", *args, "-o", "json",
                                             "--show-managed-fields").stdout)
    return out


def entries(obj: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(e["manager"], e["operation"]): e for e in obj["metadata"]["managedFields"]}


def test_apply_twice_with_a_field_removed(kubectl: Kubectl) -> None:
    env = "        env:\n        - {name: A, value: '1'}\n        - {name: B, value: '2'}\n"
    out = kubectl("apply", "--server-side", "-f", "-",
                  input=deploy("ssa1", extra_label=", tier: web", env=env)).stdout
    assert out.strip() == "deployment.apps/ssa1 serverside-applied"
    d = get(kubectl, "deploy", "ssa1")
    assert d["metadata"]["labels"] == {"app": "ssa1", "tier": "web"}
    e = entries(d)[("kubectl", "Apply")]
    assert e["apiVersion"] == "apps/v1" and e["fieldsType"] == "FieldsV1" and e["time"]
    f = e["fieldsV1"]
    assert f["f:metadata"]["f:labels"] == {"f:app": {}, "f:tier": {}}
    assert f["f:spec"]["f:replicas"] == {}
    assert f["f:spec"]["f:selector"] == {}  # LabelSelector is atomic upstream
    c = f["f:spec"]["f:template"]["f:spec"]["f:containers"]['k:{"name":"web"}']
    assert c["."] == {} and c["f:image"] == {} and c["f:name"] == {}
    assert c["f:ports"] == {'k:{"containerPort":80,"protocol":"TCP"}': {
        ".": {}, "f:containerPort": {}}}
    assert set(c["f:env"]) == {'k:{"name":"A"}', 'k:{"name":"B"}'}
    # Only what was applied is owned: defaults (imagePullPolicy...) are nobody's.
    assert "f:imagePullPolicy" not in c
    # Re-apply without the tier label, env B and replicas: they go away (nobody else
    # owns them); replicas goes back to its default.
    env_a = "        env:\n        - {name: A, value: '1'}\n"
    doc = deploy("ssa1", env=env_a).replace("  replicas: 2\n", "")
    kubectl("apply", "--server-side", "-f", "-", input=doc)
    d = get(kubectl, "deploy", "ssa1")
    assert d["metadata"]["labels"] == {"app": "ssa1"}
    assert d["spec"]["template"]["spec"]["containers"][0]["env"] == [{"name": "A",
                                                                      "value": "1"}]
    assert d["spec"]["replicas"] == 1
    f = entries(d)[("kubectl", "Apply")]["fieldsV1"]
    assert "f:replicas" not in f["f:spec"]
    assert "f:tier" not in f["f:metadata"]["f:labels"]


def test_conflict_between_managers_and_force(kubectl: Kubectl) -> None:
    kubectl("create", "-f", "-", input=deploy("ssa2"))
    d = get(kubectl, "deploy", "ssa2")
    e = entries(d)[("kubectl-create", "Update")]
    assert e["apiVersion"] == "apps/v1"
    assert e["fieldsV1"]["f:spec"]["f:replicas"] == {}
    # Defaulted fields belong to the creator, as upstream (compared with a zero object).
    c = e["fieldsV1"]["f:spec"]["f:template"]["f:spec"]["f:containers"]['k:{"name":"web"}']
    assert "f:imagePullPolicy" in c and "f:terminationMessagePath" in c
    kubectl("scale", "deploy", "ssa2", "--replicas=3")
    d = get(kubectl, "deploy", "ssa2")
    assert entries(d)[("kubectl", "Update")]["subresource"] == "scale"
    res = kubectl("apply", "--server-side", "--field-manager=other", "-f", "-",
                  input=deploy("ssa2", replicas=5), check=False)
    assert res.returncode != 0
    assert ('Apply failed with 1 conflict: conflict with "kubectl" with subresource "scale" '
            'using apps/v1: .spec.replicas') in res.stderr, res.stderr
    assert "--force-conflicts" in res.stderr  # kubectl's own hint on a 409 from apply
    kubectl("apply", "--server-side", "--field-manager=other", "--force-conflicts", "-f",
            "-", input=deploy("ssa2", replicas=5))
    d = get(kubectl, "deploy", "ssa2")
    assert d["spec"]["replicas"] == 5
    owners = entries(d)
    assert "f:replicas" in owners[("other", "Apply")]["fieldsV1"]["f:spec"]
    # The scale entry lost its only field and is gone; the creator keeps the rest.
    assert ("kubectl", "Update") not in owners
    assert "f:replicas" not in owners[("kubectl-create", "Update")]["fieldsV1"]["f:spec"]
    assert "f:template" in owners[("kubectl-create", "Update")]["fieldsV1"]["f:spec"]


def test_two_conflicts_message(kubectl: Kubectl) -> None:
    kubectl("apply", "--server-side", "--field-manager=a", "-f", "-",
            input=deploy("ssa3", extra_label=", tier: one"))
    res = kubectl("apply", "--server-side", "--field-manager=b", "-f", "-",
                  input=deploy("ssa3", replicas=4, extra_label=", tier: two"), check=False)
    assert res.returncode != 0
    assert ('Apply failed with 2 conflicts: conflicts with "a":\n- .metadata.labels.tier\n'
            '- .spec.replicas') in res.stderr, res.stderr


def test_client_side_apply_then_server_side_upgrade(kubectl: Kubectl, tmp_path: Path) -> None:
    f = tmp_path / "d.yaml"
    f.write_text(deploy("ssa4", extra_label=", tier: web"))
    kubectl("apply", "-f", str(f))
    d = get(kubectl, "deploy", "ssa4")
    assert set(entries(d)) == {("kubectl-client-side-apply", "Update")}
    # kubectl's server-side apply changes replicas, owned by the client-side applier:
    # no conflict, as the last-applied annotation lists it (upstream's lastAppliedManager).
    # kubectl then moves the client-side applier's fields into its own Apply entry (a
    # JSON patch of managedFields) and applies again: the label it dropped goes.
    f.write_text(deploy("ssa4", replicas=3))
    out = kubectl("apply", "--server-side", "-f", str(f)).stdout
    assert out.strip() == "deployment.apps/ssa4 serverside-applied"
    d = get(kubectl, "deploy", "ssa4")
    assert d["spec"]["replicas"] == 3
    assert d["metadata"]["labels"] == {"app": "ssa4"}
    assert d["spec"]["template"]["spec"]["containers"][0]["name"] == "web"
    # (kubectl's upgrade also leaves the annotation to a "kubectl-last-applied" applier)
    assert set(entries(d)) - {("kubectl-last-applied", "Apply")} == {("kubectl", "Apply")}
    last = json.loads(d["metadata"]["annotations"][
        "kubectl.kubernetes.io/last-applied-configuration"])
    assert last["spec"]["replicas"] == 3  # kept in step by the server (lastAppliedUpdater)
    assert "tier" not in last["metadata"]["labels"]


def test_managers_from_user_agent_and_status_subresource(
        kubectl: Kubectl, server: ServerThread) -> None:
    kubectl("create", "configmap", "ssa5", "--from-literal=a=1")
    kubectl("label", "configmap", "ssa5", "x=y")
    kubectl("annotate", "configmap", "ssa5", "n=m")
    cm = get(kubectl, "configmap", "ssa5")
    owners = entries(cm)
    assert owners[("kubectl-create", "Update")]["fieldsV1"] == {"f:data": {".": {}, "f:a": {}}}
    assert owners[("kubectl-label", "Update")]["fieldsV1"] == {
        "f:metadata": {"f:labels": {".": {}, "f:x": {}}}}
    assert owners[("kubectl-annotate", "Update")]["fieldsV1"] == {
        "f:metadata": {"f:annotations": {".": {}, "f:n": {}}}}
    # -o yaml hides them unless asked, as upstream's kubectl does.
    plain = yaml.safe_load(kubectl("get", "configmap", "ssa5", "-o", "yaml").stdout)
    assert "managedFields" not in plain["metadata"]
    shown = yaml.safe_load(kubectl("get", "configmap", "ssa5", "-o", "yaml",
                                   "--show-managed-fields").stdout)
    shown_mf = shown["metadata"]["managedFields"]
    assert {e["manager"] for e in shown_mf} == {"kubectl-create", "kubectl-label",
                                                "kubectl-annotate"}
    # sorted as upstream: by operation, time (seconds), then manager
    keys = [(e["operation"], e["time"], e["manager"]) for e in shown_mf]
    assert keys == sorted(keys)
    # A status write by server-side apply to the subresource.
    kubectl("apply", "--server-side", "-f", "-", input=deploy("ssa6"))
    status = ("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: ssa6}\n"
              "status: {observedGeneration: 1}\n")
    kubectl("apply", "--server-side", "--subresource=status", "--field-manager=st", "-f",
            "-", input=status)
    d = get(kubectl, "deploy", "ssa6")
    st = entries(d)[("st", "Apply")]
    assert st["subresource"] == "status"
    assert st["fieldsV1"] == {"f:status": {"f:observedGeneration": {}}}


def test_reset_managed_fields(kubectl: Kubectl) -> None:
    kubectl("create", "configmap", "ssa7", "--from-literal=a=1")
    # An empty list keeps them (clients unaware of the field must not drop it) ...
    kubectl("patch", "configmap", "ssa7", "--type=merge", "-p",
            '{"metadata":{"managedFields":[]}}')
    assert entries(get(kubectl, "configmap", "ssa7"))
    # ... a list of one empty entry resets them.
    kubectl("patch", "configmap", "ssa7", "--type=json", "-p",
            '[{"op":"replace","path":"/metadata/managedFields","value":[{}]}]')
    assert "managedFields" not in get(kubectl, "configmap", "ssa7")["metadata"]


def test_python_client_apply(kubeconfig: Path) -> None:
    kubernetes = pytest.importorskip("kubernetes")
    api_client = kubernetes.config.new_client_from_config(config_file=str(kubeconfig))
    core = kubernetes.client.CoreV1Api(api_client)
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ssa8"}}

    def apply(data: dict[str, str], manager: str, force: bool = False) -> Any:
        out = core.patch_namespaced_config_map(
            "ssa8", "default", {**body, "data": data}, field_manager=manager, force=force,
            _content_type="application/apply-patch+yaml")
        return api_client.sanitize_for_serialization(out)

    try:
        out = apply({"a": "1", "b": "2"}, "py")  # creates it
        assert out["data"] == {"a": "1", "b": "2"}
        assert [(e["manager"], e["operation"]) for e in out["metadata"]["managedFields"]] == [
            ("py", "Apply")]
        with pytest.raises(kubernetes.client.ApiException) as err:
            apply({"a": "changed"}, "py2")
        assert err.value.status == 409
        status = json.loads(err.value.body)
        assert status["reason"] == "Conflict"
        assert status["message"] == ('Apply failed with 1 conflict: conflict with "py": '
                                     ".data.a")
        assert status["details"]["causes"] == [{"reason": "FieldManagerConflict",
                                                "message": 'conflict with "py"',
                                                "field": ".data.a"}]
        out = apply({"a": "changed"}, "py2", force=True)
        assert out["data"] == {"a": "changed", "b": "2"}
        # py stops applying b (it applies a only): b goes; a stays py2's.
        out = apply({"a": "changed"}, "py")
        assert out["data"] == {"a": "changed"}
        with pytest.raises(kubernetes.client.ApiException) as err:
            core.patch_namespaced_config_map("ssa8", "default", body,
                                             _content_type="application/apply-patch+yaml")
        assert err.value.status == 422
        assert "fieldManager: Required value: is required for apply patch" in err.value.body
    finally:
        api_client.close()


def test_server_side_dry_run_and_diff(kubectl: Kubectl) -> None:
    kubectl("apply", "--server-side", "-f", "-", input=deploy("ssa9"))
    before = get(kubectl, "deploy", "ssa9")
    out = kubectl("apply", "--server-side", "--dry-run=server", "-f", "-",
                  input=deploy("ssa9", replicas=7)).stdout
    assert out.strip() == "deployment.apps/ssa9 serverside-applied (server dry run)"
    after = get(kubectl, "deploy", "ssa9")
    assert after["spec"]["replicas"] == 2
    assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]
    diff = kubectl("diff", "--server-side", "-f", "-", input=deploy("ssa9", replicas=7),
                   check=False)
    assert diff.returncode == 1, diff.stderr
    assert "-  replicas: 2" in diff.stdout and "+  replicas: 7" in diff.stdout
    # a name over 128 bytes is refused as upstream
    res = kubectl("apply", "--server-side", "--field-manager=" + "m" * 129, "-f", "-",
                  input=deploy("ssa9"), check=False)
    assert res.returncode != 0
    assert "fieldManager: Too long: may not be more than 128 bytes" in res.stderr


CRD = """\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.ssa.example.com}
spec:
  group: ssa.example.com
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              size: {type: integer}
              items:
                type: array
                x-kubernetes-list-type: map
                x-kubernetes-list-map-keys: [name]
                items:
                  type: object
                  required: [name]
                  properties:
                    name: {type: string}
                    value: {type: string}
              tags:
                type: array
                items: {type: string}
"""


def test_custom_resource_uses_its_schema(kubectl: Kubectl) -> None:
    import time

    kubectl("apply", "--server-side", "-f", "-", input=CRD)
    widget = ("apiVersion: ssa.example.com/v1\nkind: Widget\nmetadata: {{name: w}}\n"
              "spec:\n  size: 1\n  tags: [{tags}]\n  items:\n{items}")
    one = "  - {name: a, value: '1'}\n"
    deadline = time.monotonic() + 20
    while True:  # until the CRD is established and its resource served
        res = kubectl("apply", "--server-side", "--field-manager=a", "-f", "-",
                      input=widget.format(tags="x", items=one), check=False)
        if res.returncode == 0 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert res.returncode == 0, res.stderr
    # another manager adds an item: list-map items merge by name, an atomic list replaces
    two = "  - {name: b, value: '2'}\n"
    kubectl("apply", "--server-side", "--field-manager=b", "-f", "-",
            input=widget.format(tags="x", items=two).replace("  size: 1\n", ""))
    w = get(kubectl, "widgets", "w")
    assert [i["name"] for i in w["spec"]["items"]] == ["a", "b"]
    f = entries(w)[("b", "Apply")]["fieldsV1"]["f:spec"]
    assert f["f:items"] == {'k:{"name":"b"}': {".": {}, "f:name": {}, "f:value": {}}}
    assert f["f:tags"] == {}  # atomic: owned as one value (shared: the same value)
    res = kubectl("apply", "--server-side", "--field-manager=b", "-f", "-",
                  input=widget.format(tags="y", items=two).replace("  size: 1\n", ""),
                  check=False)
    assert 'conflict with "a": .spec.tags' in res.stderr, res.stderr
