"""etcd ``Store`` backend: the scale-out engine (``--store etcd://host:port[,host:port...]``).

Opened by :func:`kubesvc.storage.factory.open_store`; the API server's registry calls it through
the :class:`~kubesvc.storage.store.Store` protocol. A thin adapter over the ``aetcd`` client:
``aetcd.Client`` owns each endpoint's gRPC channel, and this module sends etcd v3 requests on
its stubs directly, because the protocol needs range options (revision, limit, start key),
transactions with compares and watch options that aetcd's convenience methods do not expose:

- create: txn ``create_revision(key) == 0`` then put (else AlreadyExists);
- update/delete: txn ``mod_revision(key) == expected`` (or ``create_revision > 0`` when
  unconditional) then put/delete with ``prev_kv``; on failure a range tells NotFound from
  Conflict;
- list: range ``[max(prefix, start_after+"\\0"), prefix_end)`` at a revision with a limit;
- watch: one gRPC watch stream per watch, with ``prev_kv`` and ``start_revision``; on a lost
  connection it reconnects (next endpoint, backoff) and resumes from the last seen revision
  + 1; progress notifications advance that point while idle;
- compaction and "revision compacted" map to :class:`kubesvc.errors.Gone`.

Unary calls that fail with UNAVAILABLE move to the next endpoint and retry until
``retry_timeout``; writes are retried only when the request provably never left (connect
failure), since a retried write could otherwise apply twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
from collections.abc import AsyncIterator
from typing import Any

import aetcd
from aetcd import rpc

from kubesvc import errors
from kubesvc.storage.store import KeyValue, ListResult, WatchEvent
from kubesvc.storage.watchstream import WatchStream

log = logging.getLogger(__name__)

_EOF: Any = importlib.import_module("grpc.aio").EOF  # end-of-stream marker of call.read()

_CHANNEL_OPTIONS = {
    # Reconnect quickly after an etcd restart instead of gRPC's default 1 s..120 s backoff.
    "grpc.initial_reconnect_backoff_ms": 100,
    "grpc.min_reconnect_backoff_ms": 100,
    "grpc.max_reconnect_backoff_ms": 1000,
    "grpc.max_receive_message_length": 64 * 1024 * 1024,
    "grpc.max_send_message_length": 16 * 1024 * 1024,
}


def parse_endpoints(url: str) -> list[tuple[str, int]]:
    """``etcd://h1:p1,h2:p2[/]`` (IPv6 as ``[::1]:2379``) -> ``[(h1, p1), (h2, p2)]``."""
    rest = url.removeprefix("etcd://").rstrip("/")
    out: list[tuple[str, int]] = []
    for part in filter(None, (p.strip() for p in rest.split(","))):
        host, sep, port = part.rpartition(":")
        if not sep or not port.isdigit():
            host, port = part, "2379"
        out.append((host, int(port)))
    if not out:
        raise errors.BadRequest(f"no etcd endpoints in {url!r}")
    return out


def _range_end(prefix: bytes) -> bytes:
    """etcd's range end for a prefix: the prefix with its last non-0xff byte incremented."""
    p = prefix.rstrip(b"\xff")
    return p[:-1] + bytes([p[-1] + 1]) if p else b"\x00"


def _kv(raw: Any) -> KeyValue:
    return KeyValue(
        bytes(raw.key).decode(), bytes(raw.value), int(raw.create_revision),
        int(raw.mod_revision),
    )


def _map_error(exc: Any, what: str) -> errors.KubeError:
    code = exc.code()
    details = str(exc.details() or "")
    if "compacted" in details:
        return errors.Gone(f"too old resource version: {what}: {details}")
    if "future revision" in details:
        return errors.Timeout(f"Too large resource version: {what}: {details}",
                              retry_after_seconds=1)
    if code == rpc.StatusCode.DEADLINE_EXCEEDED:
        return errors.Timeout(f"etcd {what}: {details}")
    if code == rpc.StatusCode.UNAVAILABLE:
        return errors.ServiceUnavailable(f"etcd unavailable: {what}: {details}")
    if code == rpc.StatusCode.INVALID_ARGUMENT:
        return errors.BadRequest(f"etcd {what}: {details}")
    return errors.InternalError(f"etcd {what}: {code.name}: {details}")


