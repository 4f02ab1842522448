"""Open-loop offered load: Poisson arrivals scheduled against the event loop's clock.

A closed loop (N clients calling back to back) slows its own arrivals down when the server
slows, and so hides queueing: the "coordinated omission" of closed-loop benchmarks. Here
every arrival time is drawn in advance (exponential gaps, so a Poisson process at the
offered rate), every arrival runs as a task of its own whether or not earlier ones have
finished, and its latency is counted from the time it was *scheduled*, not from when it got
to run. A late generator, a busy event loop and a queue for a pool connection all show up in
the figures, as they would for a server's clients.

A ticker task measures the event loop's own lag meanwhile: how late it wakes from a short
sleep. That is the delay every coroutine in the process sees before it can run at all.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from bench.runner import Sample

Call = Callable[[], Awaitable[object]]
# pick(n): the n-th arrival's operation name and its call (arguments already chosen).
Pick = Callable[[int], tuple[str, Call]]
TICK_SECONDS = 0.005  # the lag ticker's sleep: short enough to see a 10 ms stall
DRAIN_SECONDS = 15.0  # after the last arrival, outstanding calls get this long, then cancelled


@dataclass
class OpenSample:
    """What one stretch of offered load did, per operation."""

    latencies: dict[str, list[float]] = field(default_factory=dict)  # seconds, successes
    errors: dict[str, Counter[str]] = field(default_factory=dict)  # op -> error kind -> count
    first_error: dict[str, str] = field(default_factory=dict)
    arrivals: int = 0
    offered_seconds: float = 0.0  # the window arrivals were drawn in
    seconds: float = 0.0  # first arrival to the last completion (or cancellation)
    loop_lag: list[float] = field(default_factory=list)
    spawn_late: list[float] = field(default_factory=list)  # generator behind its schedule

    def add(self, other: OpenSample) -> None:
        for name, values in other.latencies.items():
            self.latencies.setdefault(name, []).extend(values)
        for name, kinds in other.errors.items():
            self.errors.setdefault(name, Counter()).update(kinds)
        for name, message in other.first_error.items():
            self.first_error.setdefault(name, message)
        self.arrivals += other.arrivals
        self.offered_seconds += other.offered_seconds
        self.seconds += other.seconds
        self.loop_lag.extend(other.loop_lag)
        self.spawn_late.extend(other.spawn_late)

    def failed(self, name: str, error: BaseException) -> None:
        self.errors.setdefault(name, Counter())[type(error).__name__] += 1
        self.first_error.setdefault(name, f"{type(error).__name__}: {error}"[:300])

    def summary(self) -> dict[str, Any]:
        """Per operation and for all of them: count, errors, p50/p95/p99/max (ms); the rate
        achieved (completions per second of the window); the loop's lag."""
        ops = {name: self._op(name) for name in sorted(set(self.latencies) | set(self.errors))}
        everything = [value for values in self.latencies.values() for value in values]
        error_kinds: Counter[str] = Counter()
        for kinds in self.errors.values():
            error_kinds.update(kinds)
        overall = Sample(everything, self.seconds, sum(error_kinds.values())).summary()
        overall.pop("first_error")
        return {
            "arrivals": self.arrivals,
            "offered_rate": round(self.arrivals / self.offered_seconds, 1)
            if self.offered_seconds
            else 0.0,
            "achieved_rate": overall.pop("throughput"),
            "all": overall,
            "errors": sum(error_kinds.values()),
            "error_kinds": dict(error_kinds),
            "ops": ops,
            "loop_lag_ms": lag_summary(self.loop_lag),
            "generator_late_ms": lag_summary(self.spawn_late),
        }

    def _op(self, name: str) -> dict[str, Any]:
        errors = self.errors.get(name, Counter())
        sample = Sample(self.latencies.get(name, []), self.seconds, sum(errors.values()))
        sample.first_error = self.first_error.get(name)
        figures = sample.summary()
        figures["error_kinds"] = dict(errors)
        return figures


def lag_summary(values: list[float]) -> dict[str, Any]:
    figures = Sample(list(values)).summary()
    return {key: figures[key] for key in ("count", "p50_ms", "p99_ms", "max_ms")}


async def lag_ticker(lags: list[float], interval: float = TICK_SECONDS) -> None:
    """Sleep `interval` again and again, recording how late each wake-up is. Runs until
    cancelled."""
    loop = asyncio.get_running_loop()
    while True:
        due = loop.time() + interval
        await asyncio.sleep(interval)
        lags.append(max(0.0, loop.time() - due))


async def timed(sample: OpenSample, name: str, call: Call, scheduled: float) -> None:
    """One arrival: its latency runs from `scheduled` (loop clock), so waiting counts."""
    loop = asyncio.get_running_loop()
    try:
        await call()
    except Exception as error:  # every failure counts and the load goes on
        sample.failed(name, error)
    else:
        sample.latencies.setdefault(name, []).append(loop.time() - scheduled)


async def offer(pick: Pick, rate: float, seconds: float, seed: int) -> OpenSample:
    """Offer `rate` arrivals per second (Poisson) for `seconds`, each `pick(n)` a task of its
    own; then wait for the outstanding ones (at most DRAIN_SECONDS, the rest cancelled and
    counted as errors). The same seed gives the same arrival times, so every peer is
    offered exactly the same load."""
    loop = asyncio.get_running_loop()
    rng = random.Random(seed)  # noqa: S311 - reproducible draws, not secrets
    sample = OpenSample(offered_seconds=seconds)
    pending: set[asyncio.Task[None]] = set()
    names: dict[asyncio.Task[None], str] = {}
    ticker = asyncio.create_task(lag_ticker(sample.loop_lag))
    limit = int(rate * seconds * 3) + 100  # a bound on the loop whatever the draws
    start = loop.time()
    scheduled = start
    try:
        for n in range(limit):
            scheduled += rng.expovariate(rate)
            if scheduled - start >= seconds:
                break
            # Sleep until due. When late (a starved process), start every arrival already due
            # at once rather than one per loop iteration: a generator that yields between
            # late arrivals falls further behind with each one. Their latency counts from
            # their schedule either way.
            if (wait := scheduled - loop.time()) > 0:
                await asyncio.sleep(wait)
            sample.spawn_late.append(max(0.0, loop.time() - scheduled))
            name, call = pick(n)
            task = asyncio.create_task(timed(sample, name, call, scheduled))
            names[task] = name
            pending.add(task)
            task.add_done_callback(pending.discard)
            sample.arrivals += 1
        if pending:
            _, stuck = await asyncio.wait(set(pending), timeout=DRAIN_SECONDS)
            for task in stuck:
                task.cancel()
                sample.failed(names[task], TimeoutError("still running after the drain"))
            if stuck:
                await asyncio.wait(stuck)
    finally:
        for task in list(pending):
            task.cancel()
        ticker.cancel()
        await asyncio.gather(ticker, return_exceptions=True)
    sample.seconds = loop.time() - start
    return sample
