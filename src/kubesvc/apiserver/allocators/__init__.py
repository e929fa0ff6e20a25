"""allocators: Service ClusterIP and NodePort allocation (upstream
``pkg/registry/core/service/ipallocator`` and ``portallocator``).

Each range is a bitmap kept in memory and persisted as one ``RangeAllocation`` key in the
store (``/registry/ranges/serviceips``, ``/registry/ranges/servicenodeports``), written with
compare-and-swap so several API servers sharing one etcd never hand out the same value.
The registry's Service strategy calls :class:`ClusterIPAllocator` / :class:`NodePortAllocator`;
:mod:`.repair` rebuilds both bitmaps from the stored Services at start-up.
"""

from __future__ import annotations

from kubesvc.apiserver.allocators.bitmap import Outcome, RangeAllocator
from kubesvc.apiserver.allocators.cluster_ip import ClusterIPAllocator
from kubesvc.apiserver.allocators.node_port import NodePortAllocator
from kubesvc.apiserver.allocators.repair import PeriodicRepair, repair_allocators

__all__ = [
    "ClusterIPAllocator",
    "NodePortAllocator",
    "Outcome",
    "PeriodicRepair",
    "RangeAllocator",
    "repair_allocators",
]
