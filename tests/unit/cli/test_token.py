"""``kubesvc token create`` and the servers' token reload: bootstrap tokens land in the token
file with their groups, an expired one stops being accepted, durations parse as kubeadm's."""

from __future__ import annotations

from pathlib import Path

import pytest

from kubesvc.apiserver.http.auth import TokenFile
from kubesvc.cli.token import create_token, parse_duration, reload_tokens


def test_parse_duration() -> None:
    assert parse_duration("24h") == 86400
    assert parse_duration("1h30m") == 5400
    assert parse_duration("90s") == 90
    assert parse_duration("0") == 0
    for bad in ("", "10", "1x", "h", "1h 2m"):
        with pytest.raises(ValueError):
            parse_duration(bad)


def test_created_token_is_accepted_after_reload_and_dropped_when_expired(
        tmp_path: Path) -> None:
    live = TokenFile.load_or_create(tmp_path / "tokens.csv")  # what a running server holds
    admin = live.admin_token
    token = create_token(tmp_path, ttl=60, now=1000.0)
    assert live.authenticate(f"Bearer {token}") is None  # not yet re-read
    assert reload_tokens(live, now=1030.0) == 2
    user = live.authenticate(f"Bearer {token}")
    assert user is not None
    assert user.name.startswith("system:bootstrap:")
    assert set(user.groups) == {"system:bootstrappers", "system:nodes"}
    assert live.authenticate(f"Bearer {admin}") is not None
    reload_tokens(live, now=1061.0)
    assert live.authenticate(f"Bearer {token}") is None
    assert live.authenticate(f"Bearer {admin}") is not None


def test_ttl_zero_never_expires(tmp_path: Path) -> None:
    live = TokenFile.load_or_create(tmp_path / "tokens.csv")
    token = create_token(tmp_path, ttl=0)
    reload_tokens(live, now=4e9)
    assert live.authenticate(f"Bearer {token}") is not None
