"""ReadMarkerRepository: moving read markers without naming a message.

- `mark_read_up_to(room_id, user_id, seq=None)` moves one member's marker
  (room_users.last_read_seq) forward to `seq`: None means the room's last message, a seq
  past it is clamped to it, and a marker already there or further stays put (never
  backward). It answers the marker and the exact unread and unread mention counts
  after it.
- `mark_all_read(user_id)` moves every marker of the user to its room's last message and
  answers how many moved.

Neither writes read receipts (message_read_receipts, "this member read this message"):
they say "everything up to here is read", as when a client opens a room at its bottom or
the user taps "mark all read", and a receipt per message would be a write per message of
the backlog. Receipts stay with messages.mark_as_read, for the messages a client showed.

Each call is one statement, one round trip (sql/members.sql). Moving a marker twice is
moving it once, so a lost answer is settled by running the statement again
(chatstore.commit_outcome.run_idempotent), as mark_as_read does.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final
from uuid import UUID

from chatstore import validation
from chatstore.commit_outcome import run_idempotent_counted
from chatstore.conversation_models import ReadMarker
from chatstore.db import current_connection
from chatstore.errors import NotFound, PermissionDenied
from chatstore.repositories.base import Repository

# Past any seq (validation.seq's bound): "up to the last message", clamped by the query.
LAST: Final = 2**62
NOT_A_MEMBER = "only members of a room can do this"


class ReadMarkerRepository(Repository):
    """Read markers moved for a whole stretch of a room, or for every room of a user."""

    async def mark_read_up_to(
        self, room_id: UUID | str, user_id: UUID | str, seq: int | None = None
    ) -> ReadMarker:
        """Move the member's read marker forward to `seq` (None: the room's last message;
        a seq past it counts as it; never backward) and return it with the exact unread
        and unread mention counts after it. No read receipts are written. Raises
        ValidationError (seq not a whole number >= 0, bad ids; nothing written), NotFound
        (room), PermissionDenied (not a member)."""
        marker, _ = await self._move(room_id, user_id, seq)
        return marker

    async def mark_all_read(self, user_id: UUID | str) -> int:
        """Move every read marker of the user to its room's last message, in one statement;
        how many markers moved (rooms already read to the end are not written). An unknown
        user has no rooms: 0. No read receipts are written."""
        moved, _ = await self._move_all(user_id)
        return moved

    async def _move(
        self, room_id: UUID | str, user_id: UUID | str, seq: int | None
    ) -> tuple[ReadMarker, bool]:
        """mark_read_up_to, also saying whether listeners should hear of it: the marker
        moved, or a lost answer made the call run twice and the first run may have."""
        room = validation.uuid_value("room_id", room_id)
        reader = validation.uuid_value("user_id", user_id)
        target = LAST if seq is None else validation.seq("seq", seq)

        async def attempt() -> Mapping[str, Any] | None:
            async with self._db.connection() as conn:
                row: Mapping[str, Any] | None = await self._queries.members.mark_read_up_to(
                    conn, room_id=room, user_id=reader, seq=target
                )
            return row

        row, retried = await run_idempotent_counted(
            self._db, attempt, "mark read up to", current_connection() is not None
        )
        if row is None:
            raise NotFound("room", room)
        if not row["is_member"]:
            raise PermissionDenied(NOT_A_MEMBER)
        marker = ReadMarker(
            room_id=room,
            user_id=reader,
            last_read_seq=int(row["last_read_seq"]),
            unread_count=int(row["unread_count"]),
            moved=bool(row["moved"]),
            unread_mention_count=int(row["unread_mention_count"]),
        )
        return marker, marker.moved or retried

    async def _move_all(self, user_id: UUID | str) -> tuple[int, bool]:
        """mark_all_read, also saying whether listeners should hear of it (as _move)."""
        reader = validation.uuid_value("user_id", user_id)

        async def attempt() -> int:
            async with self._db.connection() as conn:
                row = await self._queries.members.mark_all_read(conn, user_id=reader)
            return int(row["moved_count"])

        moved, retried = await run_idempotent_counted(
            self._db, attempt, "mark all read", current_connection() is not None
        )
        return moved, moved > 0 or retried


__all__ = ["ReadMarkerRepository"]
