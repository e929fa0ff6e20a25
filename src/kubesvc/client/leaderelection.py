"""Leader election through ``coordination.k8s.io/v1`` Leases, as client-go's
``tools/leaderelection`` does it.

Several replicas of a component (``kubesvc server``'s controllers) call
:meth:`LeaderElector.run`; at most one of them holds the Lease at a time and runs its
``on_started_leading`` callback. The algorithm is upstream's ``tryAcquireOrRenew``:

- read the Lease; create it when missing (holder = us, ``leaseTransitions`` 0);
- whenever the stored record changes, remember it and the *local* monotonic time we saw it
  (no clock comparison between machines: a lease is expired when we have seen no change for
  ``leaseDurationSeconds``);
- someone else holds an unexpired lease: wait ``retry_period`` (jittered) and try again;
- otherwise write the record with the read ``resourceVersion`` (optimistic concurrency: a
  Conflict means another replica won). Taking over from another holder (or from a released
  lease) bumps ``leaseTransitions`` and sets ``acquireTime``; renewing keeps both.

While leading, the elector renews every ``retry_period``; when no renewal succeeds within
``renew_deadline`` it stops leading: the event given to the callback is set, and the
callback's task is cancelled if it has not returned within ``stop_grace`` (at most one retry
period: a deposed leader must not go on writing). On ``stop``
a leader releases the Lease (empty ``holderIdentity``, ``leaseDurationSeconds`` 1) so the
next replica takes over without waiting for expiry, as ``ReleaseOnCancel`` does.

Uses only the :class:`~kubesvc.client.protocol.Client` protocol; called by
:mod:`kubesvc.cli.server`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from kubesvc import errors
from kubesvc.api.objects import Obj
from kubesvc.api.timefmt import micro_time_epoch
from kubesvc.client.protocol import Client

log = logging.getLogger(__name__)

LEASES = "leases.coordination.k8s.io"
JITTER_FACTOR = 1.2  # client-go's JitterFactor


@dataclass(frozen=True, slots=True)
class LeaderElectionRecord:
    """The fields of a Lease's spec that leader election reads and writes."""

    holder_identity: str = ""
    lease_duration_seconds: int = 0
    acquire_time: str = ""
    renew_time: str = ""
    lease_transitions: int = 0

    @classmethod
    def from_lease(cls, lease: Obj) -> LeaderElectionRecord:
        spec = lease.get("spec") or {}
        return cls(
            holder_identity=str(spec.get("holderIdentity") or ""),
            lease_duration_seconds=int(spec.get("leaseDurationSeconds") or 0),
            acquire_time=str(spec.get("acquireTime") or ""),
            renew_time=str(spec.get("renewTime") or ""),
            lease_transitions=int(spec.get("leaseTransitions") or 0),
        )

    def spec(self) -> Obj:
        out: Obj = {"holderIdentity": self.holder_identity,
                    "leaseDurationSeconds": self.lease_duration_seconds,
                    "leaseTransitions": self.lease_transitions}
        if self.acquire_time:
            out["acquireTime"] = self.acquire_time
        if self.renew_time:
            out["renewTime"] = self.renew_time
        return out


