"""Upstream ``test/e2e/auth/service_accounts.go`` (Kubernetes v1.32): the cases that exercise
ServiceAccounts, their tokens and the per-namespace objects without reading files inside a
pod — automount opt-out, kube-root-ca.crt, the ServiceAccount lifecycle and update,
TokenRequest + TokenReview, OIDC discovery — written anew against kubesvc. Run by pytest;
uses :mod:`.framework`.
"""

from __future__ import annotations

import base64
import copy
import json
import time
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from tests.conformance.framework import AGNHOST, Api, ApiError, core, poll, unique

MOUNT_PATH = "/var/run/secrets/kubernetes.io/serviceaccount"
AUTHN = "/apis/authentication.k8s.io/v1"


def _default_sa(api: Api, ns: str) -> dict[str, Any]:
    """The framework's wait for the namespace's ``default`` ServiceAccount."""
    out: dict[str, Any] = poll(lambda: api.get(core(ns, "serviceaccounts", "default")),
                               what=f"default ServiceAccount in {ns}")
    return out


def _token(api: Api, ns: str, sa: str, spec: dict[str, Any] | None = None) -> str:
    tr = api.create(core(ns, "serviceaccounts", sa, "token"), {
        "apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
        "spec": spec or {}})
    return str(tr["status"]["token"])


