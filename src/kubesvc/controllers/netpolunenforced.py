"""Host network mode's answer to NetworkPolicy (issue 23): nothing there can enforce one
(every pod shares the machine's loopback, with no per-pod interface to filter), so this
controller records a Warning Event ``NetworkPolicyNotEnforced`` on each NetworkPolicy it
sees created, as the API server's create warning does (``Registry.network_policy_warning``)
— never a silent allow. Run by ``kubesvc up`` in host mode as the
``network-policy-unenforced`` ServiceAccount; reads a NetworkPolicy informer, writes
through :class:`~.events.EventRecorder`."""

from __future__ import annotations

import asyncio

from kubesvc.api.objects import Obj
from kubesvc.client.protocol import Client
from kubesvc.controllers.events import WARNING, EventRecorder
from kubesvc.informers import Informer

POLICIES = "networkpolicies.networking.k8s.io"
REASON = "NetworkPolicyNotEnforced"
MESSAGE = ("NetworkPolicy is not enforced: this cluster runs in host network mode, where "
           "pods share the host's network; run `kubesvc up --network netns` to enforce it")


class UnenforcedPolicies:
    def __init__(self, client: Client, *, policies: Informer) -> None:
        self.recorder = EventRecorder(client, component="kubesvc-network-policy")
        self.policies = policies
        self._seen: set[str] = set()
        policies.add_handler(on_add=self._added,
                             on_delete=lambda o: self._seen.discard(_uid(o)))

    def _added(self, obj: Obj) -> None:
        uid = _uid(obj)
        if uid in self._seen:
            return
        self._seen.add(uid)
        self.recorder.event(obj, WARNING, reason=REASON, message=MESSAGE,
                            kind="NetworkPolicy", api_version="networking.k8s.io/v1")

    async def run(self, stop: asyncio.Event) -> None:
        await self.recorder.run(stop)


def _uid(obj: Obj) -> str:
    return str((obj.get("metadata") or {}).get("uid") or "")
