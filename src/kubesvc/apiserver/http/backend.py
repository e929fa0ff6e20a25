"""What the HTTP layer needs from the Registry: the ``Client`` verbs (options from
:mod:`kubesvc.client.options`) with the extra server-side knobs (warnings, subresources,
deletecollection).

The real implementation is :class:`kubesvc.apiserver.registry.Registry`; this Protocol is
the seam the handlers in :mod:`.crud` and :mod:`.watch` are typed against.
"""

from __future__ import annotations

import builtins
from collections.abc import AsyncIterator
from typing import Any, Protocol

from kubesvc.api.objects import Obj
from kubesvc.client.options import DeleteOptions, ListOptions, WatchOptions, WriteOptions
from kubesvc.client.protocol import PatchType, WatchEventDict


class Backend(Protocol):
    async def get(
        self, resource: str, name: str, *, namespace: str | None = None, subresource: str = ""
    ) -> Obj: ...

    async def list(
        self, resource: str, *, namespace: str | None = None, opts: ListOptions = ListOptions()
    ) -> Obj: ...

    def watch(
        self, resource: str, *, namespace: str | None = None, opts: WatchOptions = WatchOptions()
    ) -> AsyncIterator[WatchEventDict]: ...

    async def create(
        self, resource: str, obj: Obj, *, namespace: str | None = None,
        opts: WriteOptions = WriteOptions(), warnings: builtins.list[str] | None = None,
        subresource: str = "", name: str = "",
    ) -> Obj:
        """``subresource="binding"`` on pods binds pod ``name`` to the Binding's target."""
        ...

    async def update(
        self, resource: str, obj: Obj, *, namespace: str | None = None, subresource: str = "",
        opts: WriteOptions = WriteOptions(), warnings: builtins.list[str] | None = None,
    ) -> Obj: ...

    async def patch(
        self, resource: str, name: str, patch: Any, *, namespace: str | None = None,
        patch_type: PatchType = "merge", subresource: str = "",
        opts: WriteOptions = WriteOptions(), warnings: builtins.list[str] | None = None,
    ) -> Obj: ...

    async def delete(
        self, resource: str, name: str, *, namespace: str | None = None,
        opts: DeleteOptions = DeleteOptions(),
    ) -> Obj: ...

    async def delete_collection(
        self, resource: str, *, namespace: str | None = None,
        opts: DeleteOptions = DeleteOptions(), list_opts: ListOptions = ListOptions(),
    ) -> Obj: ...
