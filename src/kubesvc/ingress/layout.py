"""The backend pool: which pooled HAProxy backend ``be_N`` serves which Service port, and
how many server slots each backend has. Pure; called by :func:`kubesvc.ingress.render.render`.

HAProxy cannot add a backend without a reload, so the configuration declares a pool of
backends, some unused (all their servers disabled), and the routing maps name the one a
Service port got. A layout is planned from the previous one: a Service port keeps its
backend, a new one takes the lowest free backend, a backend keeps its slot count (it only
grows, to :func:`slots` of its endpoints), so adding a Service or an endpoint changes
nothing but map entries and server addresses, which the runtime API applies without a
reload. Only when the pool is exhausted, or a backend needs more slots, does the
configuration itself change (the data plane then reloads, hitlessly).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

MIN_POOL = 8


@dataclass(frozen=True, slots=True)
class Layout:
    assign: Mapping[str, str] = field(default_factory=dict)  # "ns/name:port" -> "be_N"
    slots: Mapping[str, int] = field(default_factory=dict)  # every pooled "be_N" -> slots

    def backends(self) -> list[str]:
        """The pool in configuration order (``slots`` is kept in it)."""
        return list(self.slots)


def slots(n: int) -> int:
    """Server slots of a backend with ``n`` endpoints: at least 4, a power of two, so
    endpoints come and go through the runtime API (no reload) until the count crosses one."""
    return max(4, 1 << max(n - 1, 0).bit_length())


def pool_size(used: int) -> int:
    """Backends to declare for ``used`` Service ports: an eighth more (at least 8 more),
    rounded up to a multiple of 8."""
    want = used + max(MIN_POOL, used // 8)
    return -(-want // 8) * 8


def plan(wanted: Mapping[str, int], previous: Layout | None) -> Layout:
    """The layout for ``wanted`` (Service-port key -> ready endpoints) given the last one."""
    prev = previous or Layout()
    assign = {k: prev.assign[k] for k in wanted if k in prev.assign}
    pool = dict(prev.slots)
    new = sorted(k for k in wanted if k not in assign)
    taken = set(assign.values())
    free = [b for b in pool if b not in taken]  # pool: be_0, be_1, ... in order
    if len(new) > len(free):
        size = pool_size(len(wanted))
        for i in range(len(pool), size):
            pool[f"be_{i}"] = 0
        free = [b for b in pool if b not in taken]
    for key, be in zip(new, free, strict=False):
        assign[key] = be
    count = {be: wanted[k] for k, be in assign.items()}
    return Layout(assign=dict(sorted(assign.items())),
                  slots={be: max(pool[be], slots(count.get(be, 0))) for be in pool})
