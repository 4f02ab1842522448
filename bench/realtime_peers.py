"""The two peers of the live-delivery section (bench/realtime.py).

Both peers deliver the same events (a `message.created` envelope of the same size, one per
event, on the rooms' sharded channels) to the same number of in-process listeners, and both
listeners do the same thing with each: take its latency from the send time stamped in the
payload (`time.perf_counter`, this process) and check it follows the previous one.

- chatstore: published through the store's own path for committed log entries
  (`store._publish_entries`, which `db.log_publisher` calls after every commit: the breaker's
  budget, then a pipeline of SPUBLISHes), received by the process's EventHub and ordered by
  its RoomFeed (held back when early, duplicates dropped) before each listener sees it.
- bare: what an application would write with redis-py alone: a pipeline of SPUBLISHes, and
  one PubSub connection SSUBSCRIBEd to the channels whose reader parses each message once
  and calls every listener of the channel.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager, suppress
from datetime import UTC, datetime
from time import perf_counter
from typing import Any
from uuid import UUID, uuid4

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.client import PubSub

from bench.realtime_log import SentLog
from bench.realtime_pace import Sink
from chatstore import ChatStore
from chatstore.models import LogEntry
from chatstore.realtime.events import ENVELOPE_VERSION, Event, room_channel

# A chat message's size on the wire: the body is about what a typical message carries.
BODY = "x" * 120


def message_payload(room: UUID, seq: int, sender: UUID) -> dict[str, Any]:
    """A message.created payload of the shape chatstore logs (sql/messages.sql), stamped
    last, just before publishing, with the send time."""
    return {
        "id": str(uuid4()),
        "room_id": str(room),
        "seq": seq,
        "sender_id": str(sender),
        "kind": "text",
        "content": BODY,
        "created_at": datetime.now(UTC).isoformat(),
        "t": perf_counter(),
    }


class _Listener:
    """A connected client as both peers see it: the latency and order of what it gets."""

    __slots__ = ("last", "sink")

    def __init__(self, sink: Sink, head: int) -> None:
        self.sink = sink
        self.last = head

    def got(self, sent: float, seq: int) -> None:
        self.sink.latencies.append(perf_counter() - sent)
        if seq != self.last + 1:
            self.sink.out_of_order += 1
        self.last = seq


class _FeedListener(_Listener):
    """A RoomFeed listener (chatstore.realtime.feed.FeedListener)."""

    __slots__ = ()

    def entry(self, room_id: UUID, event: Event) -> None:
        assert event.event_seq is not None
        self.got(event.payload["t"], event.event_seq)

    def ephemeral(self, room_id: UUID, event: Event) -> None:
        pass

    def reset(self, room_id: UUID, head: int) -> None:
        self.sink.out_of_order += 1  # never expected: nothing is pruned during a run

    def room_gone(self, room_id: UUID) -> None:
        self.sink.out_of_order += 1  # never expected: the rooms are the dataset's


class ChatstorePeer:
    name = "chatstore"

    def __init__(self, store: ChatStore) -> None:
        self.store = store
        self.sender = uuid4()
        self._joined: list[tuple[UUID, _FeedListener]] = []
        self.log = SentLog(store.log, self._resent)

    @classmethod
    @asynccontextmanager
    async def open(cls, store: ChatStore) -> AsyncIterator[ChatstorePeer]:
        """The store's feed reads the entries sent as its log meanwhile (bench/realtime_log.py)."""
        peer = cls(store)
        real, store.feed._log = store.feed._log, peer.log
        try:
            yield peer
        finally:
            await peer.detach()
            store.feed._log = real

    async def attach(self, heads: Mapping[UUID, int], per_room: int, sink: Sink) -> None:
        self.log.clear(heads)
        self._joined = [
            (room, _FeedListener(sink, head))
            for room, head in heads.items()
            for _ in range(per_room)
        ]
        # Concurrently, as clients connecting at once: the first of a room subscribes it
        # and reads its head from PostgreSQL, the others wait for that.
        found = await asyncio.gather(
            *(self.store.feed.join(r, listener) for r, listener in self._joined)
        )
        if any(head != heads[room] for head, (room, _) in zip(found, self._joined, strict=True)):
            raise RuntimeError("a room's log head moved during the realtime section")

    async def detach(self) -> None:
        for room, listener in self._joined:
            self.store.feed.leave(room, listener)
        self._joined = []

    def _entry(self, room: UUID, seq: int) -> LogEntry:
        return LogEntry(
            room_id=room,
            event_seq=seq,
            type="message.created",
            actor_id=self.sender,
            payload=message_payload(room, seq, self.sender),
            created_at=datetime.now(UTC),
        )

    def _resent(self, room: UUID, seq: int, sent_at: float) -> LogEntry:
        """The entry sent as `seq`, as the feed reads it back from the log: latency still
        counts from its first send."""
        entry = self._entry(room, seq)
        entry.payload["t"] = sent_at
        return entry

    async def send(self, events: list[tuple[UUID, int]]) -> None:
        entries = [self._entry(room, seq) for room, seq in events]
        for entry in entries:  # "committed", then published
            self.log.record(entry.room_id, entry.event_seq, entry.payload["t"])
        # Private, but exactly what the store runs after a commit that logged entries.
        await self.store._publish_entries(entries)

    def wire_size(self, room: UUID) -> int:
        from chatstore.realtime.events import entry_event

        return len(entry_event(self._entry(room, 1)).to_json().encode())


