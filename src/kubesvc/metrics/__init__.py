"""Prometheus metrics shared by every component: the text exposition of a registry as an
aiohttp response, and a small metrics HTTP server for components that have no API server
of their own (the proxy at kube-proxy's ``127.0.0.1:10249``, DNS at CoreDNS's ``:9153``).

Each component keeps its own :class:`prometheus_client.CollectorRegistry` (never the
process-global one): ``kubesvc up`` runs several components in one process, and each
serves only its own metrics under upstream's names. Counters carry no ``*_created``
series, as upstream's Go client writes none."""

from prometheus_client import CollectorRegistry, disable_created_metrics

disable_created_metrics()  # type: ignore[no-untyped-call]


def new_registry() -> CollectorRegistry:
    """A component's own registry (importing this module has turned ``*_created`` off)."""
    return CollectorRegistry(auto_describe=True)
