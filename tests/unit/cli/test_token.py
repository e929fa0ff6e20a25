"""``kubesvc token create``: durations parse as kubeadm's; a token becomes a bootstrap token
Secret with its expiration, which the API server's authenticator then accepts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from kubesvc.api import bootstraptoken as bt
from kubesvc.apiserver.http.auth import BootstrapTokenAuthenticator
from kubesvc.apiserver.registry.core import Registry
from kubesvc.cli.token import create_token, parse_duration
from kubesvc.storage.memory import MemoryStore


def test_parse_duration() -> None:
    assert parse_duration("24h") == 86400
    assert parse_duration("1h30m") == 5400
    assert parse_duration("90s") == 90
    assert parse_duration("0") == 0
    for bad in ("", "10", "1x", "h", "1h 2m"):
        with pytest.raises(ValueError):
            parse_duration(bad)


async def test_created_token_is_a_secret_the_authenticator_accepts() -> None:
    reg = Registry(MemoryStore(), compact_interval=0)
    await reg.start()
    try:
        now = datetime(2030, 1, 1, tzinfo=UTC)
        token = await create_token(reg, ttl=60, now=now)
        token_id = token.split(".")[0]
        secret = await reg.get("secrets", f"bootstrap-token-{token_id}",
                               namespace="kube-system")
        assert secret["type"] == "bootstrap.kubernetes.io/token"
        assert bt.get_data(secret, "expiration") == "2030-01-01T00:01:00Z"
        clock = [now]
        auth = BootstrapTokenAuthenticator(
            lambda ns, name: reg.get("secrets", name, namespace=ns), clock=lambda: clock[0])
        user = await auth.authenticate(f"Bearer {token}")
        assert user is not None and user.name == f"system:bootstrap:{token_id}"
        clock[0] = now + timedelta(seconds=60)
        assert await auth.authenticate(f"Bearer {token}") is None
        forever = await create_token(reg, ttl=0, now=now)
        clock[0] = now + timedelta(days=3650)
        assert await auth.authenticate(f"Bearer {forever}") is not None
    finally:
        await reg.stop()
