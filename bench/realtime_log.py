"""The change log as the live-delivery section's RoomFeed reads it (bench/realtime.py).

The section publishes entries it does not write to PostgreSQL (at 5,000/s that would
measure commits, not delivery). In production a publish follows its commit, so an entry
that is late or lost on the wire (the breaker skips publishes once Redis is slow) is in the
log, and the feed fills it from there after `gap_wait`, or after its next poll. Reading
PostgreSQL here would find nothing and the feed would keep asking. So, for the section
only, the feed reads this instead: every entry sent so far, as if each had committed just
before its publish, over the real log's heads (still one PostgreSQL query per poll). The
live path, which is what the section measures, does not touch it.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from datetime import datetime
from uuid import UUID

from chatstore.models import LogEntry, RoomHead
from chatstore.realtime.feed import FILL_LIMIT, LogReader

# An entry as kept here: type, actor (text), payload as JSON, created_at: a tuple of values
# the garbage collector does not track (a UUID it would), so it stops tracking the tuple
# too. Kept as LogEntry objects (a dict each), a run's 25,000 entries made the collector
# walk them again and again, and its full collections stalled the event loop for 60 to
# 110 ms, which the live path would then be blamed for. In production the log is in
# PostgreSQL, not in the process.
_Kept = tuple[str, str | None, str, datetime]


class SentLog:
    def __init__(self, real: LogReader) -> None:
        self.real = real
        self._entries: dict[UUID, dict[int, _Kept]] = {}

    def clear(self) -> None:
        """Each run starts again from the rooms' heads in PostgreSQL."""
        self._entries = {}

    def record(self, entry: LogEntry) -> None:
        actor = None if entry.actor_id is None else str(entry.actor_id)
        kept = (entry.type, actor, json.dumps(entry.payload), entry.created_at)
        self._entries.setdefault(entry.room_id, {})[entry.event_seq] = kept

    @staticmethod
    def _entry(room: UUID, seq: int, kept: _Kept) -> LogEntry:
        kind, actor, payload, created_at = kept
        actor_id = None if actor is None else UUID(actor)
        return LogEntry(room, seq, kind, actor_id, json.loads(payload), created_at)

    async def after_many(
        self, cursors: Mapping[UUID, int], limit: int = FILL_LIMIT
    ) -> dict[UUID, list[LogEntry]]:
        found = {}
        for room, cursor in cursors.items():
            entries = self._entries.get(room, {})
            run: list[LogEntry] = []
            while cursor + 1 in entries and len(run) < limit:
                cursor += 1
                run.append(self._entry(room, cursor, entries[cursor]))
            found[room] = run
        return found

    async def heads(self, room_ids: Collection[UUID]) -> dict[UUID, RoomHead]:
        heads = await self.real.heads(room_ids)
        for room, head in heads.items():
            sent = self._entries.get(room)
            if sent:
                heads[room] = RoomHead(
                    room, max(head.last_event_seq, max(sent)), head.pruned_through
                )
        return heads

    async def membership_versions(self, user_ids: Collection[UUID]) -> dict[UUID, int]:
        return await self.real.membership_versions(user_ids)