class EtcdStore:
    """A :class:`~kubesvc.storage.store.Store` on an etcd v3 cluster."""

    def __init__(
        self, endpoints: list[tuple[str, int]], *, rpc_timeout: float = 10.0,
        retry_timeout: float = 10.0,
    ) -> None:
        self._endpoints = endpoints
        self._clients: list[Any] = [None] * len(endpoints)
        self._current = 0
        self.rpc_timeout = rpc_timeout
        self.retry_timeout = retry_timeout
        self._watches: set[EtcdWatch] = set()

    @classmethod
    async def connect(
        cls, url: str, *, rpc_timeout: float = 10.0, retry_timeout: float = 10.0
    ) -> EtcdStore:
        """Connect and check that some endpoint answers (ServiceUnavailable otherwise)."""
        store = cls(parse_endpoints(url), rpc_timeout=rpc_timeout, retry_timeout=retry_timeout)
        try:
            await store.revision()
        except BaseException:
            await store.close()
            raise
        return store

    # -- connection management
    async def client(self) -> tuple[int, Any]:
        """The current endpoint's index and its connected ``aetcd.Client``."""
        i = self._current
        c = self._clients[i]
        if c is None:
            host, port = self._endpoints[i]
            c = aetcd.Client(host=host, port=port, options=dict(_CHANNEL_OPTIONS))
            await c.connect()
            self._clients[i] = c
        return i, c

    def failover(self, failed: int) -> None:
        """Move to the next endpoint after ``failed`` stopped answering (other callers may
        have moved already). Channels stay open: gRPC reconnects them by itself."""
        if self._current == failed:
            self._current = (failed + 1) % len(self._endpoints)

    async def _kv_call(self, method: str, request: Any, *, what: str, mutating: bool) -> Any:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.retry_timeout
        delay = 0.05
        while True:
            i, c = await self.client()
            try:
                return await getattr(c.kvstub, method)(request, timeout=self.rpc_timeout)
            except rpc.AioRpcError as exc:
                details = str(exc.details() or "").lower()
                retry = exc.code() == rpc.StatusCode.UNAVAILABLE and (
                    not mutating or "failed to connect" in details
                )
                if not retry or loop.time() + delay > deadline:
                    raise _map_error(exc, what) from exc
                self.failover(i)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 1.0)

    # -- reads
    async def get(self, key: str) -> KeyValue | None:
        resp = await self._kv_call("Range", rpc.RangeRequest(key=key.encode()), what=f"get {key}",
                                   mutating=False)
        return _kv(resp.kvs[0]) if resp.kvs else None

    async def revision(self) -> int:
        resp = await self._kv_call("Range", rpc.RangeRequest(key=b"\x00", count_only=True),
                                   what="revision", mutating=False)
        return int(resp.header.revision)

    async def list(
        self, prefix: str, *, revision: int = 0, limit: int = 0, start_after: str = ""
    ) -> ListResult:
        start = prefix.encode()
        if start_after:
            start = max(start, start_after.encode() + b"\x00")
        req = rpc.RangeRequest(key=start or b"\x00", range_end=_range_end(prefix.encode()),
                               limit=limit, revision=revision)
        resp = await self._kv_call("Range", req, what=f"list {prefix} at {revision}",
                                   mutating=False)
        return ListResult(
            items=[_kv(kv) for kv in resp.kvs],
            revision=revision or int(resp.header.revision),
            more=bool(resp.more),
        )

    # -- writes
    async def _txn(self, key: bytes, compare: Any, success: Any, what: str) -> Any:
        req = rpc.TxnRequest(
            compare=[compare],
            success=[success],
            failure=[rpc.RequestOp(request_range=rpc.RangeRequest(key=key))],
        )
        return await self._kv_call("Txn", req, what=what, mutating=True)

    @staticmethod
    def _guard(key: bytes, expected: int) -> Any:
        if expected:
            return rpc.Compare(key=key, target=rpc.Compare.MOD, result=rpc.Compare.EQUAL,
                               mod_revision=expected)
        return rpc.Compare(key=key, target=rpc.Compare.CREATE, result=rpc.Compare.GREATER,
                           create_revision=0)

    @staticmethod
    def _failed(key: str, resp: Any, expected: int) -> errors.KubeError:
        kvs = resp.responses[0].response_range.kvs
        if not kvs:
            return errors.NotFound(f"key {key} not found")
        return errors.Conflict(
            f"key {key} was modified (mod_revision {int(kvs[0].mod_revision)}, "
            f"expected {expected})"
        )

    async def create(self, key: str, value: bytes) -> KeyValue:
        k = key.encode()
        compare = rpc.Compare(key=k, target=rpc.Compare.CREATE, result=rpc.Compare.EQUAL,
                              create_revision=0)
        put = rpc.RequestOp(request_put=rpc.PutRequest(key=k, value=value))
        resp = await self._txn(k, compare, put, f"create {key}")
        if not resp.succeeded:
            raise errors.AlreadyExists(f"key {key} already exists")
        rev = int(resp.header.revision)
        return KeyValue(key, value, rev, rev)

    async def update(self, key: str, value: bytes, *, expected_mod_revision: int = 0) -> KeyValue:
        k = key.encode()
        put = rpc.RequestOp(request_put=rpc.PutRequest(key=k, value=value, prev_kv=True))
        resp = await self._txn(k, self._guard(k, expected_mod_revision), put, f"update {key}")
        if not resp.succeeded:
            raise self._failed(key, resp, expected_mod_revision)
        prev = resp.responses[0].response_put.prev_kv
        return KeyValue(key, value, int(prev.create_revision), int(resp.header.revision))

    async def delete(self, key: str, *, expected_mod_revision: int = 0) -> KeyValue:
        k = key.encode()
        op = rpc.RequestOp(request_delete_range=rpc.DeleteRangeRequest(key=k, prev_kv=True))
        resp = await self._txn(k, self._guard(k, expected_mod_revision), op, f"delete {key}")
        if not resp.succeeded:
            raise self._failed(key, resp, expected_mod_revision)
        return _kv(resp.responses[0].response_delete_range.prev_kvs[0])

    # -- watch / compaction
    async def watch(self, prefix: str, *, start_revision: int) -> EtcdWatch:
        if start_revision:
            # etcd accepts a watch on a compacted revision and cancels it only afterwards;
            # probe first so that, like the other backends, watch() itself raises Gone.
            probe = rpc.RangeRequest(key=b"\x00", revision=start_revision, count_only=True)
            with contextlib.suppress(errors.Timeout):  # a future revision is fine to watch
                await self._kv_call("Range", probe, what=f"watch {prefix} from {start_revision}",
                                    mutating=False)
        w = EtcdWatch(self, prefix, start_revision)
        self._watches.add(w)
        try:
            await w.wait_created()
        except BaseException:
            await w.close()
            raise
        return w

    def _forget(self, w: EtcdWatch) -> None:
        self._watches.discard(w)

    async def compact(self, revision: int) -> None:
        revision = min(revision, await self.revision())
        if revision <= 0:
            return
        try:
            await self._kv_call("Compact", rpc.CompactionRequest(revision=revision),
                                what=f"compact {revision}", mutating=False)
        except errors.Gone:
            pass  # already compacted at or past this revision

    async def close(self) -> None:
        for w in list(self._watches):
            await w.close()
        clients, self._clients = self._clients, [None] * len(self._endpoints)
        for c in clients:
            if c is not None:
                await c.close()


