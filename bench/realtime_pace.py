"""What drives the live-delivery section's peers (bench/realtime_peers.py): the section's
plan per mode, the open-loop pacing of its events, and what a run records.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from time import perf_counter
from typing import Protocol
from uuid import UUID

BATCH_MAX = 64  # events per send at most, when the publisher is behind schedule


@dataclass(frozen=True)
class RealtimePlan:
    listeners: int  # connected listeners in this one process
    rooms: int  # they are spread evenly over this many rooms (fewer if the dataset has fewer)
    rates: tuple[int, ...]  # events per second, paced open-loop, all rooms together
    seconds: float  # of sending, per peer, per rate, per round
    rounds: int  # the peers alternate within a round, in ABBA order across rounds
    warmup_seconds: float  # per peer, at the top rate, discarded


@dataclass
class Sink:
    """One run's deliveries at one peer's listeners."""

    latencies: list[float] = field(default_factory=list)  # seconds, one per delivery
    out_of_order: int = 0  # deliveries that did not follow the listener's previous one
    send_errors: int = 0
    first_error: str | None = None


class Peer(Protocol):
    name: str

    async def attach(self, heads: Mapping[UUID, int], per_room: int, sink: Sink) -> None: ...

    async def detach(self) -> None: ...

    async def send(self, events: list[tuple[UUID, int]]) -> None: ...

    def wire_size(self, room: UUID) -> int: ...


async def pace(peer: Peer, events: list[tuple[UUID, int]], rate: int, sink: Sink) -> list[float]:
    """Send event i at start + i / rate, whether or not earlier sends have returned; returns
    how late each send started.

    The event loop wakes about once a millisecond, so the events due at a wake (1 at
    1,000/s, about 5 at 5,000/s) go out together, from a task of their own, in one pipeline
    (for chatstore, one `_publish_entries` call, as for a commit logging several entries).
    One call per event would measure the publisher instead: on two cores, 5,000 separate
    publishes a second through redis-py's pool leave this process too little CPU for the
    listeners, for either peer.
    """
    tasks: set[asyncio.Task[None]] = set()

    async def send(batch: list[tuple[UUID, int]]) -> None:
        try:
            await peer.send(batch)
        except Exception as error:  # counted; the missing deliveries show as lost
            sink.send_errors += len(batch)
            sink.first_error = sink.first_error or repr(error)

    lags = []
    start = perf_counter()
    i = 0
    while i < len(events):
        delay = start + i / rate - perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        now = perf_counter()
        batch: list[tuple[UUID, int]] = []
        while i < len(events) and start + i / rate <= now and len(batch) < BATCH_MAX:
            lags.append(now - (start + i / rate))
            batch.append(events[i])
            i += 1
        task = asyncio.create_task(send(batch))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        if len(batch) == BATCH_MAX:
            await asyncio.sleep(0)  # behind schedule: still let the listeners run
    await asyncio.gather(*tasks)
    return lags


async def watch_loop(stalls: list[float]) -> None:
    """How late 1 ms timers fire: the event loop's own stalls (this process, or the machine
    taking the CPU away), the same for both peers' runs."""
    while True:
        before = perf_counter()
        await asyncio.sleep(0.001)
        stalls.append(perf_counter() - before - 0.001)
