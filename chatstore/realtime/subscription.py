"""A local listener of the process's Redis subscriber (chatstore.realtime.pubsub.EventHub).

`Subscription` is an async iterator of the events on a fixed set of channels; the hub hands
each event to every listener's bounded queue without waiting. Anything the hub can hand
events to is a `Listener` (the per-room feed of chatstore.realtime.feed is one too).
"""

from __future__ import annotations

import asyncio
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final, Protocol, Self
from uuid import UUID

from chatstore.realtime.events import Event

if TYPE_CHECKING:
    from chatstore.realtime.pubsub import EventHub

RESYNC: Final = "subscription.resync"


def resync_event(reason: str, **details: Any) -> Event:
    """The local notice that events may have been missed; never published."""
    return Event(type=RESYNC, payload={"reason": reason, **details})


class Listener(Protocol):
    """What the hub hands events to. Both methods are called by the hub's reader and must
    never block or raise."""

    @property
    def channels(self) -> frozenset[str]: ...

    def _deliver(self, event: Event) -> None: ...

    def _end(self) -> None: ...


class Subscription:
    """One local listener: an async iterator of Events from a fixed set of channels.

    Use as `async with hub.subscribe([...]) as sub: async for event in sub: ...`; leaving the
    block unsubscribes. Iteration ends when the subscription or its hub is closed.
    """

    def __init__(self, hub: EventHub, channels: frozenset[str], maxsize: int) -> None:
        self._hub = hub
        self.channels = channels
        self._queue: asyncio.Queue[Event | None] = asyncio.Queue(maxsize)
        self._overflowed = False
        self._held: Event | None = None  # the event that follows a gap resync
        self._last_seq: dict[UUID, int] = {}
        self._closed = False
        self.dropped = 0  # events lost to overflow; the listener was told to resync

    # --- called by the hub's reader: must never block or raise -------------------------

    def _deliver(self, event: Event) -> None:
        try:
            self._queue.put_nowait(event)
        except asyncio.QueueFull:
            # Dropping the newest rather than blocking the reader: the listener catches up
            # from its own last seq, which covers every dropped event.
            self._overflowed = True
            self.dropped += 1

    def _end(self) -> None:
        """Mark closed and wake a consumer blocked on the queue."""
        if self._closed:
            return
        self._closed = True
        if self._queue.full():
            self._queue.get_nowait()  # closing anyway: room for the sentinel beats an event
        self._queue.put_nowait(None)

    # --- consumer side -----------------------------------------------------------------

    async def ready(self) -> None:
        """Wait until Redis confirmed every channel; Unavailable if it does not in time."""
        await self._hub._wait_subscribed(self.channels)

    def close(self) -> None:
        """Stop listening (idempotent). The hub drops the Redis channel if this was the last."""
        if not self._closed:
            self._hub._remove(self)
            self._end()

    async def __aenter__(self) -> Self:
        try:
            await self.ready()
        except BaseException:
            self.close()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> Event:
        if self._held is not None:
            event, self._held = self._held, None
            return event
        if self._overflowed:
            return self._take_overflow()
        if self._closed and self._queue.empty():
            raise StopAsyncIteration
        item = await self._queue.get()
        if item is None:
            raise StopAsyncIteration
        return self._check_sequence(item)

    def _take_overflow(self) -> Event:
        self._overflowed = False
        # What is queued is older than what was dropped; the catch-up covers it all, and
        # keeping it would only make the listener process it twice.
        while not self._queue.empty():
            if self._queue.get_nowait() is None:
                self._queue.put_nowait(None)  # keep the close sentinel
                break
        self._last_seq.clear()
        return resync_event("overflow")

    def _check_sequence(self, event: Event) -> Event:
        if event.type == RESYNC:
            # After a catch-up the next seq of each room is a fresh baseline, not a gap.
            self._last_seq.clear()
            return event
        # Edits and deletes carry their message's old seq: only creation advances a room.
        # isinstance: a foreign publisher's seq could be any JSON value.
        if event.type != "message.created" or event.room_id is None:
            return event
        if not isinstance(event.seq, int):
            return event
        last = self._last_seq.get(event.room_id)
        if last is None or event.seq > last:
            self._last_seq[event.room_id] = event.seq
        if last is not None and event.seq > last + 1:
            self._held = event
            return resync_event("gap", room_id=str(event.room_id), after_seq=last)
        return event
