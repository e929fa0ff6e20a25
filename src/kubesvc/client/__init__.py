"""client: the one ``Client`` protocol every component uses to reach the API server,
with an HTTP implementation (:mod:`.http`, real HTTPS + bearer token, kubeconfig) and the
in-process one used by the all-in-one binary (the API server's registry satisfies the same
protocol)."""

from __future__ import annotations

from kubesvc.client.options import DeleteOptions, ListOptions, WatchOptions, WriteOptions
from kubesvc.client.protocol import Client, PatchType, WatchEventDict

__all__ = [
    "Client", "DeleteOptions", "ListOptions", "PatchType", "WatchEventDict", "WatchOptions",
    "WriteOptions",
]
