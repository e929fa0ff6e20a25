"""Endpoint choice for one listener: equal-probability random choice across usable
endpoints, with ``sessionAffinity: ClientIP`` pinning a client IP to one endpoint until it
has been idle for ``timeoutSeconds`` (as upstream's timed affinity sets, refreshed on use).
"""

from __future__ import annotations

import ipaddress
import random
import time
from dataclasses import dataclass

Addr = tuple[str, int]


@dataclass(slots=True)
class _Pin:
    endpoint: Addr
    last_used: float


class Balancer:
    def __init__(self, *, affinity_timeout: int = 0, source_ranges: tuple[str, ...] = ()) -> None:
        self.endpoints: list[Addr] = []
        self.affinity_timeout = affinity_timeout
        self._pins: dict[str, _Pin] = {}
        self._ranges = [ipaddress.ip_network(r, strict=False) for r in source_ranges]
        self._rng = random.Random()

    def update(
        self, endpoints: list[Addr], *, affinity_timeout: int, source_ranges: tuple[str, ...]
    ) -> None:
        self.endpoints = endpoints
        self.affinity_timeout = affinity_timeout
        self._ranges = [ipaddress.ip_network(r, strict=False) for r in source_ranges]
        if self._pins:
            live = set(endpoints)
            self._pins = {ip: p for ip, p in self._pins.items() if p.endpoint in live}

    @property
    def uses_client_ip(self) -> bool:
        """Whether :meth:`allowed` or :meth:`pick` look at the client address (source
        ranges or ClientIP affinity); otherwise callers may pass ``""``."""
        return bool(self._ranges) or bool(self.affinity_timeout)

    def allowed(self, client_ip: str) -> bool:
        """``loadBalancerSourceRanges``: empty allows everyone."""
        if not self._ranges:
            return True
        try:
            ip = ipaddress.ip_address(client_ip)
        except ValueError:
            return False
        return any(ip in net for net in self._ranges)

    def pick(self, client_ip: str, *, exclude: frozenset[Addr] = frozenset()) -> Addr | None:
        eps = self.endpoints
        if exclude:
            eps = [e for e in eps if e not in exclude]
        if not eps:
            return None
        if self.affinity_timeout:
            now = time.monotonic()
            pin = self._pins.get(client_ip)
            if pin is not None and pin.endpoint in eps and now - pin.last_used < (
                self.affinity_timeout
            ):
                pin.last_used = now
                return pin.endpoint
            choice = eps[self._rng.randrange(len(eps))]
            self._pins[client_ip] = _Pin(choice, now)
            return choice
        return eps[self._rng.randrange(len(eps))] if len(eps) > 1 else eps[0]
