"""Timing one operation at a given concurrency, and summarising the latencies.

A run starts `concurrency` tasks that call the operation back to back (a closed loop) until
the run's time is up or its count is reached, whichever comes first; a hard timeout on top
stops a run whose calls hang. Only successful calls count towards latency and throughput;
failures are counted and the first one's message kept, so a broken peer shows instead of
looking fast.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

# op(task, n): task is the worker's index (0..concurrency-1), n the call's number in the run.
Op = Callable[[int, int], Awaitable[object]]
HANG_MARGIN_SECONDS = 30.0  # past the run's time budget, a run is cut off


@dataclass
class Sample:
    """Latencies (seconds) of successful calls, over one or more runs."""

    latencies: list[float] = field(default_factory=list)
    elapsed: float = 0.0
    errors: int = 0
    first_error: str | None = None

    def add(self, other: Sample) -> None:
        self.latencies.extend(other.latencies)
        self.elapsed += other.elapsed
        self.errors += other.errors
        self.first_error = self.first_error or other.first_error

    def summary(self) -> dict[str, Any]:
        ordered = sorted(self.latencies)
        count = len(ordered)

        def percentile(q: float) -> float | None:
            # Nearest rank: the smallest latency that at least q of the calls did not exceed.
            if not ordered:
                return None
            return round(ordered[max(0, math.ceil(q * count) - 1)] * 1000, 3)

        return {
            "count": count,
            "errors": self.errors,
            "first_error": self.first_error,
            "seconds": round(self.elapsed, 3),
            "throughput": round(count / self.elapsed, 1) if self.elapsed else 0.0,
            "p50_ms": percentile(0.50),
            "p95_ms": percentile(0.95),
            "p99_ms": percentile(0.99),
            "max_ms": round(ordered[-1] * 1000, 3) if ordered else None,
            "mean_ms": round(sum(ordered) / count * 1000, 3) if ordered else None,
        }


async def run(op: Op, concurrency: int, seconds: float, max_calls: int) -> Sample:
    """Call `op` from `concurrency` tasks for `seconds` or `max_calls` calls in all."""
    sample = Sample()
    numbers = itertools.count()
    deadline = time.perf_counter() + seconds

    async def worker(task: int) -> None:
        while time.perf_counter() < deadline:
            n = next(numbers)
            if n >= max_calls:
                return
            started = time.perf_counter()
            try:
                await op(task, n)
            except Exception as error:  # any failure counts; the run goes on
                sample.errors += 1
                sample.first_error = sample.first_error or f"{type(error).__name__}: {error}"
            else:
                sample.latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    async with asyncio.timeout(seconds + HANG_MARGIN_SECONDS):
        await asyncio.gather(*(worker(task) for task in range(concurrency)))
    sample.elapsed = time.perf_counter() - started
    return sample
