"""Bootstrap tokens over HTTPS: a token whose Secret is created while the server runs is
accepted at once (no restart, no reload), and answers 401 as soon as its Secret is deleted
or its expiration has passed; ``kubectl auth whoami`` shows upstream's bootstrap user."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from kubesvc.api import bootstraptoken as bt
from kubesvc.cli.token import create_token
from tests.integration.apiserver.harness import Http, ServerThread

PATH = "/api/v1/namespaces/default/services"


def test_token_accepted_live_then_refused_when_deleted(server: ServerThread,
                                                       http: Http) -> None:
    assert http.request("GET", PATH, token="abcdef.0123456789abcdef")[0] == 401
    token = server.run(create_token(server.registry, ttl=3600))
    assert http.request("GET", PATH, token=token)[0] == 200
    code, review = http.json("POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews",
                             {"apiVersion": "authentication.k8s.io/v1",
                              "kind": "SelfSubjectReview"}, token=token)
    assert code == 201
    info = review["status"]["userInfo"]
    assert info["username"] == f"system:bootstrap:{token.split('.')[0]}"
    assert info["groups"][:2] == ["system:bootstrappers", bt.DEFAULT_NODE_GROUP]
    code, body = http.json("DELETE", f"/api/v1/namespaces/kube-system/secrets/"
                           f"{bt.secret_name(token.split('.')[0])}")
    assert code == 200, body
    code, status = http.json("GET", PATH, token=token)
    assert code == 401 and status["reason"] == "Unauthorized"


def test_expired_token_gets_401(server: ServerThread, http: Http) -> None:
    token = "zyxwvu.0123456789abcdef"
    secret = bt.token_secret(token, expires=datetime.now(UTC) - timedelta(seconds=1))
    assert http.json("POST", "/api/v1/namespaces/kube-system/secrets", secret)[0] == 201
    assert http.request("GET", PATH, token=token)[0] == 401
    secret = bt.token_secret("zyxwvt.0123456789abcdef",
                             expires=datetime.now(UTC) + timedelta(seconds=2))
    assert http.json("POST", "/api/v1/namespaces/kube-system/secrets", secret)[0] == 201
    assert http.request("GET", PATH, token="zyxwvt.0123456789abcdef")[0] == 200
