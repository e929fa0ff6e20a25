"""ServiceAccounts against a real ``kubesvc up`` with the real ``kubectl``, ``curl`` and the
official Python client: ``kubectl create sa`` + a Role/RoleBinding, and the token from
``kubectl create token`` can do exactly what the Role grants (upstream's Forbidden
otherwise); ``kubectl auth whoami``; an expired or garbage token is 401; every new
namespace gets its ``default`` ServiceAccount and ``kube-root-ca.crt``; pods get the
kube-api-access volume; OIDC discovery with a ServiceAccount token; a TokenReview
round-trip through the ``kubernetes`` client; anonymous requests are judged by RBAC."""

from __future__ import annotations

import base64
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import MISSING, Cluster, start_cluster

NS = "satest"


@pytest.fixture(scope="module")
def sa_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    if MISSING:
        pytest.skip(MISSING)
    c = start_cluster(tmp_path_factory.mktemp("kubesvc-sa") / "data")
    try:
        c.kubectl("create", "namespace", NS)
        c.kubectl("-n", NS, "create", "sa", "reader")
        c.kubectl("-n", NS, "create", "role", "pod-reader", "--verb=get,list",
                  "--resource=pods")
        c.kubectl("-n", NS, "create", "rolebinding", "reader", "--role=pod-reader",
                  f"--serviceaccount={NS}:reader")
        yield c
    finally:
        c.stop()


def _token(c: Cluster, *args: str) -> str:
    return c.kubectl("-n", NS, "create", "token", "reader", *args).stdout.strip()


def _as(c: Cluster, token: str, *args: str) -> subprocess.CompletedProcess[str]:
    # --token takes the place of the kubeconfig's admin token
    return c.kubectl("--token", token, "-n", NS, *args, check=False)


def _claims(token: str) -> dict[str, Any]:
    part = token.split(".")[1]
    out: dict[str, Any] = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    return out


def test_token_can_do_what_the_role_grants(sa_cluster: Cluster) -> None:
    token = _token(sa_cluster)
    r = _as(sa_cluster, token, "get", "pods")
    assert r.returncode == 0, r.stderr
    assert r.stderr.strip() == f"No resources found in {NS} namespace."
    r = _as(sa_cluster, token, "get", "secrets")
    assert r.returncode == 1
    assert r.stderr.strip() == (
        f'Error from server (Forbidden): secrets is forbidden: User "system:serviceaccount:'
        f'{NS}:reader" cannot list resource "secrets" in API group "" in the namespace '
        f'"{NS}"')
    r = _as(sa_cluster, token, "delete", "pod", "x")
    assert 'cannot delete resource "pods"' in r.stderr
    r = _as(sa_cluster, token, "auth", "can-i", "list", "pods")
    assert r.stdout.strip() == "yes"


def test_whoami_and_token_flags(sa_cluster: Cluster) -> None:
    token = _token(sa_cluster, "--duration=20m", "--audience=https://kubernetes.default.svc"
                   ".cluster.local", "--audience=extra")
    c = _claims(token)
    assert c["exp"] - c["iat"] == 1200
    assert c["aud"] == ["https://kubernetes.default.svc.cluster.local", "extra"]
    r = _as(sa_cluster, token, "auth", "whoami", "-o", "json")
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout)["status"]["userInfo"]
    assert info["username"] == f"system:serviceaccount:{NS}:reader"
    assert info["groups"] == ["system:serviceaccounts", f"system:serviceaccounts:{NS}",
                              "system:authenticated"]
    r = sa_cluster.kubectl("-n", NS, "create", "token", "reader", "--duration=1m",
                           check=False)
    assert r.returncode == 1 and r.stderr.strip() == (
        'error: failed to create token: TokenRequest.authentication.k8s.io "" is invalid: '
        "spec.expirationSeconds: Invalid value: 60: may not specify a duration less than 10 "
        "minutes")


def test_garbage_wrong_audience_and_deleted_sa_are_401(sa_cluster: Cluster) -> None:
    for token in ("garbage", _token(sa_cluster, "--audience=elsewhere")):
        r = _as(sa_cluster, token, "get", "pods")
        assert r.returncode == 1
        assert r.stderr.strip() == "error: You must be logged in to the server (Unauthorized)"
    sa_cluster.kubectl("-n", NS, "create", "sa", "gone")
    token = sa_cluster.kubectl("-n", NS, "create", "token", "gone").stdout.strip()
    assert _as(sa_cluster, token, "auth", "whoami").returncode == 0
    sa_cluster.kubectl("-n", NS, "delete", "sa", "gone")
    r = _as(sa_cluster, token, "auth", "whoami")
    assert "Unauthorized" in r.stderr


def test_expired_token_is_401(sa_cluster: Cluster) -> None:
    """A token whose exp has passed (signed with the cluster's own key, as an old one
    would be): 401 through kubectl."""
    from kubesvc.apiserver.http.satoken import SigningKey

    key = SigningKey.load_or_create(sa_cluster.data_dir / "pki" / "sa.key")
    claims = _claims(_token(sa_cluster))
    claims["exp"] = claims["nbf"] = claims["iat"] = claims["iat"] - 7200
    claims["exp"] += 3600
    token = key.sign(claims)
    r = _as(sa_cluster, token, "get", "pods")
    assert r.returncode == 1
    assert r.stderr.strip() == "error: You must be logged in to the server (Unauthorized)"
    claims["exp"] += 7200  # the same token unexpired is accepted: only exp was wrong
    assert _as(sa_cluster, key.sign(claims), "get", "pods").returncode == 0


