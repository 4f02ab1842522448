"""Where the hot room's writers spend their time (bench/hotroom.py's breakdown): a run of
chatstore's writers while a thread samples their backends in pg_stat_activity every few ms.

Each sample counts the writers' backends by state: waiting for the room lock, writing or
flushing WAL, executing, other waits; a writer not seen is outside PostgreSQL (Python, the
network, the pool's queue, the Redis publish). Apart from the section's steps because the
sampling costs CPU: its run is a run of its own, whose msgs/s is reported beside the shares,
never in the measured steps.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from typing import Any

import psycopg

from bench.runner import Op, run
from bench.sections import SectionContext

SAMPLE_EVERY_SECONDS = 0.005
MAX_SAMPLES = 5_000

# The writers' backends: those whose current (or, idle, last) statement is the send.
ACTIVITY = """
SELECT state, wait_event_type, wait_event FROM pg_stat_activity
WHERE datname = current_database() AND pid <> pg_backend_pid() AND state = 'active'
  AND query LIKE %(marker)s
"""


async def sampled_run(
    ctx: SectionContext, op: Op, writers: int, seconds: float, max_calls: int
) -> dict[str, Any]:
    """Run `op` on `writers` tasks for `seconds` while sampling: the samples taken, each
    state's share of the writers' time, the run's msgs/s and this process's CPU."""
    marker = ctx.store.db.queries.sending_plain.send_plain_message.sql.strip()[:40] + "%"
    stop = threading.Event()
    sampler = asyncio.create_task(
        asyncio.to_thread(_sample, ctx.settings.database_url, marker, stop)
    )
    cpu, wall = time.process_time(), time.perf_counter()
    try:
        sample = await run(op, writers, seconds, max_calls)
        # This process's CPU per second (1.0: a whole core): near 1, the event loop is
        # the bottleneck rather than the room lock.
        cpu = (time.process_time() - cpu) / (time.perf_counter() - wall)
    finally:
        stop.set()
        count, states = await sampler
    # Backends seen per state, over samples x writers: each writer's share of its time.
    slots = max(1, count * writers)
    shares = {state: round(seen / slots, 3) for state, seen in sorted(states.items())}
    shares["outside PostgreSQL"] = round(max(0.0, 1 - sum(states.values()) / slots), 3)
    return {
        "samples": count,
        "shares": shares,
        "msgs_per_s_while_sampling": sample.summary()["throughput"],
        "client_cpu_cores": round(cpu, 2),
    }


def _classify(wait_type: str | None, wait_event: str | None) -> str:
    if wait_type is None:
        return "executing"
    if wait_type == "Lock":
        return "lock wait"
    if (wait_event or "").startswith(("Wal", "WAL")):
        return "WAL write/flush"
    return f"other ({wait_type})"


def _sample(url: str, marker: str, stop: threading.Event) -> tuple[int, Counter[str]]:
    """A thread of its own, so that sampling keeps time while the event loop is busy."""
    states: Counter[str] = Counter()
    count = 0
    options = "-c statement_timeout=1000"
    with psycopg.connect(url, autocommit=True, connect_timeout=5, options=options) as conn:
        deadline = time.monotonic() + 600  # bounded whatever happens to the run
        while not stop.is_set() and count < MAX_SAMPLES and time.monotonic() < deadline:
            for _, wait_type, wait_event in conn.execute(ACTIVITY, {"marker": marker}):
                states[_classify(wait_type, wait_event)] += 1
            count += 1
            stop.wait(SAMPLE_EVERY_SECONDS)
    return count, states
