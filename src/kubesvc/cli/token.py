"""``kubesvc token create``: a bootstrap token with which ``kubesvc agent`` joins the
cluster, as ``kubeadm token create`` makes one.

The token goes into the API server's token file (``DATA_DIR/tokens.csv``, kube-apiserver's
``--token-auth-file`` format) for user ``system:bootstrap:<id>`` in the groups
``system:bootstrappers`` and ``system:nodes``; its expiry (``--ttl``, default 24h as
kubeadm's, 0 = never) is kept beside it in ``DATA_DIR/token-expiry.json``. Running servers
notice the change and call :func:`reload_tokens`, which also drops expired tokens. Called by
:mod:`.commands` (create) and :mod:`.server` (reload); calls the API server's TokenFile.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import sys
import time
from pathlib import Path

from kubesvc.apiserver.http.auth import TokenFile
from kubesvc.cli.components import INIT_LOCK, file_lock

BOOTSTRAP_USER_PREFIX = "system:bootstrap:"
BOOTSTRAP_GROUPS = ("system:bootstrappers", "system:nodes")
EXPIRY_FILE = "token-expiry.json"
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(value: str) -> float:
    """``1h30m``, ``45s``, ``24h``, ``0`` (Go's duration syntax, the units kubeadm takes)."""
    if value.strip() in ("0", "0s"):
        return 0.0
    parts = re.findall(r"(\d+(?:\.\d+)?)([smhd])", value.strip())
    if not parts or "".join(n + u for n, u in parts) != value.strip():
        raise ValueError(f"invalid duration {value!r} (e.g. 24h, 30m, 90s, 0 for never)")
    return sum(float(n) * _UNITS[u] for n, u in parts)


def _read_expiry(data_dir: Path) -> dict[str, float]:
    try:
        raw = json.loads((data_dir / EXPIRY_FILE).read_text())
    except FileNotFoundError:
        return {}
    except ValueError as exc:
        raise ValueError(f"{data_dir / EXPIRY_FILE}: {exc}") from exc
    return {str(k): float(v) for k, v in raw.items()} if isinstance(raw, dict) else {}


def _write_expiry(data_dir: Path, expiry: dict[str, float]) -> None:
    path = data_dir / EXPIRY_FILE
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(expiry, f, indent=1, sort_keys=True)
    os.replace(tmp, path)


def create_token(data_dir: Path, *, ttl: float = 86400.0, now: float | None = None) -> str:
    """Add a bootstrap token to ``data_dir``'s token file; returns it."""
    data_dir.mkdir(parents=True, exist_ok=True)
    token_id = secrets.token_hex(3)
    user = BOOTSTRAP_USER_PREFIX + token_id
    with file_lock(data_dir / INIT_LOCK):  # the lock the servers take
        tokens = TokenFile.load_or_create(data_dir / "tokens.csv")
        # Write the expiry first: a reloading server must never see the token without it.
        if ttl > 0:
            expiry = _read_expiry(data_dir)
            expiry[user] = (time.time() if now is None else now) + ttl
            _write_expiry(data_dir, expiry)
        return tokens.issue(user, uid=user, groups=BOOTSTRAP_GROUPS)


def reload_tokens(live: TokenFile, *, now: float | None = None) -> int:
    """Re-read ``live``'s file into it, leaving out expired bootstrap tokens; returns how
    many tokens are now accepted."""
    fresh = TokenFile.load_or_create(live.path)
    expiry = _read_expiry(live.path.parent)
    t = time.time() if now is None else now
    table = {tok: user for tok, user in fresh.tokens().items()
             if expiry.get(user.name, float("inf")) > t}
    live.replace(table)
    return len(table)


def run_token_create(data_dir: Path, ttl: str) -> int:
    try:
        seconds = parse_duration(ttl)
    except ValueError as exc:
        print(f"kubesvc token create: {exc}", file=sys.stderr)
        return 2
    with contextlib.suppress(BrokenPipeError):
        print(create_token(data_dir.resolve(), ttl=seconds), flush=True)
    return 0
