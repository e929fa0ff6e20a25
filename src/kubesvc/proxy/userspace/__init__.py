"""The userspace data plane (host mode, no root): asyncio TCP and UDP proxying.

:class:`UserspaceBackend` keeps one listener per address:port:protocol — ClusterIPs,
NodePorts on the node addresses, LoadBalancer ingress IPs and externalIPs — opening and
closing them as Services change. A listener exists only while its Service has usable
endpoints, so a connection to a Service without endpoints is refused by the kernel at once
(upstream rejects), never left hanging.
"""

from __future__ import annotations

from kubesvc.proxy.userspace.backend import UserspaceBackend

__all__ = ["UserspaceBackend"]
