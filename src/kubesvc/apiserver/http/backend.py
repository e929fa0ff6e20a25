"""What the HTTP layer needs from the Registry: the ``Client`` verbs with the extra
server-side knobs (field validation, subresources, deletecollection).

The real implementation is :class:`kubesvc.apiserver.registry.Registry`; this Protocol is
the seam the handlers in :mod:`.crud` and :mod:`.watch` are typed against.
"""

from __future__ import annotations

import builtins
from collections.abc import AsyncIterator
from typing import Any, Protocol

from kubesvc.api.objects import Obj
from kubesvc.client.protocol import PatchType, WatchEventDict


class Backend(Protocol):
    async def get(
        self, resource: str, name: str, *, namespace: str | None = None, subresource: str = ""
    ) -> Obj: ...

    async def list(
        self,
        resource: str,
        *,
        namespace: str | None = None,
        label_selector: str = "",
        field_selector: str = "",
        resource_version: str = "",
        resource_version_match: str = "",
        limit: int = 0,
        continue_token: str = "",
    ) -> Obj: ...

    def watch(
        self,
        resource: str,
        *,
        namespace: str | None = None,
        label_selector: str = "",
        field_selector: str = "",
        resource_version: str = "",
        allow_bookmarks: bool = True,
        timeout_seconds: int = 0,
    ) -> AsyncIterator[WatchEventDict]: ...

    async def create(
        self,
        resource: str,
        obj: Obj,
        *,
        namespace: str | None = None,
        dry_run: bool = False,
        field_validation: str = "Warn",
        warnings: builtins.list[str] | None = None,
        subresource: str = "",
        name: str = "",
    ) -> Obj:
        """``subresource="binding"`` on pods binds pod ``name`` to the Binding's target."""
        ...

    async def update(
        self,
        resource: str,
        obj: Obj,
        *,
        namespace: str | None = None,
        subresource: str = "",
        dry_run: bool = False,
        field_validation: str = "Warn",
        warnings: builtins.list[str] | None = None,
    ) -> Obj: ...

    async def patch(
        self,
        resource: str,
        name: str,
        patch: Any,
        *,
        namespace: str | None = None,
        patch_type: PatchType = "merge",
        subresource: str = "",
        dry_run: bool = False,
        field_validation: str = "Warn",
        field_manager: str = "",
        force: bool = False,
        warnings: builtins.list[str] | None = None,
    ) -> Obj: ...

    async def delete(
        self,
        resource: str,
        name: str,
        *,
        namespace: str | None = None,
        propagation_policy: str = "",
        grace_period_seconds: int | None = None,
        preconditions: dict[str, str] | None = None,
        dry_run: bool = False,
    ) -> Obj: ...

    async def delete_collection(
        self,
        resource: str,
        *,
        namespace: str | None = None,
        label_selector: str = "",
        field_selector: str = "",
        propagation_policy: str = "",
        grace_period_seconds: int | None = None,
        dry_run: bool = False,
    ) -> Obj: ...
