"""One connected client: what a WebSocket handler holds (`store.connect(...)`).

A `ClientStream` yields, for exactly the rooms its user is a member of, every change-log
entry after the client's cursors, exactly once and in `event_seq` order per room: edits and
deletes of old messages included, since they are entries of their own. It follows
membership while it runs: a room the user joins starts at its `member.joined` entry; after
the user's own `member.left` / `member.removed` entry nothing more comes from that room.
Typing in its rooms and presence of the users it follows come as ephemeral extras.

The guarantee rests on PostgreSQL, not Redis: live entries come through the process's
`RoomFeed` (ordered, gaps filled from the log), and this stream checks every entry against
its own cursor before yielding it, reading the log again itself only when it sees a hole
(after its queue overflowed). With Redis down it keeps delivering through the feed's poll
and never raises into the handler because of it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Awaitable, Collection, Mapping
from types import TracebackType
from typing import Protocol, Self, TypeVar
from uuid import UUID

from chatstore.errors import ChatStoreError
from chatstore.models import LogEntry, Membership, UserRoom
from chatstore.realtime.events import Event, entry_event, user_channel
from chatstore.realtime.feed import RoomFeed
from chatstore.realtime.pubsub import EventHub
from chatstore.realtime.subscription import Subscription
from chatstore.realtime.tasks import stop_task

log = logging.getLogger("chatstore")
T = TypeVar("T")

QUEUE_LIMIT = 10_000  # queued events per client; beyond it a room is re-read from the log
CATCH_UP_LIMIT = 500
_LEAVING = frozenset({"member.left", "member.removed"})


class StreamLog(Protocol):
    async def after_many(
        self, cursors: Mapping[UUID, int], limit: int = ...
    ) -> dict[UUID, list[LogEntry]]: ...

    async def memberships(self, user_id: UUID) -> dict[UUID, Membership]: ...

    async def membership_versions(self, user_ids: Collection[UUID]) -> dict[UUID, int]: ...


class StreamPresence(Protocol):
    async def connect(self, user_id: UUID, device_id: str) -> bool: ...

    async def heartbeat(self, user_id: UUID, device_id: str) -> bool: ...

    async def disconnect(self, user_id: UUID, device_id: str) -> bool: ...

    async def online_many(self, user_ids: Collection[UUID]) -> dict[UUID, bool]: ...


class StreamRooms(Protocol):
    async def rooms_of_user(self, user_id: UUID) -> list[UserRoom]: ...


class _Room:
    def __init__(self, room_id: UUID, cursor: int) -> None:
        self.room_id = room_id
        self.cursor = cursor  # the last event_seq yielded (or skipped as before the join)
        self.open = True


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
        self._rooms: dict[UUID, _Room] = {}
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
        starts: dict[UUID, int] = {}
        for room_id, member in memberships.items():
            given = self._given.get(room_id)
            # A cursor from the future (a client's bug) starts at the head: nothing is lost.
            start = member.last_event_seq if given is None else min(given, member.last_event_seq)
            if start < member.pruned_through:
                self._front.append(_reset_event(room_id, member.last_event_seq))
                start = member.last_event_seq
            # Nothing from before the user joined, whatever the cursor says.
            starts[room_id] = max(start, member.joined_event_seq - 1)
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
            self._rooms[room_id] = _Room(room_id, start)
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
            self._queue.put_nowait(_reset_event(room_id, head))

    def room_gone(self, room_id: UUID) -> None:
        room = self._rooms.get(room_id)
        if room is not None and room.open:
            self._queue.put_nowait(_closed_event(room_id, "deleted"))

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
        starts: dict[UUID, int] = {}
        for room_id, member in memberships.items():
            room = self._rooms.get(room_id)
            # A closed room the user is a member of again: the membership is newer than the
            # leaving entry that closed it (joined_event_seq > cursor), so start again there.
            if room is None or (not room.open and member.joined_event_seq > room.cursor):
                starts[room_id] = member.joined_event_seq - 1
        if starts:
            await self._start_rooms(starts)
        # Rooms the user left: their own leaving entry closes them as it is yielded; read
        # the log in case it has not come yet.
        gone = {
            room_id: room.cursor
            for room_id, room in self._rooms.items()
            if room.open and room_id not in memberships
        }
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


def _reset_event(room_id: UUID, head: int) -> Event:
    return Event(type="stream.reset", room_id=room_id, payload={"event_seq": head})


def _closed_event(room_id: UUID, reason: str) -> Event:
    return Event(type="stream.room_closed", room_id=room_id, payload={"reason": reason})
