"""The bootstrap token authenticator: a token is accepted only while its Secret exists, has
the right type, id, secret and usage, and has not expired; the user and groups are
upstream's."""

from __future__ import annotations

import base64
import copy
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from kubesvc import errors
from kubesvc.api import bootstraptoken as bt
from kubesvc.apiserver.http.auth import BootstrapTokenAuthenticator, TokenFile

NOW = datetime(2030, 1, 1, tzinfo=UTC)
TOKEN = "abcdef.0123456789abcdef"


def _auth(secrets: dict[str, dict[str, Any]]) -> BootstrapTokenAuthenticator:
    async def get(namespace: str, name: str) -> dict[str, Any]:
        try:
            return secrets[f"{namespace}/{name}"]
        except KeyError:
            raise errors.NotFound(f'secrets "{name}" not found') from None
    return BootstrapTokenAuthenticator(get, clock=lambda: NOW)


def _secret(**kw: Any) -> dict[str, Any]:
    return bt.token_secret(TOKEN, expires=kw.pop("expires", NOW + timedelta(hours=1)), **kw)


async def test_valid_token_is_the_bootstrap_user() -> None:
    auth = _auth({"kube-system/bootstrap-token-abcdef": _secret()})
    user = await auth.authenticate(f"Bearer {TOKEN}")
    assert user is not None
    assert user.name == "system:bootstrap:abcdef"
    assert user.groups == ("system:bootstrappers", bt.DEFAULT_NODE_GROUP)


async def test_refusals() -> None:
    good = _secret()

    def variant(fn: Any) -> dict[str, Any]:
        s = copy.deepcopy(good)
        fn(s)
        return s

    def b64(v: str) -> str:
        return base64.b64encode(v.encode()).decode()

    cases = {
        "expired": _secret(expires=NOW - timedelta(seconds=1)),
        "expires now": _secret(expires=NOW),
        "wrong type": variant(lambda s: s.update(type="Opaque")),
        "wrong secret": variant(lambda s: s["data"].update({"token-secret": b64("x" * 16)})),
        "wrong id": variant(lambda s: s["data"].update({"token-id": b64("zzzzzz")})),
        "not for authentication": variant(
            lambda s: s["data"].update({"usage-bootstrap-authentication": b64("false")})),
        "being deleted": variant(lambda s: s["metadata"].update(
            deletionTimestamp="2029-12-31T00:00:00Z")),
        "bad extra group": variant(
            lambda s: s["data"].update({"auth-extra-groups": b64("system:masters")})),
    }
    for what, secret in cases.items():
        auth = _auth({"kube-system/bootstrap-token-abcdef": secret})
        assert await auth.authenticate(f"Bearer {TOKEN}") is None, what
    ok = _auth({"kube-system/bootstrap-token-abcdef": good})
    assert await ok.authenticate(f"Bearer {TOKEN}") is not None
    assert await ok.authenticate("Bearer abcdef.0123456789abcdee") is None  # other secret
    assert await ok.authenticate("Basic " + TOKEN) is None
    assert await ok.authenticate(None) is None
    assert await _auth({}).authenticate(f"Bearer {TOKEN}") is None  # deleted


def test_old_bootstrap_rows_of_the_token_file_no_longer_count(tmp_path: Path) -> None:
    # An older `kubesvc token create` wrote bootstrap tokens into tokens.csv with their
    # expiry in a side file nothing reads any more: they must not be accepted forever.
    path = tmp_path / "tokens.csv"
    tf = TokenFile.load_or_create(path)
    old = tf.issue("system:bootstrap:abcdef", groups=("system:bootstrappers",))
    node = tf.issue("system:node:n1", groups=("system:nodes",))
    reloaded = TokenFile.load_or_create(path)
    assert reloaded.authenticate(f"Bearer {old}") is None
    assert reloaded.authenticate(f"Bearer {node}") is not None
    assert reloaded.authenticate(f"Bearer {tf.admin_token}") is not None
