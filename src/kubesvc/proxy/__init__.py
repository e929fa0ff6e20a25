"""proxy: the kube-proxy of kubesvc.

Change tracking is kept apart from syncing, as upstream ``pkg/proxy``: :mod:`.model` holds
the slim projections, :mod:`.tracker` turns Service and EndpointSlice events into per-service
previous/current state and a set of changed services, :mod:`.runner` is the bounded-frequency
runner, and a :class:`~kubesvc.proxy.backend.ProxyBackend` programs a data plane:
:mod:`.userspace` (asyncio sockets, no root) or :mod:`.nftables` (kernel, root).
:mod:`.proxier` wires informers, tracker, runner and backend together.
"""
