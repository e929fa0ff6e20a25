"""``kubesvc token create``: a bootstrap token with which ``kubesvc agent`` joins the
cluster, as ``kubeadm token create`` makes one.

The token ``<id>.<secret>`` is written through the API server (the admin kubeconfig in the
data dir, or ``--kubeconfig``) as the Secret ``kube-system/bootstrap-token-<id>`` of type
``bootstrap.kubernetes.io/token`` (:mod:`kubesvc.api.bootstraptoken`), with an
``expiration`` ``--ttl`` from now (default 24h as kubeadm's, 0 = never) and the extra group
``system:bootstrappers:kubesvc:default-node-token``. Every API server authenticates it
from that Secret on each request, so it works at once and stops working once it expires or
is deleted (the TokenCleaner controller deletes expired ones). Called by :mod:`.commands`.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from kubesvc import errors
from kubesvc.api import bootstraptoken as bt
from kubesvc.client.http import HttpClient
from kubesvc.client.protocol import Client

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(value: str) -> float:
    """``1h30m``, ``45s``, ``24h``, ``0`` (Go's duration syntax, the units kubeadm takes)."""
    if value.strip() in ("0", "0s"):
        return 0.0
    parts = re.findall(r"(\d+(?:\.\d+)?)([smhd])", value.strip())
    if not parts or "".join(n + u for n, u in parts) != value.strip():
        raise ValueError(f"invalid duration {value!r} (e.g. 24h, 30m, 90s, 0 for never)")
    return sum(float(n) * _UNITS[u] for n, u in parts)


async def create_token(client: Client, *, ttl: float = 86400.0,
                       now: datetime | None = None) -> str:
    """Create a bootstrap token Secret through ``client``; returns the token."""
    start = now or datetime.now(UTC)
    expires = start + timedelta(seconds=ttl) if ttl > 0 else None
    while True:
        token = bt.generate_token()
        secret = bt.token_secret(token, expires=expires,
                                 description="created by kubesvc token create")
        try:
            await client.create("secrets", secret, namespace=bt.NAMESPACE)
        except errors.AlreadyExists:
            continue  # another token has this id: draw again
        return token


async def _create_via(kubeconfig: Path, ttl: float) -> str:
    async with HttpClient.from_kubeconfig(kubeconfig) as client:
        return await create_token(client, ttl=ttl)


def run_token_create(data_dir: Path, ttl: str, *, kubeconfig: Path | None = None) -> int:
    try:
        seconds = parse_duration(ttl)
    except ValueError as exc:
        print(f"kubesvc token create: {exc}", file=sys.stderr)
        return 2
    path = kubeconfig or data_dir.resolve() / "kubeconfig"
    if not path.exists():
        print(f"kubesvc token create: {path} does not exist: start `kubesvc up` or "
              "`kubesvc server` with this --data-dir first, or pass --kubeconfig",
              file=sys.stderr)
        return 1
    try:
        token = asyncio.run(_create_via(path, seconds))
    except (errors.KubeError, OSError, ValueError) as exc:
        print(f"kubesvc token create: {exc}", file=sys.stderr)
        return 1
    with contextlib.suppress(BrokenPipeError):
        print(token, flush=True)
    return 0
