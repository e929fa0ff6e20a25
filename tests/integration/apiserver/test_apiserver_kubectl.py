"""The real kubectl (v1.32) against an in-process API server: apply/re-apply/edit, get in
every output form, watch, describe, label/annotate/patch, namespaces, delete."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from tests.integration.apiserver.harness import KUBECTL, Kubectl, ServerThread

CLUSTER_IP = """\
apiVersion: v1
kind: Service
metadata:
  name: my-app-service
spec:
  type: ClusterIP
  selector:
    app: my-app
  ports:
  - port: 80
    targetPort: 8080
"""

NODE_PORT = """\
apiVersion: v1
kind: Service
metadata:
  name: my-nodeport
spec:
  type: NodePort
  selector:
    app: my-app
  ports:
  - port: 80
    targetPort: 8080
    nodePort: 30080
"""

MULTI_PORT = """\
apiVersion: v1
kind: Service
metadata:
  name: multi
spec:
  selector:
    app: my-app
  ports:
  - name: http
    port: 80
    targetPort: 8080
  - name: https
    port: 443
    targetPort: 8443
"""


def _svc(kubectl: Kubectl, name: str, ns: str = "default") -> dict[str, object]:
    out = kubectl("get", "svc", name, "-n", ns, "-o", "json").stdout
    obj: dict[str, object] = json.loads(out)
    return obj


def test_apply_creates_then_unchanged_then_configured(kubectl: Kubectl, tmp_path: Path) -> None:
    f = tmp_path / "svc.yaml"
    f.write_text(CLUSTER_IP)
    assert kubectl("apply", "-f", str(f)).stdout.strip() == "service/my-app-service created"
    assert kubectl("apply", "-f", str(f)).stdout.strip() == "service/my-app-service unchanged"
    svc = _svc(kubectl, "my-app-service")
    rv = svc["metadata"]["resourceVersion"]  # type: ignore[index]
    assert svc["spec"]["clusterIP"]  # type: ignore[index]
    # Edit: add a port; strategic merge keeps the existing one (merged by port).
    doc = yaml.safe_load(CLUSTER_IP)
    doc["spec"]["ports"].append({"name": "https", "port": 443, "targetPort": 8443})
    doc["spec"]["ports"][0]["name"] = "http"
    f.write_text(yaml.safe_dump(doc))
    assert kubectl("apply", "-f", str(f)).stdout.strip() == "service/my-app-service configured"
    svc = _svc(kubectl, "my-app-service")
    ports = {p["port"]: p for p in svc["spec"]["ports"]}  # type: ignore[index]
    assert set(ports) == {80, 443}
    assert ports[443]["targetPort"] == 8443
    assert svc["metadata"]["resourceVersion"] != rv  # type: ignore[index]


def test_apply_nodeport_and_multiport(kubectl: Kubectl, tmp_path: Path) -> None:
    f = tmp_path / "svcs.yaml"
    f.write_text(NODE_PORT + "---\n" + MULTI_PORT)
    out = kubectl("apply", "-f", str(f)).stdout
    assert "service/my-nodeport created" in out and "service/multi created" in out
    np = _svc(kubectl, "my-nodeport")
    assert np["spec"]["ports"][0]["nodePort"] == 30080  # type: ignore[index]
    table = kubectl("get", "svc", "my-nodeport").stdout.splitlines()
    assert table[0].split() == ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"]
    assert table[1].split()[1] == "NodePort"
    assert "80:30080/TCP" in table[1]


def test_get_output_forms(kubectl: Kubectl) -> None:
    kubectl("apply", "-f", "-", input=CLUSTER_IP)
    lines = kubectl("get", "svc").stdout.splitlines()
    assert lines[0].split() == ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"]
    names = [ln.split()[0] for ln in lines[1:]]
    assert "my-app-service" in names and "kubernetes" in names
    wide = kubectl("get", "svc", "my-app-service", "-o", "wide").stdout.splitlines()
    assert wide[0].split()[-1] == "SELECTOR"
    assert wide[1].split()[-1] == "app=my-app"
    doc = yaml.safe_load(kubectl("get", "svc", "my-app-service", "-o", "yaml").stdout)
    assert doc["kind"] == "Service" and doc["metadata"]["name"] == "my-app-service"
    jp = kubectl("get", "svc", "my-app-service", "-o", "jsonpath={.spec.selector.app}").stdout
    assert jp == "my-app"
    names_out = kubectl("get", "svc", "-o", "name").stdout.split()
    assert "service/my-app-service" in names_out


def test_get_all_and_all_namespaces(kubectl: Kubectl) -> None:
    kubectl("apply", "-f", "-", input=CLUSTER_IP)
    out = kubectl("get", "all").stdout
    assert "service/my-app-service" in out
    assert kubectl("create", "namespace", "team-a").stdout.strip() == "namespace/team-a created"
    kubectl("apply", "-n", "team-a", "-f", "-", input=CLUSTER_IP)
    rows = [ln.split() for ln in kubectl("get", "svc", "-A").stdout.splitlines()]
    assert rows[0][:2] == ["NAMESPACE", "NAME"]
    pairs = {(r[0], r[1]) for r in rows[1:]}
    assert {("default", "my-app-service"), ("team-a", "my-app-service"),
            ("default", "kubernetes")} <= pairs
    ns = kubectl("get", "ns").stdout
    for name in ("default", "kube-system", "kube-public", "kube-node-lease", "team-a"):
        assert name in ns


def test_label_annotate_and_three_patch_types(kubectl: Kubectl) -> None:
    kubectl("apply", "-f", "-", input=CLUSTER_IP)
    assert "labeled" in kubectl("label", "svc", "my-app-service", "tier=web").stdout
    assert "annotated" in kubectl("annotate", "svc", "my-app-service", "owner=me").stdout
    kubectl("patch", "svc", "my-app-service", "--type", "merge",
            "-p", '{"metadata":{"labels":{"merged":"yes"}}}')
    kubectl("patch", "svc", "my-app-service", "--type", "json",
            "-p", '[{"op":"add","path":"/metadata/labels/jsonpatched","value":"yes"}]')
    kubectl("patch", "svc", "my-app-service", "--type", "strategic",
            "-p", '{"spec":{"ports":[{"port":80,"targetPort":9090}]}}')
    svc = _svc(kubectl, "my-app-service")
    labels = svc["metadata"]["labels"]  # type: ignore[index]
    assert labels["tier"] == "web" and labels["merged"] == "yes"
    assert labels["jsonpatched"] == "yes"
    assert svc["metadata"]["annotations"]["owner"] == "me"  # type: ignore[index]
    by_port = {p["port"]: p for p in svc["spec"]["ports"]}  # type: ignore[index]
    assert by_port[80]["targetPort"] == 9090
    sel = kubectl("get", "svc", "-l", "tier=web", "-o", "name").stdout.split()
    assert sel == ["service/my-app-service"]
    kubectl("label", "svc", "my-app-service", "tier-")
    assert "tier" not in _svc(kubectl, "my-app-service")["metadata"]["labels"]  # type: ignore[index]


def test_describe_lists_endpoints_and_events(kubectl: Kubectl) -> None:
    kubectl("apply", "-f", "-", input=CLUSTER_IP)
    out = kubectl("describe", "svc", "my-app-service").stdout
    fields: dict[str, str] = {}
    for line in out.splitlines():
        key, sep, value = line.partition(":")
        if sep and not line.startswith(" "):
            fields.setdefault(key, value.strip())
    assert fields["Name"] == "my-app-service"
    assert fields["Namespace"] == "default"
    assert fields["Selector"] == "app=my-app"
    assert fields["Type"] == "ClusterIP"
    assert fields["IP"] and fields["IP"] != "<none>"
    assert fields["Endpoints"] in ("<none>", "")
    assert fields["Events"] == "<none>"


def test_get_watch_sees_update(kubectl: Kubectl) -> None:
    kubectl("apply", "-f", "-", input=CLUSTER_IP)
    with subprocess.Popen(
        [KUBECTL, "get", "svc", "my-app-service", "-w", "--request-timeout=10s"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=kubectl.env,
    ) as proc:
        assert proc.stdout is not None
        header = proc.stdout.readline()
        assert header.split()[0] == "NAME"
        first = proc.stdout.readline()
        assert first.split()[0] == "my-app-service"
        kubectl("patch", "svc", "my-app-service", "--type", "merge",
                "-p", '{"spec":{"type":"NodePort"}}')
        deadline = time.monotonic() + 10
        seen = ""
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if "NodePort" in line:
                seen = line
                break
        proc.kill()
        assert seen.split()[0] == "my-app-service"


def test_delete(kubectl: Kubectl) -> None:
    kubectl("apply", "-f", "-", input=MULTI_PORT)
    assert kubectl("delete", "svc", "multi").stdout.strip() == 'service "multi" deleted'
    err = kubectl("get", "svc", "multi", check=False)
    assert err.returncode != 0
    assert 'services "multi" not found' in err.stderr


def test_create_typed_protobuf_bodies(kubectl: Kubectl) -> None:
    # kubectl's typed clients send protobuf bodies.
    out = kubectl("create", "service", "clusterip", "web", "--tcp=80:8080").stdout
    assert out.strip() == "service/web created"
    web = _svc(kubectl, "web")
    assert web["spec"]["ports"][0]["targetPort"] == 8080  # type: ignore[index]
    assert web["spec"]["selector"] == {"app": "web"}  # type: ignore[index]
    kubectl("create", "configmap", "cm1", "--from-literal=k=v")
    cm = json.loads(kubectl("get", "cm", "cm1", "-o", "json").stdout)
    assert cm["data"] == {"k": "v"}
    kubectl("create", "deployment", "d1", "--image=registry.k8s.io/pause", "--replicas=2")
    dep = json.loads(kubectl("get", "deploy", "d1", "-o", "json").stdout)
    assert dep["spec"]["replicas"] == 2
    assert dep["spec"]["template"]["spec"]["containers"][0]["image"] == "registry.k8s.io/pause"


def test_strict_validation_rejects_unknown_field(kubectl: Kubectl) -> None:
    bad = CLUSTER_IP.replace("name: my-app-service", "name: strict-svc").replace(
        "  type: ClusterIP", "  type: ClusterIP\n  foo: bar")
    res = kubectl("apply", "-f", "-", input=bad, check=False)
    assert res.returncode != 0
    assert 'unknown field "spec.foo"' in res.stderr
    assert kubectl("get", "svc", "strict-svc", check=False).returncode != 0
    warn = kubectl("apply", "--validate=warn", "-f", "-", input=bad)
    assert 'unknown field "spec.foo"' in warn.stderr
    assert "service/strict-svc created" in warn.stdout


@pytest.mark.parametrize("args", [["get", "--raw", "/readyz"], ["get", "--raw", "/livez"]])
def test_health_via_kubectl(kubectl: Kubectl, server: ServerThread, args: list[str]) -> None:
    assert kubectl(*args).stdout == "ok"


def test_server_side_apply_dry_run_diff_and_edit(kubectl: Kubectl, tmp_path: Path) -> None:
    doc = CLUSTER_IP.replace("my-app-service", "ssa-svc")
    out = kubectl("apply", "--server-side", "-f", "-", input=doc).stdout
    assert out.strip() == "service/ssa-svc serverside-applied"
    assert _svc(kubectl, "ssa-svc")["spec"]["ports"][0]["port"] == 80  # type: ignore[index]
    f = tmp_path / "csa.yaml"
    f.write_text(CLUSTER_IP.replace("my-app-service", "csa-svc"))
    kubectl("apply", "-f", str(f))
    f.write_text(f.read_text().replace("app: my-app", "app: other"))
    out = kubectl("apply", "--dry-run=server", "-f", str(f)).stdout
    assert out.strip() == "service/csa-svc configured (server dry run)"
    assert _svc(kubectl, "csa-svc")["spec"]["selector"] == {"app": "my-app"}  # type: ignore[index]
    diff = kubectl("diff", "-f", str(f), check=False)
    assert diff.returncode == 1, diff.stderr  # 1: differences found
    assert "-    app: my-app" in diff.stdout and "+    app: other" in diff.stdout
    edit_env = dict(kubectl.env, KUBE_EDITOR="sed -i -e s/app:\\ my-app/app:\\ edited/")
    proc = subprocess.run([KUBECTL, "edit", "svc", "csa-svc"], env=edit_env,
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "service/csa-svc edited"
    assert _svc(kubectl, "csa-svc")["spec"]["selector"] == {"app": "edited"}  # type: ignore[index]


def test_auth_can_i_and_whoami(kubectl: Kubectl) -> None:
    # kubectl sends these reviews as protobuf; every authenticated caller may do anything
    # (upstream's AlwaysAllow), and nothing is stored.
    assert kubectl("auth", "can-i", "create", "pods").stdout.strip() == "yes"
    assert kubectl("auth", "can-i", "delete", "services", "-n", "kube-system",
                   "--subresource=status").stdout.strip() == "yes"
    assert kubectl("auth", "can-i", "get", "/healthz").stdout.strip() == "yes"
    rules = kubectl("auth", "can-i", "--list").stdout.splitlines()
    assert rules[0].split() == ["Resources", "Non-Resource", "URLs", "Resource", "Names",
                                "Verbs"]
    assert rules[1].split() == ["*.*", "[]", "[]", "[*]"]
    me = yaml.safe_load(kubectl("auth", "whoami", "-o", "yaml").stdout)
    assert me["kind"] == "SelfSubjectReview"
    assert me["status"]["userInfo"]["username"] == "kubernetes-admin"
    assert me["status"]["userInfo"]["groups"] == ["system:masters", "system:authenticated"]
    res = kubectl("get", "selfsubjectaccessreviews", check=False)
    assert res.returncode != 0 and "MethodNotAllowed" in res.stderr


def test_access_review_validation_from_a_manifest(kubectl: Kubectl) -> None:
    doc = "apiVersion: authorization.k8s.io/v1\nkind: SelfSubjectAccessReview\nspec: {}\n"
    res = kubectl("create", "-f", "-", input=doc, check=False)
    assert res.returncode != 0
    assert ('SelfSubjectAccessReview "" is invalid: spec.resourceAttributes: Invalid value: '
            "null: exactly one of nonResourceAttributes or resourceAttributes must be "
            "specified") in res.stderr
    ok = doc.replace("spec: {}", "spec: {nonResourceAttributes: {path: /version, verb: get}}")
    out = yaml.safe_load(kubectl("create", "-f", "-", "-o", "yaml", input=ok).stdout)
    assert out["status"] == {"allowed": True}
    assert out["spec"]["nonResourceAttributes"] == {"path": "/version", "verb": "get"}
    typo = doc.replace("spec: {}", "spec: {resourceAtributes: {verb: get}}")
    res = kubectl("create", "-f", "-", input=typo, check=False)
    assert res.returncode != 0 and 'unknown field "spec.resourceAtributes"' in res.stderr
    rules = ("apiVersion: authorization.k8s.io/v1\nkind: SelfSubjectRulesReview\n"
             "spec: {}\n")
    res = kubectl("create", "-f", "-", input=rules, check=False)
    assert res.returncode != 0 and "no namespace on request" in res.stderr
