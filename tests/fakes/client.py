"""FakeClient: an in-memory implementation of the ``Client`` protocol for unit tests of
controllers, DNS, proxy and the node agent. It keeps objects in dicts, hands out increasing
resourceVersions, and fans out watch events; it does no defaulting or validation beyond
name/namespace bookkeeping. Selectors: equality (``a=b``, ``a!=b``) and existence only.
Patches: merge and strategic are applied as JSON merge patch (enough for tests).
"""

from __future__ import annotations

import asyncio
import copy
import uuid
from collections.abc import AsyncIterator
from typing import Any

from kubesvc import errors
from kubesvc.api import resources
from kubesvc.api.objects import Obj
from kubesvc.client.options import DeleteOptions, ListOptions, WatchOptions, WriteOptions
from kubesvc.client.protocol import PatchType, WatchEventDict


def _merge(doc: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = dict(doc) if isinstance(doc, dict) else {}
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = _merge(out.get(k), v)
    return out


def _match_labels(selector: str, labels: dict[str, str]) -> bool:
    for part in filter(None, (p.strip() for p in selector.split(","))):
        if "!=" in part:
            k, v = part.split("!=", 1)
            if labels.get(k.strip()) == v.strip():
                return False
        elif "=" in part:
            k, v = part.replace("==", "=").split("=", 1)
            if labels.get(k.strip()) != v.strip():
                return False
        elif part.startswith("!"):
            if part[1:] in labels:
                return False
        elif part not in labels:
            return False
    return True


def _field(obj: Obj, path: str) -> str:
    cur: Any = obj
    for seg in path.split("."):
        cur = cur.get(seg) if isinstance(cur, dict) else None
    return "" if cur is None else str(cur)


def _match_fields(selector: str, obj: Obj) -> bool:
    for part in filter(None, (p.strip() for p in selector.split(","))):
        if "!=" in part:
            k, v = part.split("!=", 1)
            if _field(obj, k) == v:
                return False
        else:
            k, v = part.replace("==", "=").split("=", 1)
            if _field(obj, k) != v:
                return False
    return True


class FakeClient:
    def __init__(self) -> None:
        self.rv = 0
        self.objects: dict[str, dict[tuple[str, str], Obj]] = {}
        self._watchers: list[tuple[str, str | None, asyncio.Queue[WatchEventDict | None]]] = []
        self.history: list[tuple[str, str, WatchEventDict]] = []  # (resource, ns, event)
        self.actions: list[tuple[str, str, str]] = []  # (verb, resource, key) for assertions

    # -- helpers
    def _info(self, resource: str) -> resources.ResourceInfo:
        return resources.lookup(resource)

    def _bucket(self, resource: str) -> dict[tuple[str, str], Obj]:
        return self.objects.setdefault(self._info(resource).key, {})

    def _ns(self, resource: str, namespace: str | None, obj: Obj | None = None) -> str:
        if not self._info(resource).namespaced:
            return ""
        return namespace or (obj or {}).get("metadata", {}).get("namespace") or "default"

    def _not_found(self, resource: str, name: str) -> errors.NotFound:
        return errors.NotFound(f'{self._info(resource).key} "{name}" not found', name=name)

    def _emit(self, resource: str, ns: str, typ: str, obj: Obj) -> None:
        key = self._info(resource).key
        ev: WatchEventDict = {"type": typ, "object": copy.deepcopy(obj)}
        self.history.append((key, ns, ev))
        for wres, wns, q in self._watchers:
            if wres == key and (not wns or wns == ns):
                q.put_nowait(ev)

    # -- Client protocol
    async def get(self, resource: str, name: str, *, namespace: str | None = None) -> Obj:
        obj = self._bucket(resource).get((self._ns(resource, namespace), name))
        if obj is None:
            raise self._not_found(resource, name)
        return copy.deepcopy(obj)

    async def list(
        self, resource: str, *, namespace: str | None = None, opts: ListOptions = ListOptions()
    ) -> Obj:
        info = self._info(resource)
        items = [
            copy.deepcopy(o)
            for (ns, _), o in sorted(self._bucket(resource).items())
            if (not namespace or ns == namespace)
            and _match_labels(opts.label_selector, o.get("metadata", {}).get("labels") or {})
            and _match_fields(opts.field_selector, o)
        ]
        return {
            "kind": info.list_kind,
            "apiVersion": info.api_version,
            "metadata": {"resourceVersion": str(self.rv)},
            "items": items,
        }

    async def watch(
        self, resource: str, *, namespace: str | None = None, opts: WatchOptions = WatchOptions()
    ) -> AsyncIterator[WatchEventDict]:
        key = self._info(resource).key
        q: asyncio.Queue[WatchEventDict | None] = asyncio.Queue()
        start = int(opts.resource_version or 0)
        for hres, hns, past in self.history:
            if hres == key and (not namespace or hns == namespace):
                if int(past["object"]["metadata"]["resourceVersion"]) > start:
                    q.put_nowait(past)
        entry = (key, namespace, q)
        self._watchers.append(entry)
        try:
            while True:
                ev = await q.get()
                if ev is None:
                    return
                obj = ev["object"]
                if _match_labels(
                    opts.label_selector, obj.get("metadata", {}).get("labels") or {}
                ) and _match_fields(opts.field_selector, obj):
                    yield ev
        finally:
            self._watchers.remove(entry)

    def close_watches(self) -> None:
        """End every open watch stream (as a server-side timeout would)."""
        for _, _, q in self._watchers:
            q.put_nowait(None)

    async def create(
        self, resource: str, obj: Obj, *, namespace: str | None = None,
        opts: WriteOptions = WriteOptions(),
    ) -> Obj:
        info = self._info(resource)
        obj = copy.deepcopy(obj)
        md = obj.setdefault("metadata", {})
        if not md.get("name") and md.get("generateName"):
            md["name"] = md["generateName"] + uuid.uuid4().hex[:5]
        ns = self._ns(resource, namespace, obj)
        if info.namespaced:
            md["namespace"] = ns
        bucket = self._bucket(resource)
        if (ns, md["name"]) in bucket:
            raise errors.AlreadyExists(f'{info.key} "{md["name"]}" already exists')
        obj.setdefault("apiVersion", info.api_version)
        obj.setdefault("kind", info.kind)
        md.setdefault("uid", str(uuid.uuid4()))
        md.setdefault("creationTimestamp", "2026-01-01T00:00:00Z")
        self.rv += 1
        md["resourceVersion"] = str(self.rv)
        if opts.dry_run:
            return obj
        bucket[(ns, md["name"])] = obj
        self.actions.append(("create", info.key, f"{ns}/{md['name']}"))
        self._emit(resource, ns, "ADDED", obj)
        return copy.deepcopy(obj)

    async def update(
        self, resource: str, obj: Obj, *, namespace: str | None = None, subresource: str = "",
        opts: WriteOptions = WriteOptions(),
    ) -> Obj:
        info = self._info(resource)
        obj = copy.deepcopy(obj)
        md = obj["metadata"]
        ns = self._ns(resource, namespace, obj)
        bucket = self._bucket(resource)
        cur = bucket.get((ns, md["name"]))
        if cur is None:
            raise self._not_found(resource, md["name"])
        want = md.get("resourceVersion")
        if want and want != cur["metadata"]["resourceVersion"]:
            raise errors.Conflict(
                f'Operation cannot be fulfilled on {info.key} "{md["name"]}": the object has '
                "been modified; please apply your changes to the latest version and try again"
            )
        if subresource == "status":
            new = copy.deepcopy(cur)
            new["status"] = obj.get("status", {})
            obj = new
        self.rv += 1
        obj["metadata"]["resourceVersion"] = str(self.rv)
        if opts.dry_run:
            return obj
        if obj["metadata"].get("deletionTimestamp") and not obj["metadata"].get("finalizers"):
            del bucket[(ns, md["name"])]
            self._emit(resource, ns, "DELETED", obj)
            return copy.deepcopy(obj)
        bucket[(ns, md["name"])] = obj
        self.actions.append(("update" + (f"/{subresource}" if subresource else ""), info.key,
                             f"{ns}/{md['name']}"))
        self._emit(resource, ns, "MODIFIED", obj)
        return copy.deepcopy(obj)

    async def patch(
        self, resource: str, name: str, patch: Any, *, namespace: str | None = None,
        patch_type: PatchType = "merge", subresource: str = "",
        opts: WriteOptions = WriteOptions(),
    ) -> Obj:
        cur = await self.get(resource, name, namespace=namespace)
        new = _merge(cur, patch)
        new["metadata"]["resourceVersion"] = cur["metadata"]["resourceVersion"]
        return await self.update(
            resource, new, namespace=namespace, subresource=subresource, opts=opts
        )

    async def delete(
        self, resource: str, name: str, *, namespace: str | None = None,
        opts: DeleteOptions = DeleteOptions(),
    ) -> Obj:
        info = self._info(resource)
        ns = self._ns(resource, namespace)
        bucket = self._bucket(resource)
        cur = bucket.get((ns, name))
        if cur is None:
            raise self._not_found(resource, name)
        if opts.dry_run:
            return copy.deepcopy(cur)
        self.rv += 1
        if cur["metadata"].get("finalizers"):
            cur = copy.deepcopy(cur)
            cur["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
            cur["metadata"]["resourceVersion"] = str(self.rv)
            bucket[(ns, name)] = cur
            self._emit(resource, ns, "MODIFIED", cur)
            return copy.deepcopy(cur)
        del bucket[(ns, name)]
        cur = copy.deepcopy(cur)
        cur["metadata"]["resourceVersion"] = str(self.rv)
        self.actions.append(("delete", info.key, f"{ns}/{name}"))
        self._emit(resource, ns, "DELETED", cur)
        return cur
