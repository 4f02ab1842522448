"""A circuit breaker for the Redis half of committed writes.

A write has already committed in PostgreSQL when its Redis half runs (counters, publishes),
so that half must never make the caller wait long: with Redis refusing connections or
black-holed, redis-py's own timeouts and retries would add seconds to every send. The
breaker bounds it. Each Redis half gets `budget` seconds; a failure or an overrun opens the
breaker for `cooldown` seconds, during which Redis halves are skipped at once (their work is
covered: the change log delivers skipped publishes, and skipped counters are rebuilt from
PostgreSQL once Redis answers). After the cooldown one caller tries again (half-open): a
success closes the breaker, a failure opens it for another cooldown.
"""

from __future__ import annotations

import time
from collections.abc import Callable


class Breaker:
    def __init__(
        self, *, budget: float, cooldown: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.budget = budget
        self.cooldown = cooldown
        self._clock = clock
        self._open_until = 0.0
        self._trial_running = False
        self.trips = 0  # how often it opened, for tests and benchmarks
        self.skipped = 0  # Redis halves skipped while open

    def allow(self) -> bool:
        """Whether a Redis half may run now. While half-open, only one at a time does."""
        if self._open_until == 0.0:
            return True
        if self._clock() < self._open_until or self._trial_running:
            self.skipped += 1
            return False
        self._trial_running = True
        return True

    def succeeded(self) -> None:
        self._open_until = 0.0
        self._trial_running = False

    def failed(self) -> None:
        if self._open_until == 0.0 or self._trial_running:
            self.trips += 1
        self._open_until = self._clock() + self.cooldown
        self._trial_running = False

    @property
    def is_open(self) -> bool:
        return self._open_until != 0.0
