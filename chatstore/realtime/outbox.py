"""The Redis half of committed writes, sent off the caller's path.

A write's caller waits for PostgreSQL only. What Redis must hear once it has committed (its
change-log entries on their channels, a read receipt) goes into this process's outbox, and
one task sends everything waiting in one pipelined round trip, in the order it was put,
each round trip bounded (SEND_TIMEOUT_SECONDS) and guarded by the circuit breaker
(chatstore.realtime.breaker). Under load many writes
share a round trip; when idle each goes out at once.

Nothing here can slow a write, and nothing is lost that matters: logged entries a failed or
skipped publish did not carry reach listeners through every process's feed (its poll reads
the log heads), and receipts are ephemeral. At most OUTBOX_LIMIT messages wait; beyond that
new ones are dropped and counted, so a Redis outage cannot grow memory without bound.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Iterable

from redis.asyncio import Redis

from chatstore.errors import ChatStoreError
from chatstore.realtime.breaker import Breaker
from chatstore.realtime.connection import redis_errors
from chatstore.realtime.tasks import stop_task

log = logging.getLogger(__name__)

OUTBOX_LIMIT = 100_000  # messages waiting; a few seconds of a busy process's writes
BATCH_MAX = 1_000  # messages per pipelined round trip
FLUSH_SECONDS = 1.0  # how long closing the store waits for what is still waiting
# How long one pipelined round trip may take before Redis counts as failing (the breaker
# then skips the outbox for its cooldown). Longer than the breaker's per-write budget: no
# caller waits on it, and under load a round trip carries hundreds of publishes; a write
# budget of 0.1 s tripped the breaker on a busy machine and sent events the slow way.
SEND_TIMEOUT_SECONDS = 1.0

Message = tuple[str, str]  # (channel, JSON)


class Outbox:
    def __init__(self, redis: Redis, breaker: Breaker, limit: int = OUTBOX_LIMIT) -> None:
        self._redis = redis
        self._breaker = breaker
        self._limit = limit
        self._waiting: deque[Message] = deque()
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._task: asyncio.Task[None] | None = None
        self.sent = 0
        self.skipped = 0  # Redis failed, or the breaker was open
        self.dropped = 0  # the outbox was full

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="chatstore-outbox")

    def put(self, messages: Iterable[Message]) -> None:
        """Queue messages for Redis; never waits and never fails."""
        for message in messages:
            if len(self._waiting) >= self._limit:
                self.dropped += 1
                continue
            self._waiting.append(message)
        if self._waiting:
            self._idle.clear()
            self._wake.set()

    async def close(self) -> None:
        """Send what is waiting (for at most FLUSH_SECONDS), then stop."""
        if self._task is None:
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(FLUSH_SECONDS):
                await self._idle.wait()
        await stop_task(self._task)
        self._task = None

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._waiting:
                size = min(len(self._waiting), BATCH_MAX)
                await self._send([self._waiting.popleft() for _ in range(size)])
            self._idle.set()

    async def _send(self, batch: list[Message]) -> None:
        if not self._breaker.allow():
            self.skipped += len(batch)
            return
        try:
            async with asyncio.timeout(max(SEND_TIMEOUT_SECONDS, self._breaker.budget)):
                with redis_errors():
                    # Not a transaction: each SPUBLISH names one channel (one hash tag), so
                    # under Redis Cluster the client can route each to its own node.
                    async with self._redis.pipeline(transaction=False) as pipe:
                        for channel, data in batch:
                            pipe.spublish(channel, data)
                        await pipe.execute()
        except (ChatStoreError, TimeoutError, OSError) as exc:
            # Never let the one task that publishes for the whole process die.
            log.warning("redis publish after commit skipped: %s", str(exc) or "over its budget")
            self._breaker.failed()
            self.skipped += len(batch)
        else:
            self._breaker.succeeded()
            self.sent += len(batch)
