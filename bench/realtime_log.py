"""The change log as the live-delivery section's RoomFeed reads it (bench/realtime.py).

The section publishes entries it does not write to PostgreSQL (at 5,000/s that would
measure commits, not delivery). In production a publish follows its commit, so an entry
that is late or lost on the wire (the breaker skips publishes once Redis is slow) is in the
log, and the feed fills it from there after `gap_wait`, or after its next poll. Reading
PostgreSQL here would find nothing and the feed would keep asking. So, for the section
only, the feed reads this instead: every entry sent so far, as if each had committed just
before its publish, over the real log's heads (still one PostgreSQL query per poll). The
live path, which is what the section measures, does not touch it.

It keeps only each entry's send time, by room and event_seq (numbers, which the garbage
collector does not track), and rebuilds an entry when the feed asks for it. In production
the log is in PostgreSQL, not in the process: kept here as LogEntry objects (a dict each),
a run's 25,000 entries made the collector walk them again and again, and its full
collections stalled the event loop for 60 to 110 ms in chatstore's runs only.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from uuid import UUID

from chatstore.models import LogEntry, RoomHead
from chatstore.realtime.feed import FILL_LIMIT, LogReader

# Rebuilds the entry sent into `room` as `event_seq`, from its send time.
Rebuild = Callable[[UUID, int, float], LogEntry]


class SentLog:
    def __init__(self, real: LogReader, rebuild: Rebuild) -> None:
        self.real = real
        self._rebuild = rebuild
        self._sent: dict[UUID, dict[int, float]] = {}

    def clear(self, rooms: Collection[UUID]) -> None:
        """Each run starts again from the rooms' heads in PostgreSQL."""
        self._sent = {room: {} for room in rooms}

    def record(self, room: UUID, event_seq: int, sent_at: float) -> None:
        self._sent[room][event_seq] = sent_at

    async def after_many(
        self, cursors: Mapping[UUID, int], limit: int = FILL_LIMIT
    ) -> dict[UUID, list[LogEntry]]:
        found = {}
        for room, cursor in cursors.items():
            sent = self._sent.get(room, {})
            run: list[LogEntry] = []
            while cursor + 1 in sent and len(run) < limit:
                cursor += 1
                run.append(self._rebuild(room, cursor, sent[cursor]))
            found[room] = run
        return found

    async def heads(self, room_ids: Collection[UUID]) -> dict[UUID, RoomHead]:
        heads = await self.real.heads(room_ids)
        for room, head in heads.items():
            sent = self._sent.get(room)
            if sent:
                heads[room] = RoomHead(
                    room, max(head.last_event_seq, max(sent)), head.pruned_through
                )
        return heads

    async def head_numbers(self, room_ids: Sequence[UUID]) -> list[tuple[int, int] | None]:
        numbers = await self.real.head_numbers(room_ids)
        for index, (room, head) in enumerate(zip(room_ids, numbers, strict=True)):
            sent = self._sent.get(room)
            if sent and head is not None:
                numbers[index] = (max(head[0], max(sent)), head[1])
        return numbers

    async def membership_versions(self, user_ids: Collection[UUID]) -> dict[UUID, int]:
        return await self.real.membership_versions(user_ids)