def _event(raw: Any) -> WatchEvent:
    prev = _kv(raw.prev_kv) if raw.HasField("prev_kv") else None
    if raw.type == rpc.Event.DELETE:
        kv = raw.kv
        create = prev.create_revision if prev else 0
        return WatchEvent("DELETE", KeyValue(bytes(kv.key).decode(), b"", create,
                                             int(kv.mod_revision)), prev)
    kv = _kv(raw.kv)
    return WatchEvent("PUT", kv, None if kv.create_revision == kv.mod_revision else prev)


class EtcdWatch:
    """One etcd watch stream, kept alive across reconnects by a background task."""

    def __init__(self, store: EtcdStore, prefix: str, start_revision: int) -> None:
        self._store = store
        self.prefix = prefix
        self._next = start_revision  # next revision wanted; 0 until the server says "now"
        self._events = WatchStream()
        self._created: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._closed = False
        self._healthy = False  # a stream got its "created" since the last reconnect
        self._task = asyncio.create_task(self._run(), name=f"etcd-watch {prefix}")

    async def wait_created(self) -> None:
        await asyncio.shield(self._created)

    def __aiter__(self) -> AsyncIterator[list[WatchEvent]]:
        return aiter(self._events)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._store._forget(self)
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        if not self._created.done():
            self._created.set_exception(errors.ServiceUnavailable("watch closed"))
            self._created.exception()  # retrieved: nobody else may be waiting
        self._events.end()

    def _end(self, exc: BaseException) -> None:
        if not self._created.done():
            self._created.set_exception(exc)
        else:
            self._events.fail(exc)

    async def _run(self) -> None:
        try:
            await self._loop()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # never die silently: hand the failure to the consumer
            log.exception("etcd watch %s failed", self.prefix)
            self._end(errors.InternalError(f"etcd watch {self.prefix} failed: {exc}"))

    async def _loop(self) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._store.retry_timeout
        delay = 0.1
        while True:
            i, c = await self._store.client()
            call = rpc.WatchStub(c.channel).Watch()
            try:
                if await self._stream(call):
                    return
                reason = "stream ended"
            except rpc.AioRpcError as exc:
                reason = f"{exc.code().name}: {exc.details()}"
            finally:
                call.cancel()
            if not self._created.done() and loop.time() > deadline:
                self._end(errors.ServiceUnavailable(f"etcd watch {self.prefix}: {reason}"))
                return
            if self._healthy:  # the lost stream had worked: restart the backoff
                self._healthy = False
                delay = 0.1
            log.warning("etcd watch %s lost (%s); resuming from revision %d in %.1fs",
                        self.prefix, reason, self._next, delay)
            self._store.failover(i)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)

    async def _stream(self, call: Any) -> bool:
        """Run one stream; True when the watch ended for good (Gone or an error)."""
        p = self.prefix.encode()
        await call.write(rpc.WatchRequest(create_request=rpc.WatchCreateRequest(
            key=p or b"\x00", range_end=_range_end(p), start_revision=self._next,
            prev_kv=True, progress_notify=True,
        )))
        while True:
            resp = await call.read()
            if resp is _EOF:
                return False
            if resp.compact_revision:
                self._end(errors.Gone(
                    f"too old resource version: {self._next} ({int(resp.compact_revision)})"
                ))
                return True
            if resp.canceled:
                self._end(errors.InternalError(
                    f"etcd canceled watch {self.prefix}: {resp.cancel_reason}"))
                return True
            if resp.created:
                self._healthy = True
                if not self._next:
                    self._next = int(resp.header.revision) + 1
                if not self._created.done():
                    self._created.set_result(None)
            if resp.events:
                batch = [_event(e) for e in resp.events]
                self._next = batch[-1].kv.mod_revision + 1
                self._events.extend(batch)
            elif not resp.created:  # progress notification: nothing missed up to header
                self._next = max(self._next, int(resp.header.revision) + 1)
