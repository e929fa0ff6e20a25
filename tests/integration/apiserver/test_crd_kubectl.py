"""CustomResourceDefinitions with the real kubectl (v1.32) and the official Python client
against an in-process API server: apply a CRD, wait for Established, create/get/list
custom objects, printer columns, explain, status and scale subresources, ``kubectl scale``,
validation errors (schema and CEL), defaulting and pruning, multiple versions, merge and
JSON patches (strategic merge refused), and deleting the CRD removing its objects."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
import yaml

from tests.integration.apiserver.harness import Http, Kubectl, ServerThread

CRD = """\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: crontabs.stable.example.com
spec:
  group: stable.example.com
  scope: Namespaced
  names:
    plural: crontabs
    singular: crontab
    kind: CronTab
    shortNames: [ct]
    categories: [all]
  versions:
  - name: v1
    served: true
    storage: true
    selectableFields:
    - jsonPath: .spec.mode
    subresources:
      status: {}
      scale:
        specReplicasPath: .spec.replicas
        statusReplicasPath: .status.replicas
        labelSelectorPath: .status.labelSelector
    additionalPrinterColumns:
    - name: Spec
      type: string
      jsonPath: .spec.cronSpec
    - name: Replicas
      type: integer
      jsonPath: .spec.replicas
    - name: Age
      type: date
      jsonPath: .metadata.creationTimestamp
    schema:
      openAPIV3Schema:
        type: object
        description: CronTab runs an image on a schedule.
        properties:
          spec:
            type: object
            description: The desired schedule and image.
            x-kubernetes-validations:
            - rule: "self.replicas <= self.maxReplicas"
              message: replicas must not exceed maxReplicas
            - rule: "!has(oldSelf.image) || self.image == oldSelf.image"
              message: image is immutable
            properties:
              cronSpec:
                type: string
                pattern: '^(\\d+|\\*)(/\\d+)?(\\s+(\\d+|\\*)(/\\d+)?){4}$'
                description: The cron schedule.
              image:
                type: string
              replicas:
                type: integer
                minimum: 0
                default: 1
              maxReplicas:
                type: integer
                default: 10
              mode:
                type: string
                enum: [Fast, Slow]
                default: Slow
              extra:
                type: object
                x-kubernetes-preserve-unknown-fields: true
          status:
            type: object
            properties:
              replicas:
                type: integer
              labelSelector:
                type: string
  - name: v1beta1
    served: true
    storage: false
    schema:
      openAPIV3Schema:
        type: object
        x-kubernetes-preserve-unknown-fields: true
"""

CR = """\
apiVersion: stable.example.com/v1
kind: CronTab
metadata:
  name: my-cron
spec:
  cronSpec: "* * * * */5"
  image: my-awesome-cron-image
  bogus: dropped
