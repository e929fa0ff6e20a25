"""RBAC end to end with the real kubectl and the official Python client: a token user can
do exactly what its bindings grant and gets upstream's Forbidden otherwise; escalation is
refused without ``escalate``/``bind``; impersonation needs the ``impersonate`` verb;
``kubectl auth can-i`` (and ``--list``) tell the truth; the bootstrap policy and the
ClusterRole aggregation are in place."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from tests.integration.apiserver.harness import Http, Kubectl, ServerThread


@pytest.fixture(scope="module")
def alice(server: ServerThread) -> str:
    return server.server.tokens.issue("alice", groups=("devs",))


def _as(kubectl: Kubectl, token: str, *args: str, check: bool = False) -> Any:
    return kubectl("--token", token, *args, check=check)


def test_unbound_user_gets_upstreams_forbidden(kubectl: Kubectl, alice: str) -> None:
    proc = _as(kubectl, alice, "get", "services")
    assert proc.returncode == 1
    assert ('Error from server (Forbidden): services is forbidden: User "alice" cannot list '
            'resource "services" in API group "" in the namespace "default"') in proc.stderr
    proc = _as(kubectl, alice, "get", "nodes")
    assert ('nodes is forbidden: User "alice" cannot list resource "nodes" in API group "" at '
            'the cluster scope') in proc.stderr
    proc = _as(kubectl, alice, "get", "deployment", "web")
    assert ('deployments.apps "web" is forbidden: User "alice" cannot get resource '
            '"deployments" in API group "apps" in the namespace "default"') in proc.stderr
    # discovery and whoami come from the bootstrap policy (system:authenticated)
    who = _as(kubectl, alice, "auth", "whoami", "-o", "json", check=True)
    assert json.loads(who.stdout)["status"]["userInfo"]["username"] == "alice"


def test_role_grants_exactly_its_rules(kubectl: Kubectl, alice: str) -> None:
    kubectl("create", "role", "pod-reader", "--verb=get,list,watch", "--resource=pods")
    kubectl("create", "rolebinding", "alice-pods", "--role=pod-reader", "--user=alice")
    kubectl("run", "p1", "--image=registry.k8s.io/pause")
    deadline = time.monotonic() + 5
    while _as(kubectl, alice, "get", "pods").returncode != 0:
        assert time.monotonic() < deadline, "binding never took effect"
        time.sleep(0.05)
    assert "p1" in _as(kubectl, alice, "get", "pod", "p1", check=True).stdout
    proc = _as(kubectl, alice, "delete", "pod", "p1")
    assert ('pods "p1" is forbidden: User "alice" cannot delete resource "pods" in API group '
            '"" in the namespace "default"') in proc.stderr
    proc = _as(kubectl, alice, "get", "pods", "-n", "kube-system")
    assert 'in the namespace "kube-system"' in proc.stderr
    proc = _as(kubectl, alice, "logs", "p1")
    assert 'cannot get resource "pods/log"' in proc.stderr
    # a group binding counts too
    kubectl("create", "rolebinding", "devs-svc", "--clusterrole=view", "--group=devs")
    deadline = time.monotonic() + 5
    while _as(kubectl, alice, "get", "services").returncode != 0:
        assert time.monotonic() < deadline
        time.sleep(0.05)


def test_can_i_tells_the_truth(kubectl: Kubectl, alice: str) -> None:
    kubectl("create", "role", "cm-getter", "--verb=get", "--resource=secrets",
            "--resource-name=one")
    kubectl("create", "rolebinding", "alice-cm", "--role=cm-getter", "--user=alice")
    time.sleep(0.3)
    assert _as(kubectl, alice, "auth", "can-i", "get", "secrets/one").stdout.strip() == "yes"
    assert _as(kubectl, alice, "auth", "can-i", "get", "secrets/two").stdout.strip() == "no"
    assert _as(kubectl, alice, "auth", "can-i", "create", "pods").stdout.strip() == "no"
    assert kubectl("auth", "can-i", "create", "pods").stdout.strip() == "yes"
    # an admin asks about someone else
    proc = kubectl("auth", "can-i", "get", "secrets/one", "--as", "alice", check=False)
    assert proc.stdout.strip() == "yes"
    listing = _as(kubectl, alice, "auth", "can-i", "--list", check=True).stdout
    rows = {tuple(line.split()[:1]): line for line in listing.splitlines()[1:]}
    assert any(line.startswith("secrets") and "[one]" in line and "[get]" in line
               for line in rows.values())
    assert not any(line.startswith("*.*") for line in rows.values())


def test_escalation_needs_the_permissions_or_escalate(kubectl: Kubectl,
                                                      server: ServerThread) -> None:
    carol = server.server.tokens.issue("carol")
    kubectl("create", "role", "role-writer", "--verb=create,get,list,update,patch",
            "--resource=roles,rolebindings,pods")
    kubectl("create", "rolebinding", "carol-rw", "--role=role-writer", "--user=carol")
    time.sleep(0.3)
    ok = _as(kubectl, carol, "create", "role", "c-pods", "--verb=get", "--resource=pods")
    assert ok.returncode == 0, ok.stderr
    proc = _as(kubectl, carol, "create", "role", "c-secrets", "--verb=get",
               "--resource=secrets")
    assert proc.returncode == 1
    assert ('roles.rbac.authorization.k8s.io "c-secrets" is forbidden: user "carol" '
            '(groups=["system:authenticated"]) is attempting to grant RBAC permissions not '
            'currently held:\n{APIGroups:[""], Resources:["secrets"], Verbs:["get"]}'
            ) in proc.stderr
    proc = _as(kubectl, carol, "patch", "role", "c-pods", "--type=json", "-p",
               '[{"op":"add","path":"/rules/0/verbs/-","value":"delete"}]')
    assert 'Resources:["pods"], Verbs:["delete"]' in proc.stderr
    # binding a role it does not hold is refused, one it holds is fine
    proc = _as(kubectl, carol, "create", "rolebinding", "c-admin", "--clusterrole=admin",
               "--user=carol")
    assert proc.returncode == 1 and "is attempting to grant RBAC permissions" in proc.stderr
    ok = _as(kubectl, carol, "create", "rolebinding", "c-bind", "--role=c-pods", "--user=dave")
    assert ok.returncode == 0, ok.stderr
    # with escalate and bind it may
    kubectl("create", "role", "escalator", "--verb=escalate,bind", "--resource=roles,clusterroles")
    kubectl("create", "rolebinding", "carol-esc", "--role=escalator", "--user=carol")
    time.sleep(0.3)
    ok = _as(kubectl, carol, "create", "role", "c-secrets", "--verb=get", "--resource=secrets")
    assert ok.returncode == 0, ok.stderr
    ok = _as(kubectl, carol, "create", "rolebinding", "c-admin", "--clusterrole=admin",
             "--user=carol")
    assert ok.returncode == 0, ok.stderr


def test_impersonation_needs_the_verb(kubectl: Kubectl, server: ServerThread) -> None:
    erin = server.server.tokens.issue("erin")
    proc = _as(kubectl, erin, "get", "pods", "--as", "bob")
    assert ('users "bob" is forbidden: User "erin" cannot impersonate resource "users" in '
            'API group "" at the cluster scope') in proc.stderr
    kubectl("create", "clusterrole", "imp-bob", "--verb=impersonate", "--resource=users",
            "--resource-name=bob")
    kubectl("create", "clusterrolebinding", "erin-imp", "--clusterrole=imp-bob", "--user=erin")
    time.sleep(0.3)
    proc = _as(kubectl, erin, "get", "pods", "--as", "bob")
    assert ('pods is forbidden: User "bob" cannot list resource "pods" in API group "" in '
            'the namespace "default"') in proc.stderr
    proc = _as(kubectl, erin, "get", "pods", "--as", "bob", "--as-group", "devs")
    assert ('groups "devs" is forbidden: User "erin" cannot impersonate resource "groups" in '
            'API group "" at the cluster scope') in proc.stderr
    who = kubectl("auth", "whoami", "--as", "zed", "--as-group", "g1", "-o", "json")
    info = json.loads(who.stdout)["status"]["userInfo"]
    assert info["username"] == "zed"
    assert info["groups"] == ["g1", "system:authenticated"]
    who = kubectl("auth", "whoami", "--as", "system:serviceaccount:default:robot", "-o", "json")
    info = json.loads(who.stdout)["status"]["userInfo"]
    assert info["username"] == "system:serviceaccount:default:robot"
    assert info["groups"] == ["system:serviceaccounts", "system:serviceaccounts:default",
                              "system:authenticated"]
    proc = _as(kubectl, erin, "get", "pods", "--as", "system:serviceaccount:default:robot")
    assert ('serviceaccounts "robot" is forbidden: User "erin" cannot impersonate resource '
            '"serviceaccounts" in API group "" in the namespace "default"') in proc.stderr


def test_impersonating_groups_without_a_user_is_an_error(http: Http) -> None:
    code, hdrs, body = http.request("GET", "/api/v1/namespaces/default/pods",
                                    headers={"Impersonate-Group": "devs"})
    assert code == 500
    assert hdrs["content-type"][0].startswith("text/plain")
    assert body.decode() == ('Internal Server Error: "/api/v1/namespaces/default/pods": '
                             "requested [{Group  devs    }] without impersonating a user")


def test_bootstrap_policy_and_aggregation(kubectl: Kubectl) -> None:
    names = kubectl("get", "clusterroles", "-o", "name").stdout.split()
    for n in ("cluster-admin", "admin", "edit", "view", "system:discovery",
              "system:basic-user", "system:public-info-viewer", "system:node-proxier"):
        assert f"clusterrole.rbac.authorization.k8s.io/{n}" in names
    view = json.loads(kubectl("get", "clusterrole", "view", "-o", "json").stdout)
    assert view["metadata"]["annotations"]["rbac.authorization.kubernetes.io/autoupdate"] == "true"
    assert {"apiGroups": [""], "resources": ["namespaces"], "verbs": ["get", "list", "watch"]
            } in view["rules"]
    kubectl("apply", "-f", "-", input="""\
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: foo-viewer
  labels:
    rbac.authorization.k8s.io/aggregate-to-view: "true"