def _b64(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def test_no_secret_based_service_account_token_should_be_auto_generated(
        api: Api, ns: str) -> None:
    """[sig-auth] ServiceAccounts no secret-based service account token should be
    auto-generated"""
    _default_sa(api, ns)
    time.sleep(1)  # upstream waits 10 s for a token controller that must not act
    sa = api.get(core(ns, "serviceaccounts", "default"))
    assert not sa.get("secrets")
    assert [s for s in api.list(core(ns, "secrets"))
            if s.get("type") == "kubernetes.io/service-account-token"] == []


def test_should_allow_opting_out_of_api_token_automount(api: Api, ns: str) -> None:
    """[sig-auth] ServiceAccounts should allow opting out of API token automount
    [Conformance]"""
    _default_sa(api, ns)
    api.create(core(ns, "serviceaccounts"), {"apiVersion": "v1", "kind": "ServiceAccount",
                                             "metadata": {"name": "mount"},
                                             "automountServiceAccountToken": True})
    api.create(core(ns, "serviceaccounts"), {"apiVersion": "v1", "kind": "ServiceAccount",
                                             "metadata": {"name": "nomount"},
                                             "automountServiceAccountToken": False})
    cases = [
        ("pod-service-account-defaultsa", "default", None, True),
        ("pod-service-account-mountsa", "mount", None, True),
        ("pod-service-account-nomountsa", "nomount", None, False),
        ("pod-service-account-defaultsa-mountspec", "default", True, True),
        ("pod-service-account-mountsa-mountspec", "mount", True, True),
        ("pod-service-account-nomountsa-mountspec", "nomount", True, True),
        ("pod-service-account-defaultsa-nomountspec", "default", False, False),
        ("pod-service-account-mountsa-nomountspec", "mount", False, False),
        ("pod-service-account-nomountsa-nomountspec", "nomount", False, False),
    ]
    for pod_name, sa, automount, expect in cases:
        spec: dict[str, Any] = {
            "containers": [{"name": "token-test", "image": AGNHOST, "args": ["pause"]}],
            "restartPolicy": "Never", "serviceAccountName": sa}
        if automount is not None:
            spec["automountServiceAccountToken"] = automount
        created = api.create(core(ns, "pods"), {"apiVersion": "v1", "kind": "Pod",
                                                "metadata": {"name": pod_name},
                                                "spec": spec})
        has = any(vm.get("mountPath") == MOUNT_PATH
                  for c in created["spec"]["containers"] for vm in c.get("volumeMounts") or [])
        assert has == expect, f"{pod_name}: expected volume={expect}, got {has}"


def test_should_guarantee_kube_root_ca_crt_exist_in_any_namespace(api: Api, ns: str) -> None:
    """[sig-auth] ServiceAccounts should guarantee kube-root-ca.crt exist in any namespace
    [Conformance]"""
    path = core(ns, "configmaps", "kube-root-ca.crt")
    poll(lambda: api.get(path), interval=0.5, what="root ca configmap")
    api.delete(path, gracePeriodSeconds=0)
    poll(lambda: api.get(path), interval=0.5, what="a new root ca configmap")
    api.update(path, {"apiVersion": "v1", "kind": "ConfigMap",
                      "metadata": {"name": "kube-root-ca.crt"}, "data": {"ca.crt": ""}})
    poll(lambda: api.get(path)["data"].get("ca.crt"), interval=0.5,
         what="the root ca configmap reconciled")


def test_should_run_through_the_lifecycle_of_a_serviceaccount(api: Api, ns: str) -> None:
    """[sig-auth] ServiceAccounts should run through the lifecycle of a ServiceAccount
    [Conformance]"""
    name, selector = "testserviceaccount", "test-serviceaccount-static=true"
    created = api.create(core(ns, "serviceaccounts"), {
        "apiVersion": "v1", "kind": "ServiceAccount",
        "metadata": {"name": name, "labels": {"test-serviceaccount-static": "true"}}})
    got = api.get(core(ns, "serviceaccounts", name))
    assert got["metadata"]["uid"] == created["metadata"]["uid"]
    events = api.watch(core(ns, "serviceaccounts"), resource_version="0",
                       label_selector=selector, timeout=30)

    def next_of(kind: str) -> dict[str, Any]:
        for ev in events:
            if ev["type"] == kind:
                return ev
        raise AssertionError(f"failed to find {kind} event")

    next_of("ADDED")
    api.patch(core(ns, "serviceaccounts", name), {"automountServiceAccountToken": False},
              kind="strategic")
    next_of("MODIFIED")
    found = [sa for sa in api.list("/api/v1/serviceaccounts", labelSelector=selector)
             if sa["metadata"]["name"] == name and sa["metadata"]["namespace"] == ns
             and sa.get("automountServiceAccountToken") is False]
    assert found, "failed to find the created ServiceAccount"
    api.delete(core(ns, "serviceaccounts"))  # DeleteCollection
    next_of("DELETED")


def test_should_update_a_serviceaccount(api: Api, ns: str) -> None:
    """[sig-auth] ServiceAccounts should update a ServiceAccount [Conformance]"""
    name = unique("e2e-sa")
    created = api.create(core(ns, "serviceaccounts"), {
        "apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name},
        "automountServiceAccountToken": False})
    assert created["automountServiceAccountToken"] is False
    for _ in range(5):  # retry.RetryOnConflict
        sa = api.get(core(ns, "serviceaccounts", name))
        sa["automountServiceAccountToken"] = True
        try:
            updated = api.update(core(ns, "serviceaccounts", name), sa)
            break
        except ApiError as exc:
            if exc.reason != "Conflict":
                raise
    assert updated["automountServiceAccountToken"] is True


def test_should_create_a_serviceaccounttoken_and_ensure_a_successful_tokenreview(
        api: Api, ns: str) -> None:
    """[sig-auth] ServiceAccounts should create a serviceAccountToken and ensure a
    successful TokenReview [Conformance]"""
    name = unique("e2e-sa")
    api.create(core(ns, "serviceaccounts"), {"apiVersion": "v1", "kind": "ServiceAccount",
                                             "metadata": {"name": name}})
    token = _token(api, ns, name)
    assert token, "confirm that a Token has been created"
    review = api.create(AUTHN + "/tokenreviews", {
        "apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview",
        "spec": {"token": token}})
    assert review["status"]["authenticated"] is True
    assert not review["status"].get("error")


def _rsa_key(jwk: dict[str, str]) -> rsa.RSAPublicKey:
    n = int.from_bytes(_b64(jwk["n"]), "big")
    e = int.from_bytes(_b64(jwk["e"]), "big")
    return rsa.RSAPublicNumbers(e, n).public_key()


def test_should_support_oidc_discovery_of_service_account_issuer(api: Api, ns: str) -> None:
    """[sig-auth] ServiceAccounts ServiceAccountIssuerDiscovery should support OIDC
    discovery of service account issuer [Conformance]

    Upstream's agnhost ``test-service-account-issuer-discovery`` runs in a pod: with its
    in-cluster credentials it fetches the discovery document and the JWKS, then verifies a
    projected token of audience ``oidc-discovery-test`` as go-oidc does. Here the test
    process does the same with a TokenRequest for the same ServiceAccount (``default``)
    and audience, and with that ServiceAccount's own API token as the in-cluster
    credential."""
    _default_sa(api, ns)
    crb = f"{ns}-system:service-account-issuer-discovery"
    api.create("/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", {
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
        "metadata": {"name": crb},
        "subjects": [{"kind": "ServiceAccount", "apiGroup": "", "name": "default",
                      "namespace": ns}],
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                    "name": "system:service-account-issuer-discovery"}})
    try:
        audience = "oidc-discovery-test"
        token = _token(api, ns, "default", {"audiences": [audience],
                                            "expirationSeconds": 600})
        in_cluster = copy.copy(api)
        in_cluster.token = _token(api, ns, "default")
        head_b64, claims_b64, sig_b64 = token.split(".")
        claims = json.loads(_b64(claims_b64))
        cfg = in_cluster.get("/.well-known/openid-configuration")
        assert cfg["issuer"] == claims["iss"], "the token's issuer is the discovered one"
        assert "RS256" in cfg["id_token_signing_alg_values_supported"]
        assert cfg["jwks_uri"].endswith("/openid/v1/jwks")
        keys = in_cluster.get("/openid/v1/jwks")["keys"]
        head = json.loads(_b64(head_b64))
        (jwk,) = [k for k in keys if k["kid"] == head["kid"]]
        _rsa_key(jwk).verify(_b64(sig_b64), f"{head_b64}.{claims_b64}".encode(),
                             padding.PKCS1v15(), hashes.SHA256())
        assert audience in claims["aud"]
        assert claims["exp"] > time.time()
        assert claims["sub"] == f"system:serviceaccount:{ns}:default"
    finally:
        api.delete(f"/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/{crb}")