"""


@pytest.fixture(scope="module")
def crd(kubectl: Kubectl) -> str:
    kubectl("apply", "-f", "-", input=CRD)
    kubectl("wait", "--for=condition=Established", "crd/crontabs.stable.example.com",
            "--timeout=10s")
    return "crontabs.stable.example.com"


def _get(kubectl: Kubectl, *args: str) -> Any:
    return json.loads(kubectl("get", *args, "-o", "json").stdout)


def test_crd_status_and_table(kubectl: Kubectl, crd: str) -> None:
    obj = _get(kubectl, "crd", crd)
    conds = {c["type"]: c["status"] for c in obj["status"]["conditions"]}
    assert conds["NamesAccepted"] == "True" and conds["Established"] == "True"
    assert obj["status"]["acceptedNames"]["kind"] == "CronTab"
    assert obj["status"]["storedVersions"] == ["v1"]
    out = kubectl("get", "crd", crd).stdout.splitlines()
    assert out[0].split() == ["NAME", "CREATED", "AT"]
    assert out[1].startswith(crd)
    res = kubectl("api-resources", "--api-group=stable.example.com").stdout
    assert "crontabs" in res and "ct" in res and "CronTab" in res


def test_create_get_list_with_columns_defaults_and_pruning(kubectl: Kubectl, crd: str) -> None:
    r = kubectl("apply", "--validate=warn", "-f", "-", input=CR)
    assert "crontab.stable.example.com/my-cron created" in r.stdout
    assert 'unknown field "spec.bogus"' in r.stderr
    obj = _get(kubectl, "crontab", "my-cron")
    assert obj["spec"]["replicas"] == 1 and obj["spec"]["mode"] == "Slow"
    assert "bogus" not in obj["spec"]
    assert obj["metadata"]["generation"] == 1
    lines = kubectl("get", "crontabs").stdout.splitlines()
    assert lines[0].split() == ["NAME", "SPEC", "REPLICAS", "AGE"]
    assert lines[1].split()[:2] == ["my-cron", "*"] and lines[1].split()[6] == "1"
    assert "crontab.stable.example.com/my-cron" in kubectl("get", "ct", "-o", "name").stdout
    assert "my-cron" in kubectl("get", "all").stdout
    # field and label selectors
    kubectl("label", "crontab", "my-cron", "tier=web")
    assert "my-cron" in kubectl("get", "ct", "-l", "tier=web").stdout
    assert "No resources" in kubectl("get", "ct", "-l", "tier=db").stderr
    assert "my-cron" in kubectl("get", "ct", "--field-selector",
                                "metadata.name=my-cron").stdout
    # selectableFields
    assert "my-cron" in kubectl("get", "ct", "--field-selector", "spec.mode=Slow").stdout
    assert "No resources" in kubectl("get", "ct", "--field-selector",
                                     "spec.mode=Fast").stderr
    r = kubectl("get", "ct", "--field-selector", "spec.image=x", check=False)
    assert "field label not supported: spec.image" in r.stderr


def test_validation_errors(kubectl: Kubectl, crd: str) -> None:
    bad = CR.replace("my-cron", "bad-cron").replace('"* * * * */5"', "nope") + \
        "  replicas: -1\n  mode: Medium\n"
    r = kubectl("apply", "--validate=false", "-f", "-", input=bad, check=False)
    assert r.returncode != 0
    assert 'The CronTab "bad-cron" is invalid' in r.stderr
    assert "spec.replicas: Invalid value: -1: spec.replicas in body should be greater " \
        "than or equal to 0" in r.stderr
    assert 'spec.mode: Unsupported value: "Medium": supported values: "Fast", "Slow"' \
        in r.stderr
    assert "spec.cronSpec: Invalid value: \"nope\": spec.cronSpec in body should match" \
        in r.stderr
    wrong_type = CR.replace("my-cron", "bad2") + "  replicas: lots\n"
    r = kubectl("apply", "--validate=false", "-f", "-", input=wrong_type, check=False)
    assert ('spec.replicas: Invalid value: "string": spec.replicas in body must be of type '
            'integer: "string"') in r.stderr
    cel_bad = CR.replace("my-cron", "bad3") + "  replicas: 20\n"
    r = kubectl("apply", "--validate=false", "-f", "-", input=cel_bad, check=False)
    assert 'spec: Invalid value: "object": replicas must not exceed maxReplicas' in r.stderr
    # a transition rule: the image may not change
    r = kubectl("patch", "crontab", "my-cron", "--type=merge", "-p",
                '{"spec":{"image":"other"}}', check=False)
    assert "image is immutable" in r.stderr
    # Strict field validation (kubectl's default) makes the unknown field an error
    r = kubectl("create", "-f", "-",
                input=CR.replace("my-cron", "strict"), check=False)
    assert 'strict decoding error: unknown field "spec.bogus"' in r.stderr


def test_patch_types(kubectl: Kubectl, crd: str) -> None:
    kubectl("patch", "crontab", "my-cron", "--type=merge", "-p",
            '{"spec":{"cronSpec":"*/5 * * * *"}}')
    kubectl("patch", "crontab", "my-cron", "--type=json", "-p",
            '[{"op":"replace","path":"/spec/maxReplicas","value":7}]')
    obj = _get(kubectl, "crontab", "my-cron")
    assert obj["spec"]["cronSpec"] == "*/5 * * * *" and obj["spec"]["maxReplicas"] == 7
    assert obj["metadata"]["generation"] == 3
    r = kubectl("patch", "crontab", "my-cron", "--type=strategic", "-p",
                '{"spec":{"replicas":2}}', check=False)
    assert r.returncode != 0
    assert "the body of the request was in an unknown format - accepted media types " \
        "include: application/json-patch+json, application/merge-patch+json, " \
        "application/apply-patch+yaml" in r.stderr


def test_status_and_scale_subresources(kubectl: Kubectl, http: Http, crd: str) -> None:
    base = "/apis/stable.example.com/v1/namespaces/default/crontabs/my-cron"
    code, obj = http.json("GET", base)
    gen = obj["metadata"]["generation"]
    # the main resource ignores status; /status ignores spec
    obj["status"] = {"replicas": 5}
    code, out = http.json("PUT", base, obj)
    assert code == 200 and "status" not in out
    out["status"] = {"replicas": 2, "labelSelector": "app=cron"}
    out["spec"]["image"] = "ignored-on-status"
    code, st = http.json("PUT", base + "/status", out)
    assert code == 200, st
    assert st["status"]["replicas"] == 2 and st["spec"]["image"] == "my-awesome-cron-image"
    assert st["metadata"]["generation"] == gen
    code, scale = http.json("GET", base + "/scale")
    assert code == 200
    assert scale["kind"] == "Scale" and scale["spec"]["replicas"] == 1
    assert scale["status"] == {"replicas": 2, "selector": "app=cron"}
    kubectl("scale", "crontab", "my-cron", "--replicas=3")
    assert _get(kubectl, "crontab", "my-cron")["spec"]["replicas"] == 3


def test_other_version_served_with_apiversion_rewritten(http: Http, crd: str) -> None:
    code, obj = http.json("GET", "/apis/stable.example.com/v1beta1/namespaces/default/"
                          "crontabs/my-cron")
    assert code == 200 and obj["apiVersion"] == "stable.example.com/v1beta1"
    code, lst = http.json("GET", "/apis/stable.example.com/v1beta1/crontabs")
    assert lst["apiVersion"] == "stable.example.com/v1beta1"
    assert [i["apiVersion"] for i in lst["items"]] == ["stable.example.com/v1beta1"]
    code, doc = http.json("GET", "/apis/stable.example.com")
    assert doc["preferredVersion"]["version"] == "v1"
    assert [v["version"] for v in doc["versions"]] == ["v1", "v1beta1"]


def test_explain(kubectl: Kubectl, crd: str) -> None:
    out = kubectl("explain", "crontab").stdout
    assert "CronTab runs an image on a schedule." in out
    out = kubectl("explain", "crontab.spec.cronSpec").stdout
    assert "The cron schedule." in out


def test_python_custom_objects_api(server: ServerThread, crd: str) -> None:
    from kubernetes import client as k8s

    cfg = k8s.Configuration()
    cfg.host = server.server.url
    cfg.api_key = {"authorization": f"Bearer {server.server.token}"}
    import tempfile

    with tempfile.NamedTemporaryFile("wb", suffix=".pem", delete=False) as fh:
        fh.write(server.server.ca_pem)
    cfg.ssl_ca_cert = fh.name
    with k8s.ApiClient(cfg) as api:
        co = k8s.CustomObjectsApi(api)
        body = yaml.safe_load(CR.replace("my-cron", "py-cron"))
        made = co.create_namespaced_custom_object("stable.example.com", "v1", "default",
                                                  "crontabs", body)
        assert made["spec"]["replicas"] == 1
        got = co.get_namespaced_custom_object("stable.example.com", "v1", "default",
                                              "crontabs", "py-cron")
        assert got["metadata"]["uid"] == made["metadata"]["uid"]
        names = [i["metadata"]["name"] for i in co.list_cluster_custom_object(
            "stable.example.com", "v1", "crontabs")["items"]]
        assert "py-cron" in names
        co.patch_namespaced_custom_object_status(
            "stable.example.com", "v1", "default", "crontabs", "py-cron",
            {"status": {"replicas": 4}})
        sc = co.get_namespaced_custom_object_scale("stable.example.com", "v1", "default",
                                                   "crontabs", "py-cron")
        assert sc["status"]["replicas"] == 4
        co.delete_namespaced_custom_object("stable.example.com", "v1", "default",
                                           "crontabs", "py-cron")


def test_watch_sees_changes(http: Http, crd: str) -> None:
    _code, lst = http.json("GET", "/apis/stable.example.com/v1/namespaces/default/crontabs")
    rv = lst["metadata"]["resourceVersion"]
    http.json("POST", "/apis/stable.example.com/v1/namespaces/default/crontabs",
              yaml.safe_load(CR.replace("my-cron", "watched")))
    _status, _, raw = http.request(
        "GET", "/apis/stable.example.com/v1/namespaces/default/crontabs"
        f"?watch=1&resourceVersion={rv}&timeoutSeconds=1")
    events = [json.loads(line) for line in raw.splitlines() if line.strip()]
    assert ("ADDED", "watched") in [(e["type"], e["object"]["metadata"]["name"])
                                    for e in events]


def test_rbac_resource_is_the_plural(kubectl: Kubectl, server: ServerThread, crd: str) -> None:
    carol = server.server.tokens.issue("carol", groups=("devs",))
    r = kubectl("--token", carol, "get", "crontabs", check=False)
    assert ('crontabs.stable.example.com is forbidden: User "carol" cannot list resource '
            '"crontabs" in API group "stable.example.com" in the namespace "default"') \
        in r.stderr
    kubectl("create", "role", "cron-reader", "--verb=get,list",
            "--resource=crontabs.stable.example.com")
    kubectl("create", "rolebinding", "carol-cron", "--role=cron-reader", "--user=carol")
    deadline = time.monotonic() + 5
    while kubectl("--token", carol, "get", "crontabs", check=False).returncode != 0:
        assert time.monotonic() < deadline, "binding never took effect"
        time.sleep(0.05)
    r = kubectl("--token", carol, "delete", "crontab", "my-cron", check=False)
    assert ('crontabs.stable.example.com "my-cron" is forbidden: User "carol" cannot delete '
            'resource "crontabs" in API group "stable.example.com" in the namespace '
            '"default"') in r.stderr


def test_storage_version_switch_keeps_objects_readable(http: Http, crd: str) -> None:
    code, cur = http.json("GET", f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{crd}")
    for v in cur["spec"]["versions"]:
        v["storage"] = v["name"] == "v1beta1"
    code, out = http.json("PUT", f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{crd}",
                          cur)
    assert code == 200, out
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        code, out = http.json("GET", f"/apis/apiextensions.k8s.io/v1/"
                              f"customresourcedefinitions/{crd}")
        if out["status"]["storedVersions"] == ["v1", "v1beta1"]:
            break
        time.sleep(0.05)
    assert out["status"]["storedVersions"] == ["v1", "v1beta1"]
    # written under v1 (then the storage version), read in both versions
    for version in ("v1beta1", "v1"):
        code, obj = http.json("GET", f"/apis/stable.example.com/{version}/namespaces/default/"
                              "crontabs/my-cron")
        assert code == 200 and obj["apiVersion"] == f"stable.example.com/{version}"


def test_delete_crd_removes_objects(kubectl: Kubectl, http: Http, crd: str) -> None:
    kubectl("delete", "crd", crd, "--timeout=20s")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        code, _ = http.json("GET", "/apis/stable.example.com/v1/crontabs")
        if code == 404:
            break
        time.sleep(0.05)
    assert code == 404
    r = kubectl("get", "crd", check=False)
    assert crd not in r.stdout
    # re-created, it starts empty
    kubectl("apply", "-f", "-", input=CRD)
    kubectl("wait", "--for=condition=Established", f"crd/{crd}", "--timeout=10s")
    assert "No resources" in kubectl("get", "crontabs", "-A").stderr
    kubectl("delete", "crd", crd)
