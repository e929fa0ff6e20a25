"""The ``Client`` protocol: the API verbs on plain-dict objects.

``resource`` is a resource key from :mod:`kubesvc.api.resources` (``services``,
``endpointslices.discovery.k8s.io``, ``deployments.apps``). Objects go in and come out as
JSON dicts exactly as the REST API carries them. Errors are :mod:`kubesvc.errors` classes
(NotFound, AlreadyExists, Conflict, Invalid, Gone, ...). The options of each verb are the
frozen dataclasses of :mod:`kubesvc.client.options`.

Implementations: :class:`kubesvc.client.http.HttpClient` (HTTPS to an API server) and the
API server's own ``Registry`` (in-process, for ``kubesvc up``); the fake for tests is
``tests/fakes/client.py``. Never mutate an object you got back from a watch or cache.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, Literal, Protocol, TypedDict, runtime_checkable

from kubesvc.api.objects import Obj
from kubesvc.client.options import DeleteOptions, ListOptions, WatchOptions, WriteOptions

PatchType = Literal["json", "merge", "strategic", "apply"]

PATCH_CONTENT_TYPES: dict[str, str] = {
    "json": "application/json-patch+json",
    "merge": "application/merge-patch+json",
    "strategic": "application/strategic-merge-patch+json",
    "apply": "application/apply-patch+yaml",
}


class WatchEventDict(TypedDict):
    type: str  # ADDED | MODIFIED | DELETED | BOOKMARK | ERROR
    object: Obj


@runtime_checkable
class Client(Protocol):
    async def get(self, resource: str, name: str, *, namespace: str | None = None) -> Obj: ...

    async def list(
        self, resource: str, *, namespace: str | None = None, opts: ListOptions = ListOptions()
    ) -> Obj:
        """A ``<Kind>List`` dict with ``metadata.resourceVersion`` (and ``continue``)."""
        ...

    def watch(
        self, resource: str, *, namespace: str | None = None, opts: WatchOptions = WatchOptions()
    ) -> AsyncIterator[WatchEventDict]:
        """Events after ``opts.resource_version``. Ends (StopIteration) when the server ends
        the stream; raises ``errors.Gone`` when the version is too old (re-list then)."""
        ...

    async def create(
        self, resource: str, obj: Obj, *, namespace: str | None = None,
        opts: WriteOptions = WriteOptions(),
    ) -> Obj: ...

    async def update(
        self, resource: str, obj: Obj, *, namespace: str | None = None, subresource: str = "",
        opts: WriteOptions = WriteOptions(),
    ) -> Obj:
        """PUT; ``metadata.resourceVersion`` in ``obj`` guards against stale writes
        (Conflict)."""
        ...

    async def patch(
        self, resource: str, name: str, patch: Any, *, namespace: str | None = None,
        patch_type: PatchType = "merge", subresource: str = "",
        opts: WriteOptions = WriteOptions(),
    ) -> Obj: ...

    async def delete(
        self, resource: str, name: str, *, namespace: str | None = None,
        opts: DeleteOptions = DeleteOptions(),
    ) -> Obj:
        """Returns the deleted object (or the object marked for deletion when it has
        finalizers or a grace period)."""
        ...