def test_new_namespace_gets_default_sa_and_root_ca(sa_cluster: Cluster) -> None:
    c = sa_cluster
    c.kubectl("create", "namespace", "fresh-ns")
    c.wait_for(lambda: c.kubectl("-n", "fresh-ns", "get", "sa", "default",
                                 check=False).returncode == 0, what="default sa")
    c.wait_for(lambda: c.kubectl("-n", "fresh-ns", "get", "cm", "kube-root-ca.crt",
                                 check=False).returncode == 0, what="kube-root-ca.crt")
    cm = c.kubectl_json("-n", "fresh-ns", "get", "cm", "kube-root-ca.crt")
    ca = (c.data_dir / "pki" / "ca.crt").read_text()
    assert cm["data"] == {"ca.crt": ca}
    c.kubectl("-n", "fresh-ns", "delete", "sa", "default")
    c.wait_for(lambda: c.kubectl("-n", "fresh-ns", "get", "sa", "default",
                                 check=False).returncode == 0, what="default sa recreated")


def test_pods_get_the_token_volume(sa_cluster: Cluster) -> None:
    c = sa_cluster
    c.kubectl("-n", NS, "run", "vol", "--image=registry.k8s.io/pause")
    spec = c.kubectl_json("-n", NS, "get", "pod", "vol")["spec"]
    assert spec["serviceAccountName"] == "default" and spec["serviceAccount"] == "default"
    (vol,) = spec["volumes"]
    assert vol["name"].startswith("kube-api-access-")
    assert [next(iter(s)) for s in vol["projected"]["sources"]] == [
        "serviceAccountToken", "configMap", "downwardAPI"]
    assert spec["containers"][0]["volumeMounts"] == [{
        "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount", "name": vol["name"],
        "readOnly": True}]
    r = c.kubectl("-n", NS, "run", "nosa", "--image=registry.k8s.io/pause",
                  "--overrides", '{"spec": {"serviceAccountName": "ghost"}}', check=False)
    assert r.returncode == 1
    assert r.stderr.strip() == (
        'Error from server (Forbidden): pods "nosa" is forbidden: error looking up service '
        f'account {NS}/ghost: serviceaccount "ghost" not found')


def test_oidc_discovery_with_a_serviceaccount_token(sa_cluster: Cluster) -> None:
    c = sa_cluster
    token = _token(c)
    ca = str(c.data_dir / "pki" / "ca.crt")
    url = f"https://127.0.0.1:{c.api_port}"

    def curl(path: str, *auth: str) -> tuple[int, str]:
        r = subprocess.run(["curl", "-sS", "--cacert", ca, *auth, "-w", "\n%{http_code}",
                            url + path], capture_output=True, text=True, timeout=20)
        body, _, code = r.stdout.rpartition("\n")
        return int(code), body

    code, body = curl("/.well-known/openid-configuration", "-H",
                      f"Authorization: Bearer {token}")
    assert code == 200, body
    cfg = json.loads(body)
    assert cfg["issuer"] == "https://kubernetes.default.svc.cluster.local"
    assert cfg["jwks_uri"] == f"{url}/openid/v1/jwks"
    code, body = curl("/openid/v1/jwks", "-H", f"Authorization: Bearer {token}")
    assert code == 200 and json.loads(body)["keys"][0]["alg"] == "RS256"
    # anonymous: health yes, discovery and the rest no (403 as upstream)
    assert curl("/healthz") == (200, "ok")
    code, body = curl("/openid/v1/jwks")
    assert code == 403
    assert json.loads(body)["message"] == (
        'forbidden: User "system:anonymous" cannot get path "/openid/v1/jwks"')


def test_python_client_token_review(sa_cluster: Cluster) -> None:
    kubernetes = pytest.importorskip("kubernetes")
    api_client = kubernetes.config.new_client_from_config(config_file=str(
        Path(sa_cluster.kubeconfig)))
    try:
        authn = kubernetes.client.AuthenticationV1Api(api_client)
        token = _token(sa_cluster)
        review = authn.create_token_review(kubernetes.client.V1TokenReview(
            spec=kubernetes.client.V1TokenReviewSpec(token=token)))
        assert review.status.authenticated is True
        assert review.status.user.username == f"system:serviceaccount:{NS}:reader"
        assert review.status.audiences == ["https://kubernetes.default.svc.cluster.local"]
        review = authn.create_token_review(kubernetes.client.V1TokenReview(
            spec=kubernetes.client.V1TokenReviewSpec(token="garbage")))
        assert review.status.authenticated is False
        core = kubernetes.client.CoreV1Api(api_client)
        tr = core.create_namespaced_service_account_token("reader", NS, {
            "apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
            "spec": {"audiences": ["vault"], "expirationSeconds": 600}})
        assert _claims(tr.status.token)["aud"] == ["vault"]
    finally:
        api_client.close()