class _BareListener(_Listener):
    __slots__ = ()

    def deliver(self, data: dict[str, Any]) -> None:
        self.got(data["payload"]["t"], data["event_seq"])


class BarePeer:
    name = "bare"

    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self.sender = uuid4()
        self._channels: dict[UUID, str] = {}
        self._fanout: dict[str, list[_BareListener]] = {}
        self._pubsub: PubSub | None = None
        self._reader: asyncio.Task[None] | None = None

    @classmethod
    @asynccontextmanager
    async def open(cls, url: str, max_connections: int) -> AsyncIterator[BarePeer]:
        # redis-py's defaults (hiredis when installed), text like chatstore's client, and a
        # blocking pool of chatstore's size: with the default pool (100, then an error), a
        # burst after a stall of this machine fails sends chatstore's pool would queue.
        pool = BlockingConnectionPool.from_url(
            url, max_connections=max_connections, decode_responses=True
        )
        redis = Redis.from_pool(pool)
        peer = cls(redis)
        try:
            yield peer
        finally:
            await peer.detach()
            await redis.aclose()

    async def attach(self, heads: Mapping[UUID, int], per_room: int, sink: Sink) -> None:
        self._channels = {room: room_channel(room) for room in heads}
        self._fanout = {
            self._channels[room]: [_BareListener(sink, head) for _ in range(per_room)]
            for room, head in heads.items()
        }
        self._pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
        await self._pubsub.ssubscribe(*self._fanout)
        self._reader = asyncio.create_task(self._read(self._pubsub), name="bench-bare-reader")

    async def _read(self, pubsub: PubSub) -> None:
        fanout = self._fanout
        while True:
            message = await pubsub.get_message(timeout=1.0)
            if message is None or message["type"] != "smessage":
                continue
            listeners = fanout.get(message["channel"])
            if listeners:
                data = json.loads(message["data"])  # once per message, not per listener
                for listener in listeners:
                    listener.deliver(data)

    async def detach(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with suppress(asyncio.CancelledError):
                await self._reader
            self._reader = None
        if self._pubsub is not None:
            # Closing the connection drops its subscriptions; the harness waits for Redis
            # to count them gone before the next run.
            await self._pubsub.aclose()  # type: ignore[no-untyped-call]
            self._pubsub = None
        self._fanout = {}

    def _data(self, room: UUID, seq: int) -> str:
        envelope = {
            "v": ENVELOPE_VERSION,
            "type": "message.created",
            "room_id": str(room),
            "seq": seq,
            "event_seq": seq,
            "payload": message_payload(room, seq, self.sender),
            "at": datetime.now(UTC).isoformat(),
        }
        return json.dumps(envelope, separators=(",", ":"))

    async def send(self, events: list[tuple[UUID, int]]) -> None:
        async with self.redis.pipeline(transaction=False) as pipe:
            for room, seq in events:
                pipe.spublish(self._channels[room], self._data(room, seq))
            await pipe.execute()

    def wire_size(self, room: UUID) -> int:
        return len(self._data(room, 1).encode())
