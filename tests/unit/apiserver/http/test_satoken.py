"""ServiceAccount JWTs: issue and verify (signature, audience, expiry, the ServiceAccount
and bound objects still there with the same uid), and the signing key on disk."""

from __future__ import annotations

import asyncio
import base64
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from kubesvc import errors
from kubesvc.apiserver.http.satoken import (
    DEFAULT_ISSUER,
    SIGNATURE_ERROR,
    ServiceAccountAuthenticator,
    SigningKey,
    claims,
)

NOW = datetime(2026, 1, 1, tzinfo=UTC)
KEY = SigningKey.generate()
SA = {"metadata": {"name": "robot", "namespace": "ns1", "uid": "sa-uid"}}
POD = {"metadata": {"name": "p", "namespace": "ns1", "uid": "pod-uid"}}


class Objects:
    def __init__(self, *objs: tuple[str, dict[str, Any]]) -> None:
        self.objs = {(res, o["metadata"].get("namespace", ""), o["metadata"]["name"]): o
                     for res, o in objs}

    async def get(self, resource: str, namespace: str, name: str) -> dict[str, Any]:
        try:
            return self.objs[(resource, namespace, name)]
        except KeyError:
            raise errors.NotFound(f'{resource} "{name}" not found') from None


def _auth(objs: Objects, *, now: datetime = NOW, key: SigningKey = KEY,
          audiences: tuple[str, ...] = ()) -> ServiceAccountAuthenticator:
    return ServiceAccountAuthenticator([key], get=objs.get, api_audiences=audiences,
                                       clock=lambda: now)


def _token(*, aud: tuple[str, ...] = (DEFAULT_ISSUER,), expiration: int = 3600,
           now: datetime = NOW, key: SigningKey = KEY, **bound: Any) -> str:
    return key.sign(claims(SA, issuer=DEFAULT_ISSUER, audiences=aud,
                           expiration_seconds=expiration, now=now, **bound))


def _run(auth: ServiceAccountAuthenticator, token: str, aud: list[str] | None = None) -> Any:
    return asyncio.run(auth.authenticate(token, aud))


def test_valid_token_is_the_serviceaccount_user() -> None:
    r = _run(_auth(Objects(("serviceaccounts", SA))), _token())
    assert r.user is not None and r.error == ""
    assert r.user.name == "system:serviceaccount:ns1:robot" and r.user.uid == "sa-uid"
    assert r.user.groups == ("system:serviceaccounts", "system:serviceaccounts:ns1")
    assert r.audiences == (DEFAULT_ISSUER,)
    (key, (value,)), = r.user.extra
    assert key == "authentication.kubernetes.io/credential-id" and value.startswith("JTI=")


def test_claims_are_upstreams() -> None:
    c = claims(SA, issuer=DEFAULT_ISSUER, audiences=["a"], expiration_seconds=600, now=NOW,
               pod=POD, node={"metadata": {"name": "n1", "uid": "node-uid"}})
    t = int(NOW.timestamp())
    assert {k: c[k] for k in ("iss", "sub", "aud", "iat", "nbf", "exp")} == {
        "iss": DEFAULT_ISSUER, "sub": "system:serviceaccount:ns1:robot", "aud": ["a"],
        "iat": t, "nbf": t, "exp": t + 600}
    assert c["kubernetes.io"] == {
        "namespace": "ns1", "serviceaccount": {"name": "robot", "uid": "sa-uid"},
        "pod": {"name": "p", "uid": "pod-uid"}, "node": {"name": "n1", "uid": "node-uid"}}
    header = json.loads(base64.urlsafe_b64decode(KEY.sign(c).split(".")[0] + "=="))
    assert header == {"alg": "RS256", "kid": KEY.kid}


def test_expired_token_refused_after_leeway() -> None:
    objs = Objects(("serviceaccounts", SA))
    token = _token(expiration=600)
    # go-jose's one minute of leeway
    assert _run(_auth(objs, now=NOW + timedelta(seconds=650)), token).user is not None
    r = _run(_auth(objs, now=NOW + timedelta(seconds=661)), token)
    assert r.user is None and r.error == "service account token has expired"


def test_wrong_audience_refused() -> None:
    objs = Objects(("serviceaccounts", SA))
    r = _run(_auth(objs), _token(aud=("vault",)))
    assert r.user is None
    assert r.error == (f'token audiences ["vault"] is invalid for the target audiences '
                       f'["{DEFAULT_ISSUER}"]')
    r = _run(_auth(objs), _token(aud=("vault",)), ["vault", "other"])
    assert r.user is not None and r.audiences == ("vault",)


