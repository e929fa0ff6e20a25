"""ServiceAccount tokens over HTTPS: TokenRequest (defaults, validation, bound objects),
the token as a credential (RBAC as the ServiceAccount), TokenReview, SelfSubjectReview
extras, OIDC discovery (only for ServiceAccounts, as upstream's bootstrap policy binds
it), and anonymous requests judged by RBAC."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from tests.integration.apiserver.harness import Http, ServerThread

NS = "default"
SA_PATH = f"/api/v1/namespaces/{NS}/serviceaccounts"
REVIEWS = "/apis/authentication.k8s.io/v1/tokenreviews"
ISSUER = "https://kubernetes.default.svc.cluster.local"


def _claims(token: str) -> dict[str, Any]:
    part = token.split(".")[1]
    out: dict[str, Any] = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    return out


def _sa(http: Http, name: str) -> dict[str, Any]:
    code, body = http.json("POST", SA_PATH, {"apiVersion": "v1", "kind": "ServiceAccount",
                                             "metadata": {"name": name}})
    assert code == 201, body
    return dict(body)


def _token(http: Http, name: str, spec: dict[str, Any] | None = None) -> tuple[int, Any]:
    return http.json("POST", f"{SA_PATH}/{name}/token", {
        "apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
        "spec": spec or {}})


@pytest.fixture(scope="module")
def robot(http: Http) -> dict[str, Any]:
    return _sa(http, "robot")


def test_token_request_defaults_and_claims(http: Http, robot: dict[str, Any]) -> None:
    code, tr = _token(http, "robot")
    assert code == 201, tr
    assert tr["kind"] == "TokenRequest" and tr["apiVersion"] == "authentication.k8s.io/v1"
    assert tr["spec"]["audiences"] == [ISSUER]
    assert tr["spec"]["expirationSeconds"] == 3600
    c = _claims(tr["status"]["token"])
    assert c["iss"] == ISSUER and c["aud"] == [ISSUER]
    assert c["sub"] == "system:serviceaccount:default:robot"
    assert c["exp"] - c["iat"] == 3600 and c["nbf"] == c["iat"]
    assert c["kubernetes.io"]["namespace"] == NS
    assert c["kubernetes.io"]["serviceaccount"] == {
        "name": "robot", "uid": robot["metadata"]["uid"]}
    head = json.loads(base64.urlsafe_b64decode(tr["status"]["token"].split(".")[0] + "=="))
    assert head["alg"] == "RS256" and head["kid"]


def test_token_request_validation(http: Http, robot: dict[str, Any]) -> None:
    code, st = _token(http, "robot", {"expirationSeconds": 100})
    assert code == 422
    assert st["message"] == ('TokenRequest.authentication.k8s.io "" is invalid: '
                             "spec.expirationSeconds: Invalid value: 100: may not specify a "
                             "duration less than 10 minutes")
    code, st = http.json("POST", f"{SA_PATH}/robot/token?fieldValidation=Strict", {
        "apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
        "spec": {"bogus": 1}})
    assert code == 400 and st["message"] == (
        'TokenRequest in version "v1" cannot be handled as a TokenRequest: strict decoding '
        'error: unknown field "spec.bogus"')
    code, st = _token(http, "nobody")
    assert code == 404 and st["message"] == 'serviceaccounts "nobody" not found'
    code, st = _token(http, "robot", {"boundObjectRef": {"apiVersion": "apps/v1",
                                                          "kind": "Deployment", "name": "x"}})
    assert code == 400
    assert st["message"] == "cannot bind token to object of type apps/v1, Kind=Deployment"


def test_token_authenticates_as_the_serviceaccount(http: Http, robot: dict[str, Any]) -> None:
    token = _token(http, "robot")[1]["status"]["token"]
    code, review = http.json("POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews",
                             {"apiVersion": "authentication.k8s.io/v1",
                              "kind": "SelfSubjectReview"}, token=token)
    assert code == 201
    info = review["status"]["userInfo"]
    assert info["username"] == "system:serviceaccount:default:robot"
    assert info["uid"] == robot["metadata"]["uid"]
    assert info["groups"] == ["system:serviceaccounts", "system:serviceaccounts:default",
                              "system:authenticated"]
    assert info["extra"]["authentication.kubernetes.io/credential-id"][0].startswith("JTI=")
    # RBAC: no role grants it pods yet -> upstream's Forbidden
    code, st = http.json("GET", f"/api/v1/namespaces/{NS}/pods", token=token)
    assert code == 403
    assert st["message"] == ('pods is forbidden: User "system:serviceaccount:default:robot" '
                             'cannot list resource "pods" in API group "" in the namespace '
                             '"default"')


def test_deleted_serviceaccount_invalidates_its_tokens(http: Http) -> None:
    _sa(http, "shortlived")
    token = _token(http, "shortlived")[1]["status"]["token"]
    assert http.request("GET", "/api", token=token)[0] == 200
    assert http.json("DELETE", f"{SA_PATH}/shortlived")[0] == 200
    code, st = http.json("GET", "/api", token=token)
    assert code == 401 and st["message"] == "Unauthorized"
    # recreated under the same name: a new uid, the old token stays refused
    _sa(http, "shortlived")
    assert http.request("GET", "/api", token=token)[0] == 401


def test_pod_bound_token(http: Http, server: ServerThread, robot: dict[str, Any]) -> None:
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "botpod"},
           "spec": {"serviceAccountName": "robot",
                    "containers": [{"name": "c", "image": "registry.k8s.io/pause"}]}}
    code, created = http.json("POST", f"/api/v1/namespaces/{NS}/pods", pod)
    assert code == 201, created
    ref = {"apiVersion": "v1", "kind": "Pod", "name": "botpod"}
    code, tr = _token(http, "robot", {"boundObjectRef": ref})
    assert code == 201, tr
    token = tr["status"]["token"]
    assert _claims(token)["kubernetes.io"]["pod"] == {
        "name": "botpod", "uid": created["metadata"]["uid"]}
    code, review = http.json("POST", REVIEWS, {"apiVersion": "authentication.k8s.io/v1",
                                               "kind": "TokenReview",
                                               "spec": {"token": token}})
    assert code == 201 and review["status"]["authenticated"] is True
    extra = review["status"]["user"]["extra"]
    assert extra["authentication.kubernetes.io/pod-name"] == ["botpod"]
    assert extra["authentication.kubernetes.io/pod-uid"] == [created["metadata"]["uid"]]
    # another ServiceAccount cannot bind to this pod
    _sa(http, "other")
    code, st = _token(http, "other", {"boundObjectRef": ref})
    assert code == 400 and st["message"] == (
        'cannot bind token for serviceaccount "other" to pod running with serviceaccount '
        '"robot"')
    # the kubelet's 3607 s ask is extended to a year, warning after 3607 s
    code, tr = _token(http, "robot", {"boundObjectRef": ref, "expirationSeconds": 3607})
    c = _claims(tr["status"]["token"])
    assert c["exp"] - c["iat"] == 365 * 24 * 3600
    assert c["kubernetes.io"]["warnafter"] == c["iat"] + 3607
    # deleting the pod invalidates the token
    assert http.json("DELETE", f"/api/v1/namespaces/{NS}/pods/botpod")[0] == 200
    code, review = http.json("POST", REVIEWS, {"apiVersion": "authentication.k8s.io/v1",
                                               "kind": "TokenReview",
                                               "spec": {"token": token}})
    assert review["status"] == {"authenticated": False, "user": {},
                                "error": "[invalid bearer token, service account token has been "
                                         "invalidated]"}


def test_token_review_audiences_and_garbage(http: Http, robot: dict[str, Any]) -> None:
    token = _token(http, "robot", {"audiences": ["vault"]})[1]["status"]["token"]
    code, review = http.json("POST", REVIEWS, {"apiVersion": "authentication.k8s.io/v1",
                                               "kind": "TokenReview",
                                               "spec": {"token": token,
                                                        "audiences": ["vault"]}})
    assert code == 201
    assert review["status"]["authenticated"] is True
    assert review["status"]["audiences"] == ["vault"]
    # not for the API server
    assert http.request("GET", "/api", token=token)[0] == 401
    code, review = http.json("POST", REVIEWS, {"apiVersion": "authentication.k8s.io/v1",
                                               "kind": "TokenReview",
                                               "spec": {"token": token}})
    assert review["status"]["error"] == (
        f'[invalid bearer token, token audiences ["vault"] is invalid for the target '
        f'audiences ["{ISSUER}"]]')
    code, st = http.json("POST", REVIEWS, {"apiVersion": "authentication.k8s.io/v1",
                                           "kind": "TokenReview", "spec": {}})
    assert code == 400
    assert st["message"] == "token is required for TokenReview in authentication"
    code, review = http.json("POST", REVIEWS, {"apiVersion": "authentication.k8s.io/v1",
                                               "kind": "TokenReview",
                                               "spec": {"token": "garbage"}})
    assert code == 201 and review["status"] == {"authenticated": False, "user": {},
                                                "error": "invalid bearer token"}


def test_discovery_lists_the_token_subresource(http: Http) -> None:
    _code, doc = http.json("GET", "/api/v1")
    sub = next(r for r in doc["resources"] if r["name"] == "serviceaccounts/token")
    assert sub["kind"] == "TokenRequest" and sub["group"] == "authentication.k8s.io"
    assert sub["verbs"] == ["create"]
    _code, doc = http.json("GET", "/apis/authentication.k8s.io/v1")
    assert {r["name"] for r in doc["resources"]} >= {"tokenreviews", "selfsubjectreviews"}


def test_oidc_discovery(http: Http, server: ServerThread, robot: dict[str, Any]) -> None:
    token = _token(http, "robot")[1]["status"]["token"]
    code, cfg = http.json("GET", "/.well-known/openid-configuration", token=token)
    assert code == 200
    assert cfg == {"issuer": ISSUER, "jwks_uri": server.server.url + "/openid/v1/jwks",
                   "response_types_supported": ["id_token"],
                   "subject_types_supported": ["public"],
                   "id_token_signing_alg_values_supported": ["RS256"]}
    code, headers, raw = http.request("GET", "/openid/v1/jwks", token=token)
    assert code == 200 and headers["content-type"] == ["application/jwk-set+json"]
    (key,) = json.loads(raw)["keys"]
    head = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
    assert key["kid"] == head["kid"] and key["kty"] == "RSA" and key["alg"] == "RS256"
    # anonymous may not read it (upstream binds the role to system:serviceaccounts only)
    code, st = http.json("GET", "/openid/v1/jwks", token="")
    assert code == 403 and st["message"] == (
        'forbidden: User "system:anonymous" cannot get path "/openid/v1/jwks"')


def test_anonymous_goes_through_rbac(http: Http) -> None:
    assert http.request("GET", "/healthz", token="")[0] == 200
    code, st = http.json("GET", "/api/v1/namespaces/default/pods", token="")
    assert code == 403
    assert st["message"] == ('pods is forbidden: User "system:anonymous" cannot list resource '
                             '"pods" in API group "" in the namespace "default"')
    # a bearer token nobody accepts is 401, even on a public path
    assert http.request("GET", "/healthz", token="nope")[0] == 401


def test_expired_token_is_401(http: Http, server: ServerThread, robot: dict[str, Any]) -> None:
    from datetime import UTC, datetime, timedelta

    tokens = server.server._api.service_accounts  # type: ignore[union-attr]
    assert tokens is not None
    old = server.run(tokens.token_request(
        {}, namespace=NS, name="robot", backend=server.registry,
        now=datetime.now(UTC) - timedelta(hours=2)))
    assert http.request("GET", "/api", token=old["status"]["token"])[0] == 401
    _code, review = http.json("POST", REVIEWS, {"apiVersion": "authentication.k8s.io/v1",
                                               "kind": "TokenReview",
                                               "spec": {"token": old["status"]["token"]}})
    assert review["status"]["error"] == (
        "[invalid bearer token, service account token has expired]")


async def test_anonymous_auth_off_is_401_everywhere(tmp_path: Any) -> None:
    """``--anonymous-auth=false``: no credentials is 401 even on /healthz; a custom issuer
    is what new tokens carry and what the server accepts."""
    import ssl

    import aiohttp

    from kubesvc.apiserver.http import ApiServer
    from kubesvc.apiserver.registry.core import Registry
    from kubesvc.storage.memory import MemoryStore

    registry = Registry(MemoryStore(), compact_interval=0)
    await registry.start()
    server = ApiServer(registry, data_dir=tmp_path, port=0, anonymous_auth=False,
                       service_account_issuer="https://issuer.example")
    await server.start()
    try:
        ctx = ssl.create_default_context(cadata=server.ca_pem.decode())
        admin = {"Authorization": f"Bearer {server.token}"}
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=ctx)) as s:
            for path in ("/healthz", "/version", "/api"):
                async with s.get(server.url + path) as r:
                    assert r.status == 401, path
            async with s.get(server.url + "/healthz", headers=admin) as r:
                assert r.status == 200
            await registry.create("serviceaccounts", {"metadata": {"name": "x"}},
                                  namespace="default")
            async with s.post(server.url + f"{SA_PATH}/x/token", headers=admin, json={
                    "apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest"}) as r:
                tr = await r.json()
            token = tr["status"]["token"]
            assert _claims(token)["iss"] == "https://issuer.example"
            assert tr["spec"]["audiences"] == ["https://issuer.example"]
            async with s.get(server.url + "/api", headers={
                    "Authorization": f"Bearer {token}"}) as r:
                assert r.status == 200
    finally:
        await server.stop()
        await registry.stop()


def test_in_process_token_request_through_the_registry(server: ServerThread,
                                                       http: Http,
                                                       robot: dict[str, Any]) -> None:
    """The Registry (the in-process Client of ``kubesvc up``'s node agent) answers
    serviceaccounts/NAME/token with the API server's key, as the HTTP path does."""
    tr = server.run(server.registry.create(
        "serviceaccounts", {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
                            "spec": {"audiences": [ISSUER]}},
        namespace=NS, subresource="token", name="robot"))
    assert tr["kind"] == "TokenRequest"
    _code, review = http.json("POST", REVIEWS, {"apiVersion": "authentication.k8s.io/v1",
                                               "kind": "TokenReview",
                                               "spec": {"token": tr["status"]["token"]}})
    assert review["status"]["user"]["username"] == "system:serviceaccount:default:robot"
