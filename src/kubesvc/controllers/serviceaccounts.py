"""Per-namespace objects every pod relies on: the ``default`` ServiceAccount (upstream's
``pkg/controller/serviceaccount`` ServiceAccountsController) and the ``kube-root-ca.crt``
ConfigMap holding the cluster CA (upstream's
``pkg/controller/certificates/rootcacertpublisher``).

Each is level-triggered on a namespace key: a namespace added or updated queues itself,
and the object deleted (or, for the ConfigMap, changed) queues its namespace again, so a
deleted ``default`` ServiceAccount comes back and an edited ``ca.crt`` is put back. A
namespace that is gone or terminating is left alone (a create into a terminating
namespace is refused and not retried). Created by the manager; reads namespaces,
ServiceAccounts named ``default`` and ConfigMaps named ``kube-root-ca.crt`` through
informers and writes through the Client.
"""

from __future__ import annotations

import logging

from kubesvc import errors
from kubesvc.api.objects import Obj, meta
from kubesvc.client.protocol import Client
from kubesvc.controllers.base import QueueController
from kubesvc.informers import Informer

log = logging.getLogger(__name__)

DEFAULT_SERVICE_ACCOUNT = "default"
ROOT_CA_CONFIGMAP = "kube-root-ca.crt"
DESCRIPTION_ANNOTATION = "kubernetes.io/description"
DESCRIPTION = ("Contains a CA bundle that can be used to verify the kube-apiserver when "
               "using internal endpoints such as the internal service IP or "
               "kubernetes.default.svc. No other usage is guaranteed across distributions "
               "of Kubernetes clusters.")


def _namespace_of(obj: Obj) -> str:
    return str(meta(obj).get("namespace") or "")


def _active(ns: Obj | None) -> bool:
    if ns is None or meta(ns).get("deletionTimestamp"):
        return False
    return bool((ns.get("status") or {}).get("phase", "Active") == "Active")


def _terminating(exc: errors.KubeError) -> bool:
    return any(c.reason == "NamespaceTerminating" for c in exc.causes) or \
        "because it is being terminated" in exc.message


class _PerNamespace(QueueController):
    """Queue every active namespace; subclasses ensure their object in it."""

    def __init__(self, client: Client, *, namespaces: Informer, objects: Informer) -> None:
        super().__init__(workers=1)
        self.client = client
        self.namespaces = namespaces
        self.objects = objects
        namespaces.add_handler(on_add=self._ns_changed,
                               on_update=lambda _old, new: self._ns_changed(new))
        objects.add_handler(on_delete=self._object_event,
                            on_update=lambda _old, new: self._object_updated(new))

    def _ns_changed(self, ns: Obj) -> None:
        if _active(ns):
            self.queue.add(str(meta(ns).get("name") or ""))

    def _object_event(self, obj: Obj) -> None:
        if ns := _namespace_of(obj):
            self.queue.add(ns)

    def _object_updated(self, obj: Obj) -> None:
        """Only the root-CA publisher reacts to updates (the ServiceAccount's content is
        the user's)."""

    async def wait_synced(self) -> None:
        await self.namespaces.wait_synced()
        await self.objects.wait_synced()

    def on_synced(self) -> None:
        for ns in self.namespaces.indexer.list():
            self._ns_changed(ns)

    def _namespace_active(self, ns: str) -> bool:
        return _active(self.namespaces.indexer.get(ns))


class ServiceAccountsController(_PerNamespace):
    """Ensures the ``default`` ServiceAccount in every active namespace."""

    name = "serviceaccount"

    async def sync(self, key: str) -> None:
        if not self._namespace_active(key):
            return
        if self.objects.indexer.get(f"{key}/{DEFAULT_SERVICE_ACCOUNT}") is not None:
            return
        try:
            await self.client.create("serviceaccounts", {
                "apiVersion": "v1", "kind": "ServiceAccount",
                "metadata": {"name": DEFAULT_SERVICE_ACCOUNT, "namespace": key}},
                namespace=key)
        except errors.AlreadyExists:
            return
        except (errors.NotFound, errors.Forbidden) as exc:
            if isinstance(exc, errors.NotFound) or _terminating(exc):
                return  # the namespace went away meanwhile
            raise


class RootCAPublisher(_PerNamespace):
    """Keeps ``kube-root-ca.crt`` (``ca.crt``: the cluster CA, PEM) in every namespace."""

    name = "root-ca-cert-publisher"

    def __init__(self, client: Client, *, namespaces: Informer, configmaps: Informer,
                 root_ca: bytes) -> None:
        super().__init__(client, namespaces=namespaces, objects=configmaps)
        self.root_ca = root_ca.decode()

    def _object_updated(self, obj: Obj) -> None:
        self._object_event(obj)

    async def sync(self, key: str) -> None:
        data = {"ca.crt": self.root_ca}
        cm = self.objects.indexer.get(f"{key}/{ROOT_CA_CONFIGMAP}")
        if cm is None:
            if not self._namespace_active(key):
                return
            try:
                await self.client.create("configmaps", {
                    "apiVersion": "v1", "kind": "ConfigMap",
                    "metadata": {"name": ROOT_CA_CONFIGMAP, "namespace": key,
                                 "annotations": {DESCRIPTION_ANNOTATION: DESCRIPTION}},
                    "data": data}, namespace=key)
            except errors.AlreadyExists:
                return
            except (errors.NotFound, errors.Forbidden) as exc:
                if isinstance(exc, errors.NotFound) or _terminating(exc):
                    return  # don't retry into a namespace that is gone or going
                raise
            return
        annotations = dict(meta(cm).get("annotations") or {})
        if cm.get("data") == data and annotations.get(DESCRIPTION_ANNOTATION):
            return
        annotations[DESCRIPTION_ANNOTATION] = DESCRIPTION
        new = {**cm, "metadata": {**meta(cm), "annotations": annotations}, "data": data}
        try:
            await self.client.update("configmaps", new, namespace=key)
        except errors.NotFound:
            self.queue.add(key)  # deleted meanwhile: create it afresh
