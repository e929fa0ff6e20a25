"""The CronJob controller's clock (upstream's controller takes a ``clock.Clock`` for its
tests). Real time by default; a testing knob, ``kubesvc up --cronjob-clock-rate N``, makes
it run N times faster from the moment the controller starts, so schedules such as
``*/1 * * * *`` fire every 60/N real seconds and the upstream CronJob e2e cases (which wait
on minute schedules) run in seconds. Real timestamps the controller reads (a CronJob's
``creationTimestamp``) are mapped onto that clock, and its waits mapped back.

No I/O.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class CronClock:
    rate: float = 1.0
    real: Callable[[], float] = time.time
    origin: float = field(default_factory=time.time)

    def now(self) -> float:
        return self.local(self.real())

    def local(self, real_epoch: float) -> float:
        """A real epoch time on this clock."""
        if self.rate == 1.0:
            return real_epoch
        return self.origin + (real_epoch - self.origin) * self.rate

    def real_delay(self, seconds: float) -> float:
        """Real seconds until ``seconds`` have passed on this clock."""
        return seconds / self.rate
