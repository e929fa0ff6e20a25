"""The API server's RBAC state: informer caches of the four RBAC kinds (the
:class:`~kubesvc.api.rbac.authorizer.PolicySource` every authorization decision reads,
so a request never reads the store), upstream's bootstrap policy created and reconciled
at start (``rbac.authorization.kubernetes.io/autoupdate``), and the ClusterRole
aggregation controller (upstream's ``clusterrole-aggregation`` controller) that keeps an
aggregated role's rules the union of the roles its selectors match.

Built and run by :class:`.server.ApiServer`; read by :mod:`.authz`. Talks to the Registry
in-process (the Backend), so nothing here passes through authorization itself.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, cast

from kubesvc import errors
from kubesvc.api.objects import Obj
from kubesvc.api.rbac import bootstrap
from kubesvc.api.rbac.aggregation import aggregated_rules
from kubesvc.api.rbac.rules import subject_key
from kubesvc.apiserver.http.backend import Backend
from kubesvc.client.protocol import Client
from kubesvc.informers import Informer
from kubesvc.informers.indexer import Indexer

log = logging.getLogger(__name__)

ROLES = "roles.rbac.authorization.k8s.io"
CLUSTER_ROLES = "clusterroles.rbac.authorization.k8s.io"
ROLE_BINDINGS = "rolebindings.rbac.authorization.k8s.io"
CLUSTER_ROLE_BINDINGS = "clusterrolebindings.rbac.authorization.k8s.io"
RBAC_KEYS = (ROLES, CLUSTER_ROLES, ROLE_BINDINGS, CLUSTER_ROLE_BINDINGS)


SUBJECT_INDEX = "subject"


def _subject_index(binding: Obj) -> list[str]:
    ns = str((binding.get("metadata") or {}).get("namespace") or "")
    subjects = binding.get("subjects")
    out = {f"{ns}|{k}" for s in (subjects if isinstance(subjects, list) else [])
           if isinstance(s, Mapping) and (k := subject_key(s, ns))}
    return sorted(out)


def _union(indexer: Indexer, values: Sequence[str]) -> list[Obj]:
    seen: set[int] = set()
    out: list[Obj] = []
    for v in values:
        for b in indexer.by_index(SUBJECT_INDEX, v):
            if id(b) not in seen:
                seen.add(id(b))
                out.append(b)
    return out


class PolicyCache:
    """Informers over the RBAC kinds; a PolicySource once synced."""

    def __init__(self, backend: Backend) -> None:
        # The Registry is a Client; the Backend protocol names only what HTTP handlers use.
        client = cast(Client, backend)
        self.backend = backend
        self.informers = {key: Informer(client, key) for key in RBAC_KEYS}
        # bindings by "<namespace>|<subject key>", so a decision visits only the bindings
        # that may name the user (not all of them: thousands in a namespace is common)
        for key in (ROLE_BINDINGS, CLUSTER_ROLE_BINDINGS):
            self.informers[key].indexer.add_index(SUBJECT_INDEX, _subject_index)
        self._aggregate = asyncio.Event()
        # bumped on every change of a role or binding: caches of decisions compare it
        self.generation = 0
        for inf in self.informers.values():
            inf.add_handler(on_add=self._bump, on_update=lambda _o, _n: self._bump(),
                            on_delete=self._bump)
        self.informers[CLUSTER_ROLES].add_handler(
            on_add=lambda _o: self._aggregate.set(),
            on_update=lambda _o, _n: self._aggregate.set(),
            on_delete=lambda _o: self._aggregate.set(),
        )

    def _bump(self, _obj: object = None) -> None:
        self.generation += 1

    # -- PolicySource
    def cluster_role(self, name: str) -> Obj | None:
        return self.informers[CLUSTER_ROLES].indexer.get(name)

    def role(self, namespace: str, name: str) -> Obj | None:
        return self.informers[ROLES].indexer.get(f"{namespace}/{name}")

    def cluster_role_bindings(self, keys: Sequence[str] | None = None) -> Iterable[Obj]:
        indexer = self.informers[CLUSTER_ROLE_BINDINGS].indexer
        if keys is None:
            return indexer.list()
        return _union(indexer, [f"|{k}" for k in keys])

    def role_bindings(self, namespace: str, keys: Sequence[str] | None = None
                      ) -> Iterable[Obj]:
        indexer = self.informers[ROLE_BINDINGS].indexer
        if keys is None:
            return indexer.by_index("namespace", namespace)
        return _union(indexer, [f"{namespace}|{k}" for k in keys])

    # -- running
    async def run(self, stop: asyncio.Event) -> None:
        """The informers and the aggregation controller, until ``stop``."""
        async with asyncio.TaskGroup() as tg:
            for key, inf in self.informers.items():
                tg.create_task(inf.run(stop), name=f"rbac-informer-{key}")
            tg.create_task(self._aggregation_loop(stop), name="rbac-clusterrole-aggregation")

    async def wait_synced(self) -> None:
        for inf in self.informers.values():
            await inf.wait_synced()

    async def _aggregation_loop(self, stop: asyncio.Event) -> None:
        await self.wait_synced()
        while not stop.is_set():
            stopping = asyncio.ensure_future(stop.wait())
            waiting = asyncio.ensure_future(self._aggregate.wait())
            try:
                await asyncio.wait({stopping, waiting}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                stopping.cancel()
                waiting.cancel()
            if stop.is_set():
                return
            self._aggregate.clear()
            try:
                await self.aggregate_once()
            except Exception:
                log.exception("clusterrole aggregation failed; retrying")
                await asyncio.sleep(1.0)
                self._aggregate.set()

    async def aggregate_once(self) -> int:
        """Write every aggregated ClusterRole whose rules are stale; returns how many."""
        roles = self.informers[CLUSTER_ROLES].indexer.list()
        written = 0
        for role in roles:
            want = aggregated_rules(role, roles)
            if want is None or list(role.get("rules") or []) == want:
                continue
            new: dict[str, Any] = {**role, "rules": want}
            try:
                await self.backend.update(CLUSTER_ROLES, new)
                written += 1
            except errors.Conflict:
                self._aggregate.set()  # the informer brings the newer one: try again
        return written


async def ensure_bootstrap_policy(backend: Backend) -> None:
    """Create the bootstrap ClusterRoles/ClusterRoleBindings (and kube-system Roles and
    RoleBindings) that are missing and
    reconcile those that allow auto-update (upstream's ``rbac/bootstrap-roles`` hook)."""
    for key, objs, reconcile in (
        (CLUSTER_ROLES, bootstrap.cluster_roles(), bootstrap.reconcile_role),
        (CLUSTER_ROLE_BINDINGS, bootstrap.cluster_role_bindings(), bootstrap.reconcile_binding),
        (ROLES, bootstrap.namespace_roles(), bootstrap.reconcile_role),
        (ROLE_BINDINGS, bootstrap.namespace_role_bindings(), bootstrap.reconcile_binding),
    ):
        for want in objs:
            name = want["metadata"]["name"]
            ns = want["metadata"].get("namespace")
            try:
                have = await backend.get(key, name, namespace=ns)
            except errors.NotFound:
                try:
                    await backend.create(key, want, namespace=ns)
                except errors.AlreadyExists:
                    pass  # another server replica made it
                continue
            new = reconcile(have, want)
            if new is not None:
                try:
                    await backend.update(key, new, namespace=ns)
                    log.info("reconciled bootstrap %s %s", key, name)
                except errors.Conflict:
                    log.info("bootstrap %s %s changed meanwhile; left as is", key, name)
