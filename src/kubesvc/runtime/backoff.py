"""Crash-loop back-off as upstream's ``flowcontrol.Backoff`` used by the kubelet: the first
restart is immediate; after that a container that exits within the current back-off waits
it out (10 s, doubling to 5 min); an entry older than twice the maximum (10 min of
stability) starts over. ``base`` is configurable for tests. Pure; used by the agent.
"""

from __future__ import annotations

import time
from collections.abc import Callable


def go_duration(seconds: float) -> str:
    """Format like Go's ``time.Duration.String`` for whole seconds: 10s, 1m20s, 5m0s."""
    if seconds < 1:
        ms = round(seconds * 1000)
        return f"{ms}ms" if ms else "0s"
    s = round(seconds)
    h, rem = divmod(s, 3600)
    m, sec = divmod(rem, 60)
    if h:
        return f"{h}h{m}m{sec}s"
    if m:
        return f"{m}m{sec}s"
    return f"{sec}s"


class Backoff:
    def __init__(self, base: float = 10.0, maximum: float = 300.0, *,
                 clock: Callable[[], float] = time.time) -> None:
        self.base = base
        self.maximum = maximum
        self.clock = clock
        self._entries: dict[str, tuple[float, float]] = {}  # key -> (backoff, last_update)

    def _expired(self, event_time: float, last_update: float) -> bool:
        return event_time - last_update > self.maximum * 2

    def get(self, key: str) -> float:
        entry = self._entries.get(key)
        return entry[0] if entry else 0.0

    def remaining(self, key: str, event_time: float) -> float:
        """Seconds left in back-off for an exit at ``event_time`` (0 = may restart now)."""
        entry = self._entries.get(key)
        if entry is None or self._expired(event_time, entry[1]):
            return 0.0
        left = entry[0] - (self.clock() - event_time)
        return max(0.0, left)

    def next(self, key: str, event_time: float) -> None:
        """Record a restart: start the back-off, or double it."""
        entry = self._entries.get(key)
        if entry is None or self._expired(event_time, entry[1]):
            backoff = self.base
        else:
            backoff = min(entry[0] * 2, self.maximum)
        self._entries[key] = (backoff, self.clock())

    def forget_prefix(self, prefix: str) -> None:
        for k in [k for k in self._entries if k.startswith(prefix)]:
            del self._entries[k]