def test_deleted_or_recreated_serviceaccount_refused() -> None:
    token = _token()
    r = _run(_auth(Objects()), token)
    assert r.user is None and r.error == 'serviceaccounts "robot" not found'
    again = {"metadata": {**SA["metadata"], "uid": "new-uid"}}
    r = _run(_auth(Objects(("serviceaccounts", again))), token)
    assert r.error == "service account UID (new-uid) does not match claim (sa-uid)"
    going = {"metadata": {**SA["metadata"], "deletionTimestamp": "2025-12-31T23:00:00Z"}}
    r = _run(_auth(Objects(("serviceaccounts", going))), token)
    assert r.error == "service account ns1/robot has been deleted"


def test_wrong_key_and_foreign_tokens() -> None:
    objs = Objects(("serviceaccounts", SA))
    other = SigningKey.generate()
    r = _run(_auth(objs), _token(key=other))
    assert r.user is None and r.error == SIGNATURE_ERROR
    # a tampered payload fails the signature too
    h, _p, s = _token().split(".")
    forged = base64.urlsafe_b64encode(json.dumps(
        {"iss": DEFAULT_ISSUER, "sub": "x"}).encode()).rstrip(b"=").decode()
    assert _run(_auth(objs), f"{h}.{forged}.{s}").error == SIGNATURE_ERROR
    # not a JWT, or another issuer's: not ours, no error (the next authenticator's turn)
    assert _run(_auth(objs), "abcdef.0123456789abcdef").error == ""
    foreign = KEY.sign({"iss": "https://elsewhere", "sub": "x"})
    assert _run(_auth(objs), foreign).error == ""


def test_bound_pod_must_exist_with_same_uid() -> None:
    token = _token(pod=POD)
    r = _run(_auth(Objects(("serviceaccounts", SA), ("pods", POD))), token)
    assert r.user is not None
    assert dict(r.user.extra)["authentication.kubernetes.io/pod-name"] == ("p",)
    assert dict(r.user.extra)["authentication.kubernetes.io/pod-uid"] == ("pod-uid",)
    r = _run(_auth(Objects(("serviceaccounts", SA))), token)
    assert r.error == "service account token has been invalidated"
    new_pod = {"metadata": {**POD["metadata"], "uid": "other"}}
    r = _run(_auth(Objects(("serviceaccounts", SA), ("pods", new_pod))), token)
    assert r.error == "pod UID (other) does not match service account pod ref claim (pod-uid)"


def test_pod_bound_token_reports_but_does_not_check_its_node() -> None:
    node = {"metadata": {"name": "n1", "uid": "node-uid"}}
    token = _token(pod=POD, node=node)
    r = _run(_auth(Objects(("serviceaccounts", SA), ("pods", POD))), token)
    assert r.user is not None
    assert dict(r.user.extra)["authentication.kubernetes.io/node-name"] == ("n1",)
    assert dict(r.user.extra)["authentication.kubernetes.io/node-uid"] == ("node-uid",)
    # a node-bound token does need its node
    token = _token(node=node)
    assert _run(_auth(Objects(("serviceaccounts", SA))), token).error == (
        "service account token has been invalidated")
    assert _run(_auth(Objects(("serviceaccounts", SA), ("nodes", node))), token).user


def test_bound_secret() -> None:
    secret = {"metadata": {"name": "s", "namespace": "ns1", "uid": "sec-uid"}}
    token = _token(secret=secret)
    assert _run(_auth(Objects(("serviceaccounts", SA), ("secrets", secret))), token).user
    assert _run(_auth(Objects(("serviceaccounts", SA))), token).error == (
        "service account token has been invalidated")


def test_signing_key_file_is_private_and_reused(tmp_path: Path) -> None:
    path = tmp_path / "pki" / "sa.key"
    first = SigningKey.load_or_create(path)
    assert path.stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "pki" / "sa.pub").exists()
    again = SigningKey.load_or_create(path)
    assert again.kid == first.kid
    jwk = again.jwk()
    assert jwk["kty"] == "RSA" and jwk["e"] == "AQAB" and jwk["kid"] == first.kid


@pytest.mark.parametrize("token", ["", "a.b", "a.!!!.c", "x.eyJpc3MiOjF9.y"])
def test_malformed_tokens_are_not_ours(token: str) -> None:
    r = _run(_auth(Objects(("serviceaccounts", SA))), token)
    assert r.user is None and r.error == ""
