"""The per-process room feed: change-log entries in `event_seq` order, once each.

One `RoomFeed` per process sits between the Redis hub and every client stream of the
process. For each room with at least one local listener it keeps the room's head (the
highest event_seq handed on, with nothing missing below it) and:

- hands entries on in order and drops duplicates;
- holds an entry that arrives early (n+2 before n+1) for `gap_wait` seconds, then fills the
  gap from the PostgreSQL log with one query per process for all rooms that need it,
  never one query per listener;
- polls the heads of all its rooms every `poll_interval` seconds in one query, so an entry
  whose publish was lost (Redis down, a failed publish, a quiet room where no later entry
  reveals the gap) is fetched from the log within that bound (plus `gap_wait`, for the
  publishes still on their way to arrive first);
- re-reads everything after a Redis reconnect.

So a committed change reaches a connected listener within about `poll_interval` plus one
query even when every publish fails; with Redis healthy, within a publish's latency (or
`gap_wait` plus one query when publishes overtake each other).

The same tick also polls the membership versions of the users whose streams asked to be
told when their set of rooms changes (chatstore.realtime.feed_watches). The protocols, the
counters and the per-room records are chatstore.realtime.feed_types.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Collection
from uuid import UUID

from chatstore.errors import ChatStoreError
from chatstore.realtime.events import Event, entry_event
from chatstore.realtime.feed_types import FeedListener, FeedRoom, FeedStats, LogReader, WantedRooms
from chatstore.realtime.feed_watches import MembershipWatches
from chatstore.realtime.pubsub import EventHub
from chatstore.realtime.subscription import RESYNC
from chatstore.realtime.tasks import stop_task

# FeedListener, FeedStats and LogReader were defined here first: still importable from here.
__all__ = ["FILL_LIMIT", "FeedListener", "FeedStats", "LogReader", "RoomFeed"]

log = logging.getLogger("chatstore")

FILL_LIMIT = 500  # entries per room per fill query; a longer gap takes several rounds
RETRY_SECONDS = 0.5  # after a failed fill or poll (PostgreSQL unreachable)


class RoomFeed:
    def __init__(
        self,
        hub: EventHub,
        log_reader: LogReader,
        *,
        gap_wait: float = 0.05,
        poll_interval: float = 1.0,
    ) -> None:
        self._hub = hub
        self._log = log_reader
        self._gap_wait = gap_wait
        self._poll_interval = poll_interval
        self._rooms: dict[UUID, FeedRoom] = {}
        self._watches = MembershipWatches()
        self._wanted = WantedRooms()
        self._tasks: list[asyncio.Task[None]] = []
        self.stats = FeedStats()

    async def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._fill_loop(), name="chatstore-feed-filler"),
            asyncio.create_task(self._poll_loop(), name="chatstore-feed-poller"),
        ]

    async def close(self) -> None:
        for task in self._tasks:
            await stop_task(task)
        self._tasks = []
        for room in self._rooms.values():
            self._hub.detach(room)
            room.stop_timers()
        self._rooms.clear()

    # --- listeners ---------------------------------------------------------------------

    async def join(self, room_id: UUID, listener: FeedListener) -> int:
        """Start handing the room's entries to `listener`; returns the room's head at that
        moment: every entry after it reaches the listener, so a listener that reads the
        log from its own cursor up to at least this head misses nothing."""
        return (await self.join_many([room_id], listener))[room_id]

    async def join_many(
        self, room_ids: Collection[UUID], listener: FeedListener
    ) -> dict[UUID, int]:
        """join() for several rooms at once (a client connecting): one wait for Redis to
        confirm the subscriptions and one read of the log heads, for all the rooms this
        process did not follow yet, instead of one of each per room."""
        new: list[FeedRoom] = []
        for room_id in room_ids:
            room = self._rooms.get(room_id)
            if room is None:
                room = self._rooms[room_id] = FeedRoom(room_id, self._on_event)
                self._hub.attach(room)
                new.append(room)
            room.listeners.add(listener)
        if new:
            try:
                await self._hub.wait_subscribed([c for room in new for c in room.channels])
            except ChatStoreError as error:
                # Redis is down: the poll delivers until it is back (then the hub
                # re-subscribes by itself).
                log.debug("room feed subscribes without Redis: %s", error)
            await self._initialise(new)
        heads = {}
        for room_id in room_ids:
            room = self._rooms[room_id]
            await room.ready.wait()
            assert room.head is not None
            heads[room_id] = room.head
        return heads

    async def _initialise(self, rooms: list[FeedRoom]) -> None:
        while True:
            try:
                heads = await self._log.heads([room.room_id for room in rooms])
                break
            except ChatStoreError as error:
                log.warning("room feed cannot read the log heads, retrying: %s", error)
                await asyncio.sleep(RETRY_SECONDS)
        for room in rooms:
            head = heads.get(room.room_id)
            room.head = 0 if head is None else head.last_event_seq
            early = sorted(seq for seq in room.pending if seq > room.head)
            events = [room.pending[seq] for seq in early]
            room.pending.clear()
            room.ready.set()
            for event in events:
                self._offer(room, event)

    def leave(self, room_id: UUID, listener: FeedListener) -> None:
        room = self._rooms.get(room_id)
        if room is None:
            return
        room.listeners.discard(listener)
        if not room.listeners:
            del self._rooms[room_id]
            self._hub.detach(room)
            room.stop_timers()
            self._wanted.rooms.discard(room_id)

    def watch(
        self, user_id: UUID, key: object, version: int, on_change: Callable[[], None]
    ) -> None:
        """Call `on_change` when the user's membership version moves past `version`."""
        self._watches.add(user_id, key, version, on_change)

    def unwatch(self, user_id: UUID, key: object) -> None:
        self._watches.remove(user_id, key)

    @property
    def rooms(self) -> frozenset[UUID]:
        return frozenset(self._rooms)

    # --- ordering ----------------------------------------------------------------------

    def _on_event(self, room: FeedRoom, event: Event) -> None:
        if event.type == RESYNC:
            self._want(room.room_id)  # Redis reconnected: anything may have been missed
            return
        if event.event_seq is None:
            for listener in list(room.listeners):
                listener.ephemeral(room.room_id, event)
            return
        if room.head is None:
            room.pending[event.event_seq] = event  # released once the head is known
            return
        self._offer(room, event)

    def _offer(self, room: FeedRoom, event: Event) -> None:
        seq = event.event_seq
        assert seq is not None
        assert room.head is not None
        if seq <= room.head or seq in room.pending:
            self.stats.duplicates += 1
            return
        if seq > room.head + 1:
            self.stats.inversions += 1
            room.pending[seq] = event
            if room.gap_timer is None:
                room.gap_timer = asyncio.get_running_loop().call_later(
                    self._gap_wait, self._gap_expired, room
                )
            return
        self._release(room, event)
        while room.head + 1 in room.pending:
            self._release(room, room.pending.pop(room.head + 1))
        if not room.pending and room.gap_timer is not None:
            room.gap_timer.cancel()
            room.gap_timer = None

    def _release(self, room: FeedRoom, event: Event) -> None:
        room.head = event.event_seq
        self.stats.delivered += 1
        for listener in list(room.listeners):
            listener.entry(room.room_id, event)

    def _gap_expired(self, room: FeedRoom) -> None:
        room.gap_timer = None
        if room.pending and self._rooms.get(room.room_id) is room:
            self._want(room.room_id)

    def _want(self, room_id: UUID) -> None:
        self._wanted.rooms.add(room_id)
        self._wanted.wake.set()

    # --- filling from the log ----------------------------------------------------------

    async def _fill_loop(self) -> None:
        while True:
            await self._wanted.wake.wait()
            self._wanted.wake.clear()
            wanted, self._wanted.rooms = self._wanted.rooms, set()
            rooms = [self._rooms[r] for r in wanted if r in self._rooms]
            cursors = {room.room_id: room.head for room in rooms if room.head is not None}
            if not cursors:
                continue
            try:
                found = await self._log.after_many(cursors, FILL_LIMIT)
            except ChatStoreError as error:
                log.warning("room feed cannot fill from the log, retrying: %s", error)
                self._wanted.rooms |= set(cursors)
                await asyncio.sleep(RETRY_SECONDS)
                self._wanted.wake.set()
                continue
            self.stats.fill_queries += 1
            for room_id, entries in found.items():
                room = self._rooms.get(room_id)
                if room is None or room.head is None:
                    continue
                if entries:
                    self.stats.gap_fills += 1
                for entry in entries:
                    self._offer(room, entry_event(entry))
                if len(entries) >= FILL_LIMIT:
                    self._want(room_id)  # more to read
                elif room.pending:
                    # A gap the log does not hold (yet): ask again after gap_wait rather than
                    # at once, so a hole that never fills cannot turn into a busy loop.
                    asyncio.get_running_loop().call_later(self._gap_wait, self._want, room_id)

    async def _poll_loop(self) -> None:
        while True:
            await asyncio.sleep(self._poll_interval)
            try:
                await self._poll()
            except ChatStoreError as error:
                log.warning("room feed poll failed: %s", error)

    async def _poll(self) -> None:
        self.stats.polls += 1
        known = [room for room in self._rooms.values() if room.head is not None]
        if known:
            numbers = await self._log.head_numbers([room.room_id for room in known])
            for room, head in zip(known, numbers, strict=True):
                self._compare(room, head)
        if self._watches:
            await self._watches.poll(self._log)

    def _compare(self, room: FeedRoom, head: tuple[int, int] | None) -> None:
        """`head`: the room's (last_event_seq, pruned_through) in the log; None: gone."""
        if self._rooms.get(room.room_id) is not room or room.head is None:
            return
        if head is None:
            for listener in list(room.listeners):
                listener.room_gone(room.room_id)
            return
        last_event_seq, pruned_through = head
        if pruned_through > room.head:
            # Retention removed entries this process never handed on: they are gone.
            self.stats.resets += 1
            room.head = last_event_seq
            room.pending.clear()
            for listener in list(room.listeners):
                listener.reset(room.room_id, last_event_seq)
        elif last_event_seq > room.head and room.behind_timer is None:
            # Behind the log. In a busy room some publishes are always on their way, so
            # read the log only if they have not arrived within gap_wait: a fill for real
            # losses, not one per busy room per poll.
            room.behind_timer = asyncio.get_running_loop().call_later(
                self._gap_wait, self._still_behind, room, last_event_seq
            )

    def _still_behind(self, room: FeedRoom, seen: int) -> None:
        room.behind_timer = None
        if self._rooms.get(room.room_id) is room and room.head is not None and room.head < seen:
            self.stats.quiet_fills += 1
            self._want(room.room_id)
