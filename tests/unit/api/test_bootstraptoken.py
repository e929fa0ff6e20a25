"""Bootstrap token Secrets: the token format, the Secret written for a token, expiry and the
groups a Secret grants (as upstream's cluster-bootstrap helpers)."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest

from kubesvc.api import bootstraptoken as bt


def test_parse_and_generate() -> None:
    tok = bt.generate_token()
    parsed = bt.parse_token(tok)
    assert parsed is not None and len(parsed[0]) == 6 and len(parsed[1]) == 16
    for bad in ("abcdef.0123456789abcde", "ABCDEF.0123456789abcdef", "abcdef0123456789abcdef",
                "abcdef.0123456789abcdef\n", ""):
        assert bt.parse_token(bad) is None


def test_secret_for_token() -> None:
    exp = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    s = bt.token_secret("abcdef.0123456789abcdef", expires=exp)
    assert s["metadata"] == {"name": "bootstrap-token-abcdef", "namespace": "kube-system"}
    assert s["type"] == "bootstrap.kubernetes.io/token"
    assert base64.b64decode(s["data"]["token-secret"]) == b"0123456789abcdef"
    assert bt.get_data(s, "expiration") == "2030-01-02T03:04:05Z"
    assert bt.get_data(s, "usage-bootstrap-authentication") == "true"
    assert bt.expiration(s) == exp
    assert not bt.has_expired(s, exp - timedelta(seconds=1))
    assert bt.has_expired(s, exp)
    assert bt.groups(s) == ("system:bootstrappers", bt.DEFAULT_NODE_GROUP)
    with pytest.raises(ValueError, match="not a valid bootstrap group name"):
        bt.token_secret("abcdef.0123456789abcdef", expires=None, extra_groups=("admins",))


def test_groups_and_bad_expiration() -> None:
    s = {"stringData": {"auth-extra-groups": "system:bootstrappers:a, system:bootstrappers:a,"
                                             "system:bootstrappers",
                        "expiration": "tomorrow"}}
    assert bt.groups(s) is None  # plain system:bootstrappers is not a valid *extra* group
    s["stringData"]["auth-extra-groups"] = "system:bootstrappers:a,system:bootstrappers:a"
    assert bt.groups(s) == ("system:bootstrappers", "system:bootstrappers:a")
    assert bt.has_expired(s, datetime.now(UTC))  # unparsable counts as expired
    assert bt.expiration({}) is None
