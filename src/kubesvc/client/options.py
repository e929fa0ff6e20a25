"""The options of the Client verbs, one frozen dataclass per kind of call (upstream's
``metav1.ListOptions``, ``CreateOptions``/``UpdateOptions``/``PatchOptions`` and
``DeleteOptions``), so that the verb signatures of :class:`~.protocol.Client`, the HTTP
client, the API server's registry and the test fake name them once.

Each knows its wire form: :meth:`ListOptions.query`, :meth:`WatchOptions.query` and
:meth:`WriteOptions.query` give the query parameters the REST API reads (only those that
differ from the default), :meth:`DeleteOptions.body` the DeleteOptions body. The API server
parses requests into the same classes (``kubesvc.apiserver.http.params``).

Used by every caller of a Client; imports nothing of kubesvc.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Selection:
    """What a list or a watch reads: selectors and the resourceVersion to start at."""

    label_selector: str = ""
    field_selector: str = ""
    resource_version: str = ""

    def _query(self) -> dict[str, str]:
        return {k: v for k, v in (
            ("labelSelector", self.label_selector), ("fieldSelector", self.field_selector),
            ("resourceVersion", self.resource_version),
        ) if v}


@dataclass(frozen=True, slots=True)
class ListOptions(Selection):
    """``resource_version_match`` (``Exact`` | ``NotOlderThan``) is served by the API
    server's registry; ``limit``/``continue_token`` page the list."""

    resource_version_match: str = ""
    limit: int = 0
    continue_token: str = ""

    def query(self) -> dict[str, str]:
        out = self._query()
        if self.resource_version_match:
            out["resourceVersionMatch"] = self.resource_version_match
        if self.limit:
            out["limit"] = str(self.limit)
        if self.continue_token:
            out["continue"] = self.continue_token
        return out


@dataclass(frozen=True, slots=True)
class WatchOptions(Selection):
    """``timeout_seconds`` 0: the server picks the span (upstream: 30-60 minutes)."""

    allow_bookmarks: bool = True
    timeout_seconds: int = 0

    def query(self) -> dict[str, str]:
        out = {"watch": "true", **self._query()}
        if self.allow_bookmarks:
            out["allowWatchBookmarks"] = "true"
        if self.timeout_seconds:
            out["timeoutSeconds"] = str(self.timeout_seconds)
        return out


@dataclass(frozen=True, slots=True)
class WriteOptions:
    """Options of create, update and patch.

    ``field_validation`` ``""`` means none was sent: over HTTP the API server then applies
    upstream's default, ``Warn``; the in-process registry skips the unknown-field walk for
    it (its callers are kubesvc components whose objects carry only declared fields).
    ``field_manager``/``force`` matter for apply patches."""

    dry_run: bool = False
    field_validation: str = ""
    field_manager: str = ""
    force: bool = False

    def query(self) -> dict[str, str]:
        out: dict[str, str] = {}
        if self.dry_run:
            out["dryRun"] = "All"
        if self.field_validation:
            out["fieldValidation"] = self.field_validation
        if self.field_manager:
            out["fieldManager"] = self.field_manager
        if self.force:
            out["force"] = "true"
        return out


@dataclass(frozen=True, slots=True)
class DeleteOptions:
    """``grace_period_seconds`` None: the object's own (pods: terminationGracePeriodSeconds);
    ``orphan_dependents`` is the deprecated field, None when not set."""

    propagation_policy: str = ""
    grace_period_seconds: int | None = None
    preconditions: dict[str, str] | None = None
    dry_run: bool = False
    orphan_dependents: bool | None = None

    def query(self) -> dict[str, str]:
        return {"dryRun": "All"} if self.dry_run else {}

    def body(self) -> dict[str, Any] | None:
        """The ``DeleteOptions`` request body, None when every option is the default."""
        opts: dict[str, Any] = {}
        if self.propagation_policy:
            opts["propagationPolicy"] = self.propagation_policy
        if self.grace_period_seconds is not None:
            opts["gracePeriodSeconds"] = self.grace_period_seconds
        if self.preconditions:
            opts["preconditions"] = dict(self.preconditions)
        if self.orphan_dependents is not None:
            opts["orphanDependents"] = self.orphan_dependents
        if self.dry_run:
            opts["dryRun"] = ["All"]
        return {"kind": "DeleteOptions", "apiVersion": "v1", **opts} if opts else None