class LeaderElector:
    """One candidate for one Lease. ``identity`` must be unique among the candidates
    (upstream uses ``<hostname>_<uuid>``)."""

    def __init__(
        self,
        client: Client,
        *,
        namespace: str = "kube-system",
        name: str = "kubesvc-controller-manager",
        identity: str,
        lease_duration: float = 15.0,
        renew_deadline: float = 10.0,
        retry_period: float = 2.0,
        stop_grace: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        if not identity:
            raise ValueError("leader election requires an identity")
        if lease_duration <= renew_deadline:
            raise ValueError("lease_duration must be greater than renew_deadline")
        if renew_deadline <= JITTER_FACTOR * retry_period:
            raise ValueError(f"renew_deadline must be greater than retry_period*{JITTER_FACTOR}")
        if retry_period <= 0:
            raise ValueError("retry_period must be greater than zero")
        self.client = client
        self.namespace = namespace
        self.name = name
        self.identity = identity
        self.lease_duration = lease_duration
        self.renew_deadline = renew_deadline
        self.retry_period = retry_period
        self.stop_grace = min(stop_grace, retry_period)
        self._clock = clock
        self._wall = wall_clock
        self._observed: LeaderElectionRecord | None = None
        self._observed_rv = ""
        self._observed_time = 0.0
        self._leading = False
        # The Lease carries whole seconds (at least 1); tests use sub-second periods.
        self._duration_seconds = max(1, math.ceil(lease_duration))

    # -- state
    @property
    def is_leader(self) -> bool:
        return self._leading

    @property
    def leader(self) -> str:
        """The holder identity last observed ("" when unknown or released)."""
        return self._observed.holder_identity if self._observed is not None else ""

    # -- main loop
    async def run(
        self,
        stop: asyncio.Event,
        on_started_leading: Callable[[asyncio.Event], Awaitable[None]],
        *,
        on_new_leader: Callable[[str], None] | None = None,
    ) -> None:
        """Campaign until ``stop`` is set; whenever this candidate leads, run
        ``on_started_leading(lost)`` until it returns, ``stop`` is set or the lease is
        lost (then ``lost`` is set and the callback is cancelled), and campaign again."""
        last_leader = ""
        while not stop.is_set():
            if not await self._acquire(stop):
                break
            lost = asyncio.Event()
            self._leading = True
            log.info("%s: became leader of lease %s/%s", self.identity, self.namespace,
                     self.name)
            if on_new_leader is not None and last_leader != self.identity:
                on_new_leader(self.identity)
            last_leader = self.identity
            work = asyncio.ensure_future(on_started_leading(lost))
            if isinstance(work, asyncio.Task):
                work.set_name(f"leading {self.name}")
            renew = asyncio.create_task(self._renew_until_lost(stop),
                                        name=f"lease-renew {self.name}")
            stop_wait = asyncio.ensure_future(stop.wait())
            failed = False
            try:
                pending: set[asyncio.Future[Any]] = {work, renew, stop_wait}
                while True:
                    done, pending = await asyncio.wait(pending,
                                                       return_when=asyncio.FIRST_COMPLETED)
                    if done == {work} and work.exception() is None:
                        continue  # the work ended by itself: hold the lease till told
                    failed = work in done and work.exception() is not None
                    break
            finally:
                self._leading = False
                lost.set()
                renew.cancel()
                stop_wait.cancel()
                # A moment for the work to wind down through ``lost`` (closing its watches
                # in order), then cancellation: a deposed leader must stop writing.
                try:
                    await asyncio.wait_for(asyncio.shield(work), self.stop_grace)
                except asyncio.CancelledError:
                    work.cancel()
                    await asyncio.gather(work, return_exceptions=True)
                    raise
                except Exception:
                    pass  # (TimeoutError, or the work failed: handled below)
                work.cancel()
                await asyncio.gather(work, renew, stop_wait, return_exceptions=True)
            if failed:
                log.error("%s: leading callback failed; handing the lease over",
                          self.identity, exc_info=work.exception())
            if stop.is_set() or failed:
                await self._release()
            else:
                log.warning("%s: lost lease %s/%s", self.identity, self.namespace, self.name)
            if failed:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.retry_period)

    async def _acquire(self, stop: asyncio.Event) -> bool:
        """Try until acquired (True) or ``stop`` (False), every jittered retry period."""
        while not stop.is_set():
            if await self._try_acquire_or_renew():
                return True
            delay = self.retry_period * (1 + random.random() * JITTER_FACTOR)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)
        return False

    async def _renew_until_lost(self, stop: asyncio.Event) -> None:
        """Renew every retry period; return when no renewal succeeded within the renew
        deadline (the lease is then considered lost)."""
        last_ok = self._clock()
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.retry_period)
            if stop.is_set():
                return
            remaining = self.renew_deadline - (self._clock() - last_ok)
            ok = False
            if remaining > 0:
                try:
                    ok = await asyncio.wait_for(self._try_acquire_or_renew(), remaining)
                except TimeoutError:
                    ok = False
            if ok:
                last_ok = self._clock()
            elif self._clock() - last_ok >= self.renew_deadline:
                return
            elif self._observed is not None and \
                    self._observed.holder_identity not in ("", self.identity):
                return  # someone else holds it now

    # -- one attempt (upstream tryAcquireOrRenew)
    def _record(self, old: LeaderElectionRecord | None) -> LeaderElectionRecord:
        now = micro_time_epoch(self._wall())
        if old is not None and old.holder_identity == self.identity and old.acquire_time:
            return LeaderElectionRecord(self.identity, self._duration_seconds,
                                        old.acquire_time, now, old.lease_transitions)
        transitions = old.lease_transitions + 1 if old is not None else 0
        return LeaderElectionRecord(self.identity, self._duration_seconds, now, now,
                                    transitions)

    def _observe(self, record: LeaderElectionRecord, rv: str) -> None:
        if record != self._observed:
            self._observed = record
            self._observed_time = self._clock()
        self._observed_rv = rv

    async def _try_acquire_or_renew(self) -> bool:
        try:
            return await self._attempt()
        except errors.KubeError as exc:
            log.info("%s: lease %s/%s: %s", self.identity, self.namespace, self.name, exc)
        except Exception:
            # Not an API error (e.g. a store client failing in-process): log, try later.
            log.exception("%s: lease %s/%s attempt failed", self.identity, self.namespace,
                          self.name)
        return False

    async def _attempt(self) -> bool:
        try:
            lease = await self.client.get(LEASES, self.name, namespace=self.namespace)
        except errors.NotFound:
            record = self._record(None)
            body: Obj = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                         "metadata": {"name": self.name, "namespace": self.namespace},
                         "spec": record.spec()}
            try:
                created = await self.client.create(LEASES, body, namespace=self.namespace)
            except errors.KubeError as exc:
                log.debug("%s: creating lease failed: %s", self.identity, exc)
                return False
            self._observe(record, _rv(created))
            return True
        except errors.KubeError as exc:
            log.info("%s: error retrieving lease %s/%s: %s", self.identity, self.namespace,
                     self.name, exc)
            return False
        old = LeaderElectionRecord.from_lease(lease)
        self._observe(old, _rv(lease))
        held_by_other = old.holder_identity not in ("", self.identity)
        expires = self._observed_time + (old.lease_duration_seconds or self.lease_duration)
        if held_by_other and expires > self._clock():
            return False
        record = self._record(old)
        new = {**lease, "spec": {**(lease.get("spec") or {}), **record.spec()}}
        try:
            updated = await self.client.update(LEASES, new, namespace=self.namespace)
        except errors.KubeError as exc:
            # Conflict: another candidate wrote first; anything else: try again later.
            log.debug("%s: updating lease failed: %s", self.identity, exc)
            return False
        self._observe(record, _rv(updated))
        return True

    async def _release(self) -> None:
        """Give the lease up if we still hold it (empty holder, 1 s duration)."""
        try:
            lease = await self.client.get(LEASES, self.name, namespace=self.namespace)
            old = LeaderElectionRecord.from_lease(lease)
            if old.holder_identity != self.identity:
                return
            now = micro_time_epoch(self._wall())
            record = LeaderElectionRecord("", 1, now, now, old.lease_transitions)
            spec: dict[str, Any] = {**(lease.get("spec") or {}), **record.spec()}
            await self.client.update(LEASES, {**lease, "spec": spec}, namespace=self.namespace)
            self._observe(record, "")
            log.info("%s: released lease %s/%s", self.identity, self.namespace, self.name)
        except Exception as exc:
            log.info("%s: releasing lease failed (it will expire): %s", self.identity, exc)


def _rv(obj: Obj) -> str:
    return str((obj.get("metadata") or {}).get("resourceVersion") or "")
