"""Structural schema of coordination.k8s.io/v1 Lease (v1.32; node heartbeats, leader
election). Imported by ``kubesvc.api.schema``; calls only ``_dsl``.
"""

from __future__ import annotations

from kubesvc.api.schema._dsl import I32, MT, L, M, S, defn, ref

defn(
    L + "Lease",
    {
        "apiVersion": S,
        "kind": S,
        "metadata": ref(M + "ObjectMeta"),
        "spec": ref(L + "LeaseSpec"),
    },
)

defn(
    L + "LeaseSpec",
    {
        "acquireTime": MT,
        "holderIdentity": S,
        "leaseDurationSeconds": I32,
        "leaseTransitions": I32,
        "preferredHolder": S,
        "renewTime": MT,
        "strategy": S,
    },
)
