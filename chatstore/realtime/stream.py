"""One connected client: what a WebSocket handler holds (`store.connect(...)`).

A `ClientStream` yields, for exactly the rooms its user is a member of, every change-log
entry after the client's cursors, exactly once and in `event_seq` order per room: edits and
deletes of old messages included, since they are entries of their own. It follows
membership while it runs: a room the user joins starts at its `member.joined` entry (where
each room starts: chatstore.realtime.stream_rooms); after the user's own `member.left` /
`member.removed` entry nothing more comes from that room. Typing in its rooms and presence
of the users it follows come as ephemeral extras.

The guarantee rests on PostgreSQL, not Redis: live entries come through the process's
`RoomFeed` (ordered, gaps filled from the log), and this stream checks every entry against
its own cursor before yielding it, reading the log again itself only when it sees a hole
(after its queue overflowed). With Redis down it keeps delivering through the feed's poll
and never raises into the handler because of it. What it calls on the log, presence and
the room list is declared in chatstore.realtime.stream_types.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Awaitable, Collection, Mapping
from types import TracebackType
from typing import Self, TypeVar
from uuid import UUID

from chatstore.errors import ChatStoreError
from chatstore.models import UserRoom
from chatstore.realtime.events import Event, entry_event, user_channel
from chatstore.realtime.feed import RoomFeed
from chatstore.realtime.mention_events import mention_event
from chatstore.realtime.pubsub import EventHub
from chatstore.realtime.stream_rooms import (
    StreamRoom,
    closed_event,
    connect_starts,
    joined_starts,
    left_cursors,
    reset_event,
)
from chatstore.realtime.stream_types import StreamLog, StreamPresence, StreamRooms
from chatstore.realtime.subscription import Subscription
from chatstore.realtime.tasks import stop_task

log = logging.getLogger("chatstore")
T = TypeVar("T")

QUEUE_LIMIT = 10_000  # queued events per client; beyond it a room is re-read from the log
CATCH_UP_LIMIT = 500
_LEAVING = frozenset({"member.left", "member.removed"})


class ClientStream:
    """Use as `async with store.connect(user_id, device_id, cursors=...) as stream:` and
    `async for event in stream:`; `stream.snapshot` and `stream.cursors` are ready then."""

    def __init__(
        self,
        *,
        user_id: UUID,
        device_id: str,
        cursors: Mapping[UUID, int],
        follow: Collection[UUID],
        feed: RoomFeed,
        hub: EventHub,
        event_log: StreamLog,
        presence: StreamPresence,
        rooms: StreamRooms,
    ) -> None:
        self.user_id = user_id
        self.device_id = device_id
        self._given = dict(cursors)
        self._follow = follow
        self._feed = feed
        self._hub = hub
        self._log = event_log
        self._presence = presence
        self._rooms_repo = rooms
        self._rooms: dict[UUID, StreamRoom] = {}
        self._front: deque[Event] = deque()  # read from the log: yielded before the queue
        self._queue: asyncio.Queue[Event | None] = asyncio.Queue()
        self._stale: set[UUID] = set()  # rooms whose live entries overflowed the queue
        self._refresh_wanted = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._ephemeral: Subscription | None = None
        self._closed = False
        self.snapshot_rooms: list[UserRoom] = []
        self.snapshot_online: dict[UUID, bool] = {}
        self.log_reads = 0  # catch-up queries this stream ran itself

    # --- opening and closing -----------------------------------------------------------

    async def open(self) -> None:
        version = (await self._log.membership_versions([self.user_id])).get(self.user_id, 0)
        memberships = await self._log.memberships(self.user_id)
        self._feed.watch(self.user_id, self, version, self._refresh_wanted.set)
        starts, resets = connect_starts(memberships, self._given)
        self._front.extend(resets)
        await self._start_rooms(starts)
        self.snapshot_rooms = await self._rooms_repo.rooms_of_user(self.user_id)
        followed = list(self._follow)
        await self._open_ephemeral(followed)
        self.snapshot_online = await self._quietly(self._presence.online_many(followed), {})
        await self._quietly(self._presence.connect(self.user_id, self.device_id), False)
        self._tasks.append(asyncio.create_task(self._refresh_loop(), name="chatstore-stream"))

    async def _start_rooms(self, starts: Mapping[UUID, int]) -> None:
        """Join the feed for these rooms first, then read the log from each start: every
        entry after the start is then either in the catch-up or handed on live."""
        for room_id, start in starts.items():
            self._rooms[room_id] = StreamRoom(room_id, start)
        await self._feed.join_many(list(starts), self)
        await self._catch_up({room_id: self._rooms[room_id].cursor for room_id in starts})

    async def _catch_up(self, cursors: Mapping[UUID, int]) -> None:
        positions = dict(cursors)
        while positions:
            self.log_reads += 1
            found = await self._log.after_many(positions, CATCH_UP_LIMIT)
            next_round = {}
            for room_id, entries in found.items():
                for entry in entries:
                    self._front.append(entry_event(entry))
                if len(entries) >= CATCH_UP_LIMIT:
                    next_round[room_id] = entries[-1].event_seq
            positions = next_round
        self._queue.put_nowait(_WAKE)

    async def _open_ephemeral(self, followed: list[UUID]) -> None:
        channels = [user_channel(self.user_id), *(user_channel(u) for u in followed)]
        self._ephemeral = self._hub.subscribe(channels)
        with contextlib.suppress(ChatStoreError):
            await self._hub.wait_subscribed(channels)
        self._tasks.append(asyncio.create_task(self._pump(), name="chatstore-stream-pump"))

    async def _pump(self) -> None:
        assert self._ephemeral is not None
        mine = str(self.user_id)
        async for event in self._ephemeral:
            if event.type.startswith("member.") and event.event_seq is not None:
                self._refresh_wanted.set()  # a hint that this user's rooms changed
            elif event.type.startswith("marker.") and event.payload.get("user_id") != mine:
                pass  # a followed user's read markers: news for that user's devices only
            elif event.type != "subscription.resync":
                self._queue.put_nowait(event)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for task in self._tasks:
            await stop_task(task)
        self._feed.unwatch(self.user_id, self)
        for room_id in list(self._rooms):
            self._feed.leave(room_id, self)
        if self._ephemeral is not None:
            self._ephemeral.close()
        await self._quietly(self._presence.disconnect(self.user_id, self.device_id), False)
        self._queue.put_nowait(None)

    async def __aenter__(self) -> Self:
        try:
            await self.open()
        except BaseException:
            await self.close()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def heartbeat(self) -> bool:
        """Keep this device online; False while Redis is unreachable."""
        return await self._quietly(self._presence.heartbeat(self.user_id, self.device_id), False)

    @property
    def cursors(self) -> dict[UUID, int]:
        """Per room, the event_seq of the last entry yielded: hand these to `connect` to
        resume elsewhere."""
        return {room_id: room.cursor for room_id, room in self._rooms.items() if room.open}

    # --- the feed's side (FeedListener) ----------------------------------------------------

    def entry(self, room_id: UUID, event: Event) -> None:
        room = self._rooms.get(room_id)
        if room is None or not room.open or room_id in self._stale:
            return
        if self._queue.qsize() >= QUEUE_LIMIT:
            self._stale.add(room_id)  # re-read from the log when the consumer gets here
            return
        self._queue.put_nowait(event)

    def ephemeral(self, room_id: UUID, event: Event) -> None:
        room = self._rooms.get(room_id)
        if room is not None and room.open and self._queue.qsize() < QUEUE_LIMIT:
            self._queue.put_nowait(event)

    def reset(self, room_id: UUID, head: int) -> None:
        room = self._rooms.get(room_id)
        if room is not None and room.open:
            self._queue.put_nowait(reset_event(room_id, head))

    def room_gone(self, room_id: UUID) -> None:
        room = self._rooms.get(room_id)
        if room is not None and room.open:
            self._queue.put_nowait(closed_event(room_id, "deleted"))

    # --- following membership ----------------------------------------------------------

    async def _refresh_loop(self) -> None:
        while True:
            await self._refresh_wanted.wait()
            self._refresh_wanted.clear()
            try:
                await self._refresh()
            except ChatStoreError as error:
                log.warning("stream could not re-read memberships, retrying: %s", error)
                await asyncio.sleep(0.5)
                self._refresh_wanted.set()

    async def _refresh(self) -> None:
        memberships = await self._log.memberships(self.user_id)
        starts = joined_starts(memberships, self._rooms)
        if starts:
            await self._start_rooms(starts)
        # Rooms the user left: their own leaving entry closes them as it is yielded; read
        # the log in case it has not come yet.
        gone = left_cursors(memberships, self._rooms)
        if gone:
            await self._catch_up(gone)

    # --- the consumer's side -------------------------------------------------------------

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> Event:
        while True:
            if self._stale:
                await self._reread_stale()
            event = self._front.popleft() if self._front else await self._queue.get()
            if event is None:
                self._queue.put_nowait(None)
                raise StopAsyncIteration
            if event is _WAKE:
                continue
            checked = self._check(event)
            if checked is not None:
                return checked

    async def _reread_stale(self) -> None:
        stale, self._stale = self._stale, set()
        await self._catch_up({r: self._rooms[r].cursor for r in stale if r in self._rooms})

    def _check(self, event: Event) -> Event | None:
        """The event if the client should see it now; None for a duplicate or a room that
        is not (or no longer) the user's."""
        room_id = event.room_id
        if event.event_seq is None:
            room = None if room_id is None else self._rooms.get(room_id)
            if room is None or not room.open:
                return event if room_id is None else None  # presence: not room-scoped
            if event.type == "stream.reset":
                room.cursor = max(room.cursor, int(event.payload["event_seq"]))
            elif event.type == "stream.room_closed":
                room.open = False
                self._feed.leave(room.room_id, self)
            return event
        room = self._rooms.get(room_id) if room_id is not None else None
        if room is None or not room.open or event.event_seq <= room.cursor:
            return None
        if event.event_seq > room.cursor + 1:
            self._stale.add(room.room_id)  # a hole: read the log from the cursor
            return None
        room.cursor = event.event_seq
        # A mention of the user comes right after its entry (chatstore.realtime.mention_events).
        if (mention := mention_event(event, self.user_id)) is not None:
            self._front.appendleft(mention)
        if event.type in _LEAVING and event.payload.get("user_id") == str(self.user_id):
            room.open = False
            self._feed.leave(room.room_id, self)
            # A rejoin that came while this entry waited in the queue was not acted on (the
            # room was still open then): read the memberships again now that it is closed.
            self._refresh_wanted.set()
        return event

    async def _quietly(self, call: Awaitable[T], fallback: T) -> T:
        """Redis-side extras never fail the stream: degrade, and recover on the next call."""
        try:
            return await call
        except ChatStoreError as error:
            log.debug("stream extra skipped: %s", error)
            return fallback


_WAKE = Event(type="stream.wake")