rules:
- apiGroups: ["example.com"]
  resources: ["foos"]
  verbs: ["get"]
""")
    want = {"apiGroups": ["example.com"], "resources": ["foos"], "verbs": ["get"]}
    deadline = time.monotonic() + 5
    for role in ("view", "edit", "admin"):
        while want not in json.loads(kubectl("get", "clusterrole", role, "-o",
                                             "json").stdout)["rules"]:
            assert time.monotonic() < deadline, f"{role} never aggregated foos"
            time.sleep(0.05)
    crb = kubectl("get", "clusterrolebinding", "system:public-info-viewer", "-o", "wide").stdout
    assert "system:authenticated, system:unauthenticated" in crb


@pytest.fixture(scope="module")
def alice_api(server: ServerThread, alice: str) -> Iterator[client.ApiClient]:
    cfg = client.Configuration()
    cfg.host = server.server.url
    ca = Path(server.data_dir) / "alice-ca.crt"
    ca.write_bytes(server.server.ca_pem)
    cfg.ssl_ca_cert = str(ca)
    cfg.api_key = {"authorization": f"Bearer {alice}"}
    api = client.ApiClient(cfg)
    try:
        yield api
    finally:
        api.close()


def test_python_client_forbidden_and_subject_access_review(
        kubectl: Kubectl, alice_api: client.ApiClient, kubeconfig: Path) -> None:
    core = client.CoreV1Api(alice_api)
    with pytest.raises(ApiException) as exc:
        core.list_namespaced_secret("default")
    assert exc.value.status == 403
    body = json.loads(exc.value.body)
    assert body["reason"] == "Forbidden"
    assert body["message"] == ('secrets is forbidden: User "alice" cannot list resource '
                               '"secrets" in API group "" in the namespace "default"')
    assert body["details"] == {"kind": "secrets"}
    from kubernetes import config

    admin = config.new_client_from_config(config_file=str(kubeconfig))  # type: ignore[no-untyped-call]
    try:
        authz = client.AuthorizationV1Api(admin)
        sar = authz.create_subject_access_review(client.V1SubjectAccessReview(
            spec=client.V1SubjectAccessReviewSpec(
                user="alice", resource_attributes=client.V1ResourceAttributes(
                    verb="list", resource="pods", namespace="default"))))
        assert sar.status.allowed is True
        assert sar.status.reason == ('RBAC: allowed by RoleBinding "alice-pods/default" of Role '
                                     '"pod-reader" to User "alice"')
        lsar = authz.create_namespaced_local_subject_access_review(
            "kube-system", client.V1LocalSubjectAccessReview(
                metadata=client.V1ObjectMeta(namespace="kube-system"),
                spec=client.V1SubjectAccessReviewSpec(
                    user="alice", resource_attributes=client.V1ResourceAttributes(
                        verb="list", resource="pods", namespace="kube-system"))))
        assert lsar.status.allowed is False
        with pytest.raises(ApiException) as exc:
            authz.create_subject_access_review(client.V1SubjectAccessReview(
                spec=client.V1SubjectAccessReviewSpec(
                    resource_attributes=client.V1ResourceAttributes(verb="get"))))
        assert exc.value.status == 422
        assert "at least one of user or group must be specified" in exc.value.body
    finally:
        admin.close()


def test_audit_names_the_impersonated_user(tmp_path: Path) -> None:
    from tests.integration.apiserver.test_audit import AuditedServer

    st = AuditedServer(tmp_path, None)
    st.start()
    try:
        http = Http(st.server.url, st.server.ca_pem, st.server.token)
        code, _, _ = http.request("POST", "/api/v1/namespaces/default/configmaps",
                                  {"metadata": {"name": "c"}},
                                  headers={"Impersonate-User": "zed",
                                           "Impersonate-Group": "g1"})
        assert code == 403
        events = [json.loads(line) for line in st.log_path.read_text().splitlines()]
        ev = events[-1]
        assert ev["user"]["username"] == "kubernetes-admin"
        assert ev["impersonatedUser"] == {"username": "zed",
                                          "groups": ["g1", "system:authenticated"]}
        assert ev["responseStatus"]["code"] == 403
    finally:
        st.stop()
