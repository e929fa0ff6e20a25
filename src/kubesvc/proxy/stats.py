"""Per-service and per-endpoint connection and byte counters of the data planes (the
userspace proxy counts as it relays; nftables reads its endpoint chains' counters),
exported by :mod:`kubesvc.proxy.metrics`."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field


@dataclass(slots=True)
class Counters:
    connections: int = 0
    bytes_in: int = 0  # client -> endpoint
    bytes_out: int = 0  # endpoint -> client


@dataclass(slots=True)
class Stats:
    by_endpoint: dict[tuple[str, str], Counters] = field(
        default_factory=lambda: defaultdict(Counters)
    )

    def connection(self, service: str, endpoint: str) -> None:
        self.by_endpoint[(service, endpoint)].connections += 1

    def bytes(self, service: str, endpoint: str, *, sent: int, received: int) -> None:
        c = self.by_endpoint[(service, endpoint)]
        c.bytes_in += sent
        c.bytes_out += received
