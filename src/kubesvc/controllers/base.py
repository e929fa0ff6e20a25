"""Shared plumbing for the controllers: the queue-driven worker loop, owner references,
timestamps, random name suffixes and small dict helpers.

Every controller in this package subclasses :class:`QueueController` (or runs several of
them); the manager calls ``run(stop)``. It calls the informers' ``WorkQueue`` and their
shared worker loop (:mod:`kubesvc.informers.worker`).
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from kubesvc import errors
from kubesvc.informers import Indexer, WorkQueue
from kubesvc.informers.worker import run_workers

log = logging.getLogger(__name__)

Obj = dict[str, Any]

# Upstream's rand.String alphabet (k8s.io/apimachinery/pkg/util/rand): no vowels, no
# confusable digits, so generated names never spell words.
_ALPHANUMS = "bcdfghjklmnpqrstvwxz2456789"
_rng = random.Random()


def rand_suffix(n: int = 5) -> str:
    return "".join(_rng.choice(_ALPHANUMS) for _ in range(n))


def generated_name(prefix: str) -> str:
    """``prefix`` + 5 random characters, as the API server does for ``generateName``.

    Controllers set both ``generateName`` and this ``name`` so they do not depend on the
    server implementing generateName, and retry on AlreadyExists."""
    return f"{prefix[: 63 - 5]}{rand_suffix()}"


def now() -> datetime:
    return datetime.now(UTC)


def rfc3339(t: datetime | None = None) -> str:
    """metav1.Time wire format (second precision)."""
    return (t or now()).strftime("%Y-%m-%dT%H:%M:%SZ")


def rfc3339_nano(t: datetime | None = None) -> str:
    """RFC3339Nano as Go prints it (trailing zeros trimmed), used by annotations."""
    t = t or now()
    frac = f"{t.microsecond:06d}".rstrip("0")
    return t.strftime("%Y-%m-%dT%H:%M:%S") + (f".{frac}" if frac else "") + "Z"


def micro_time(t: datetime | None = None) -> str:
    """metav1.MicroTime wire format."""
    return (t or now()).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(value: Any) -> datetime | None:
    if not value or not isinstance(value, str):
        return None
    text = value.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    # Go may print up to 9 fractional digits; Python takes 6.
    if "." in text:
        head, _, rest = text.partition(".")
        digits = "".join(c for c in rest if c.isdigit())
        tz = rest[len(digits):]
        text = f"{head}.{digits[:6].ljust(6, '0')}{tz}"
    try:
        t = datetime.fromisoformat(text)
    except ValueError:
        return None
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def meta(obj: Obj) -> dict[str, Any]:
    md = obj.get("metadata")
    return md if isinstance(md, dict) else {}


def labels_of(obj: Obj) -> dict[str, str]:
    lab = meta(obj).get("labels")
    return lab if isinstance(lab, dict) else {}


def split_key(key: str) -> tuple[str, str]:
    """``ns/name`` -> (ns, name); ``name`` -> ("", name)."""
    ns, sep, name = key.partition("/")
    return (ns, name) if sep else ("", ns)


def owner_ref(
    owner: Obj,
    *,
    api_version: str,
    kind: str,
    controller: bool = True,
    block: bool = True,
) -> dict[str, Any]:
    """A controller ownerReference to ``owner``. apiVersion/kind are passed explicitly:
    list items from the API server carry neither."""
    md = meta(owner)
    return {
        "apiVersion": api_version,
        "kind": kind,
        "name": md.get("name", ""),
        "uid": md.get("uid", ""),
        "controller": controller,
        "blockOwnerDeletion": block,
    }


def controller_ref(obj: Obj) -> dict[str, Any] | None:
    for ref in meta(obj).get("ownerReferences") or ():
        if ref.get("controller"):
            return dict(ref)
    return None


def is_controlled_by(obj: Obj, owner: Obj) -> bool:
    ref = controller_ref(obj)
    return ref is not None and ref.get("uid") == meta(owner).get("uid")


def ensure_index(indexer: Indexer, name: str, *, func: Callable[[Obj], Iterable[str]]) -> None:
    """Add an index unless one with that name is already there (informers are shared)."""
    try:
        indexer.index_keys(name, "")
    except KeyError:
        indexer.add_index(name, func)


def pod_ready(pod: Obj) -> bool:
    for c in (pod.get("status") or {}).get("conditions") or ():
        if c.get("type") == "Ready":
            return bool(c.get("status") == "True")
    return False


def condition(obj: Obj, typ: str) -> dict[str, Any] | None:
    for c in (obj.get("status") or {}).get("conditions") or ():
        if c.get("type") == typ:
            return dict(c)
    return None


class QueueController:
    """A workqueue plus N workers calling :meth:`sync` per key.

    Errors are logged and the key is re-queued with per-key exponential back-off
    (``WorkQueue.add_rate_limited``); success calls ``forget``. Conflicts (stale cache) are
    expected and logged at debug level."""

    name = "controller"
    shutdown_timeout = 5.0

    def __init__(self, *, workers: int = 1) -> None:
        self.queue = WorkQueue(self.name)
        self.workers = max(1, workers)

    async def sync(self, key: str) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    async def wait_synced(self) -> None:
        """Wait for the informers this controller reads; subclasses override."""

    async def run(self, stop: asyncio.Event) -> None:
        await self.wait_synced()
        self.on_synced()
        # Workers finish the sync in hand; one stuck on a dead client is cancelled.
        await run_workers(self.queue, self.sync, stop, name=self.name, workers=self.workers,
                          shutdown_timeout=self.shutdown_timeout,
                          expected=(errors.Conflict, errors.AlreadyExists), logger=log)

    def on_synced(self) -> None:
        """Hook run once the caches are synced, before workers start."""
