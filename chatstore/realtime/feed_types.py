"""The room feed's types (chatstore.realtime.feed): the queries it reads the log with
(`LogReader`), the client streams it hands entries to (`FeedListener`), what it counts
(`FeedStats`), and the records it keeps per room and for its filler.

Apart from the feed so that its logic (ordering, filling gaps, polling) reads on its own:
these hold state and declare interfaces but decide nothing. chatstore.realtime.feed
re-exports LogReader, FeedListener and FeedStats, where their users import them from.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol
from uuid import UUID

from chatstore.models import LogEntry, RoomHead
from chatstore.realtime.events import Event, room_channel


class LogReader(Protocol):
    """The queries the feed needs (chatstore.repositories.EventLogRepository)."""

    async def after_many(
        self, cursors: Mapping[UUID, int], limit: int = ...
    ) -> dict[UUID, list[LogEntry]]: ...

    async def heads(self, room_ids: Collection[UUID]) -> dict[UUID, RoomHead]: ...

    async def head_numbers(self, room_ids: Sequence[UUID]) -> list[tuple[int, int] | None]: ...

    async def membership_versions(self, user_ids: Collection[UUID]) -> dict[UUID, int]: ...


class FeedListener(Protocol):
    """A client stream, as the feed sees it. Called from the event loop; must not block."""

    def entry(self, room_id: UUID, event: Event) -> None:
        """The room's next change-log entry (event_seq = the previous one's + 1)."""

    def ephemeral(self, room_id: UUID, event: Event) -> None:
        """A typing notice or an application's ephemeral event in the room."""

    def reset(self, room_id: UUID, head: int) -> None:
        """Entries up to `head` can no longer be delivered (pruned): reload the room."""

    def room_gone(self, room_id: UUID) -> None:
        """The room was deleted."""


@dataclass
class FeedStats:
    """What the feed absorbed, for benchmarks and the closing report."""

    delivered: int = 0  # entries handed on (once per room, not per listener)
    duplicates: int = 0  # entries seen again (a retried publish, a fill overlapping live)
    inversions: int = 0  # entries that arrived before an earlier one
    gap_fills: int = 0  # rooms whose gap was filled from the log
    fill_queries: int = 0  # queries run to fill (one covers every waiting room)
    quiet_fills: int = 0  # rooms found behind by the poll (a lost publish)
    polls: int = 0
    resets: int = 0


class FeedRoom:
    """A room's state, and the hub listener on its channel: the hub's events for the room
    go to `on_event` (the feed's ordering)."""

    def __init__(self, room_id: UUID, on_event: Callable[[FeedRoom, Event], None]) -> None:
        self.room_id = room_id
        self.channels = frozenset({room_channel(room_id)})
        self.on_event = on_event
        self.head: int | None = None  # unknown until the first read of the log's head
        self.pending: dict[int, Event] = {}
        self.listeners: set[FeedListener] = set()
        self.gap_timer: asyncio.TimerHandle | None = None
        self.behind_timer: asyncio.TimerHandle | None = None  # see RoomFeed._compare
        self.ready = asyncio.Event()

    def _deliver(self, event: Event) -> None:
        self.on_event(self, event)

    def _end(self) -> None:
        pass

    def stop_timers(self) -> None:
        for timer in (self.gap_timer, self.behind_timer):
            if timer is not None:
                timer.cancel()
        self.gap_timer = self.behind_timer = None


@dataclass
class WantedRooms:
    """Rooms to fill from the log, and the filler's wake-up."""

    rooms: set[UUID] = field(default_factory=set)
    wake: asyncio.Event = field(default_factory=asyncio.Event)
