"""EventLogRepository: the room change log (`room_events`), as live delivery reads it.

Every room-scoped change appends one entry in the statement that makes it (messages, members,
room edits; see docs/architecture.md, "The room change log"), numbered per room under the
room row lock, so `event_seq` is gap-free in commit order: a listener that holds a cursor
and reads "everything after N" never misses a committed change. Entries up to a room's
`pruned_through` may have been pruned by retention; every later one exists.

Each method is one statement (one round trip). The queries live in `sql/events.sql`.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import timedelta
from typing import Any, Final, cast
from uuid import UUID

from psycopg.types.json import Jsonb

from chatstore import validation
from chatstore.errors import NotFound, PermissionDenied, ResultShapeError, ValidationError
from chatstore.models import LogEntry, Membership, Role, RoomHead
from chatstore.repositories.base import Repository
from chatstore.repositories.changelog import appended, entry
from chatstore.rows import all_tuples

# Entries per room per call: enough to page through any backlog, small enough that one
# call cannot pull a whole log into memory by mistake.
LIMIT_MAX: Final = 100_000
PRUNE_BATCH_MAX: Final = 100_000
# `now() - older_than` must stay a timestamp PostgreSQL can hold; an age beyond this prunes
# nothing anyway (no entry is that old).
PRUNE_AGE_MAX: Final = timedelta(days=100 * 365)


class EventLogRepository(Repository):
    """Reading the change log after cursors, log heads and memberships for live streams, an
    application's own entries, and retention. Reads here check no membership: they are the
    server's own (a stream decides what a connected user may see from `memberships`)."""

    async def after(self, room_id: UUID | str, after_seq: int, limit: int = 500) -> list[LogEntry]:
        """The room's entries with event_seq > after_seq, ascending, at most `limit`.

        An unknown room has no entries. When the result is shorter than `limit` it reached the
        room's head as of this read; otherwise call again from the last event_seq.
        """
        room = validation.uuid_value("room_id", room_id)
        after = validation.seq("after_seq", after_seq)
        size = validation.integer("limit", limit, low=1, high=LIMIT_MAX)
        async with self._db.connection() as conn:
            return [
                entry(row)
                async for row in self._queries.events.entries_after(
                    conn, room_id=room, after_seq=after, limit=size
                )
            ]

    async def after_many(
        self, cursors: Mapping[UUID, int], limit: int = 500
    ) -> dict[UUID, list[LogEntry]]:
        """`after` for many rooms in one query: room id -> its entries after its cursor,
        ascending, at most `limit` per room. Every room asked for is a key (an empty list
        when nothing is newer, or the room does not exist)."""
        if not isinstance(cursors, Mapping):
            raise ValidationError("cursors", "must be a mapping of room id to event_seq")
        positions = {
            validation.uuid_value("cursors", room): validation.seq("cursors", seq)
            for room, seq in cursors.items()
        }
        size = validation.integer("limit", limit, low=1, high=LIMIT_MAX)
        found: dict[UUID, list[LogEntry]] = {room: [] for room in positions}
        if not positions:
            return found
        async with self._db.connection() as conn:
            async for row in self._queries.events.entries_after_many(
                conn,
                room_ids=list(positions),
                after_seqs=list(positions.values()),
                limit=size,
            ):
                found[row["room_id"]].append(entry(row))
        return found

    async def heads(self, room_ids: Collection[UUID]) -> dict[UUID, RoomHead]:
        """Where each room's log stands; rooms that no longer exist are absent."""
        rooms = validation.uuid_list("room_ids", room_ids)
        if not rooms:
            return {}
        async with self._db.connection() as conn:
            return {
                row["room_id"]: RoomHead(
                    room_id=row["room_id"],
                    last_event_seq=int(row["last_event_seq"]),
                    pruned_through=int(row["pruned_through"]),
                )
                async for row in self._queries.events.heads(conn, room_ids=rooms)
            }

    async def head_numbers(self, room_ids: Sequence[UUID]) -> list[tuple[int, int] | None]:
        """heads() by position, for a poll of many rooms: for each of room_ids, in order,
        (last_event_seq, pruned_through), or None for a room that no longer exists.

        No objects are built per room, so a poll of thousands of rooms leaves almost
        nothing for the garbage collector. `room_ids` is a list of UUID objects (checked
        by type only, being the feed's own rooms); one given twice is answered twice."""
        if isinstance(room_ids, str | bytes) or not isinstance(room_ids, Sequence):
            raise ValidationError("room_ids", "must be a list of UUIDs")
        if not all(isinstance(room, UUID) for room in room_ids):
            raise ValidationError("room_ids", "must be a list of UUIDs")
        if not room_ids:
            return []
        async with self._db.connection() as conn:
            _, rows = await all_tuples(
                self._queries.events.head_numbers_cursor, conn, room_ids=list(room_ids)
            )
        if len(rows) != len(room_ids):
            raise ResultShapeError("position", [f"{len(rows)} rows for {len(room_ids)} rooms"])
        return [None if last is None else (last, pruned) for last, pruned in rows]

    async def membership_versions(self, user_ids: Collection[UUID]) -> dict[UUID, int]:
        """Each user's membership_version, which moves whenever one of their memberships is
        added or removed (room deletion included); users that do not exist are absent."""
        users = validation.uuid_list("user_ids", user_ids)
        if not users:
            return {}
        async with self._db.connection() as conn:
            return {
                row["user_id"]: int(row["membership_version"])
                async for row in self._queries.events.membership_versions(conn, user_ids=users)
            }

    async def memberships(self, user_id: UUID | str) -> dict[UUID, Membership]:
        """The user's rooms: role, the event_seq of the member.joined entry that made them a
        member (0 for memberships older than the log), and each room's log head."""
        user = validation.uuid_value("user_id", user_id)
        async with self._db.connection() as conn:
            return {
                row["room_id"]: Membership(
                    room_id=row["room_id"],
                    role=cast(Role, row["role"]),
                    joined_event_seq=int(row["joined_event_seq"]),
                    last_event_seq=int(row["last_event_seq"]),
                    pruned_through=int(row["pruned_through"]),
                )
                async for row in self._queries.events.memberships(conn, user_id=user)
            }

    async def append(
        self,
        room_id: UUID | str,
        type: str,
        payload: Mapping[str, Any],
        *,
        actor_id: UUID | str,
    ) -> LogEntry:
        """Append an application's own entry (delivered like chatstore's), by a member.

        `type` is lowercase dotted (`app.poll_closed`), outside chatstore's own prefixes;
        `payload` a JSON object of at most 16 KB. Raises ValidationError, NotFound (room) and
        PermissionDenied (the actor is not a member). Inside `store.transaction()` the entry
        commits, and is published, with the rest of the block.
        """
        room = validation.uuid_value("room_id", room_id)
        kind = validation.event_type("type", type)
        body = validation.json_object("payload", payload)
        actor = validation.uuid_value("actor_id", actor_id)
        async with self._db.transaction() as conn:
            row = await self._queries.events.append_event(
                conn, room_id=room, actor_id=actor, type=kind, payload=Jsonb(body)
            )
            if row is None:
                raise NotFound("room", room)
            added = appended(row)
            if not row["is_member"] or added is None:
                raise PermissionDenied("only members of a room can append to its log")
            await self._db.log_appended([added])
        return added

    async def prune(self, older_than: timedelta, batch: int = 10_000) -> int:
        """Delete up to `batch` entries created more than `older_than` ago (oldest first) and
        raise each affected room's pruned_through to the highest event_seq deleted there;
        returns how many were deleted. Call again while it returns `batch`.

        Never waits for a lock: entries of a room being written to right now are left for a
        later call, so pruning neither delays sends nor deadlocks with them.
        """
        if not isinstance(older_than, timedelta) or not timedelta(0) < older_than <= PRUNE_AGE_MAX:
            raise ValidationError("older_than", "must be a positive timedelta of at most 100 years")
        size = validation.integer("batch", batch, low=1, high=PRUNE_BATCH_MAX)
        async with self._db.connection() as conn:
            row = await self._queries.events.prune_events(conn, older_than=older_than, limit=size)
        return 0 if row is None else int(row["deleted_count"])


__all__ = ["EventLogRepository"]
