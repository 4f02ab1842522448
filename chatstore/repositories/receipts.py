"""Read receipts and unread counts: the half of MessageRepository (which inherits
ReceiptMethods) that records who read what and counts what is left.

Marking a message read records the receipt (its first time kept) and moves the reader's
marker forward, never backward, in one statement (sql/receipts.sql); unread counts come
from the one definition of unread, the member_unread view (sql/members.sql). Receipts stay
out of the room change log (see docs/architecture.md).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any
from uuid import UUID

from chatstore import validation
from chatstore.commit_outcome import run_idempotent
from chatstore.db import Database, current_connection
from chatstore.errors import NotFound, PermissionDenied
from chatstore.mapping import from_row
from chatstore.models import Receipt, UnreadCount
from chatstore.repositories.base import Repository
from chatstore.rows import all_rows

Row = Mapping[str, Any]


def require_member_flag(is_member: object) -> None:
    """PermissionDenied unless a query's membership flag (or row) says member."""
    if not is_member:
        raise PermissionDenied("only members of a room can do this")


async def message_rows_for_member(
    db: Database, query_cursor: Callable[..., Any], message_id: UUID, user_id: UUID
) -> Sequence[Row]:
    """The rows of a query about one message (its receipts, its revisions), each carrying
    is_member for the reader: NotFound when there are none (no such message),
    PermissionDenied for a reader who is not a member of its room."""
    async with db.connection() as conn:
        rows = await all_rows(query_cursor, conn, message_id=message_id, user_id=user_id)
    if not rows:
        raise NotFound("message", message_id)
    require_member_flag(rows[0]["is_member"])
    return rows


def _receipt(row: Row) -> Receipt:
    return from_row(Receipt, row)


class ReceiptMethods(Repository):
    async def mark_as_read(self, message_id: UUID | str, user_id: UUID | str) -> Receipt:
        """Record that a member read a message and move their read marker forward to it.

        The first read time is kept; the marker never moves backward, even when calls for
        older messages race calls for newer ones.
        """
        receipt, _ = await self._mark_read(message_id, user_id)
        return receipt

    async def _mark_read(self, message_id: UUID | str, user_id: UUID | str) -> tuple[Receipt, int]:
        """mark_as_read, also returning the seq the read marker moved to (one statement,
        plus a second only when a concurrent call recorded the receipt first)."""
        message = validation.uuid_value("message_id", message_id)
        reader = validation.uuid_value("user_id", user_id)
        queries = self._queries.receipts

        async def attempt() -> tuple[Receipt, int]:
            async with self._db.connection() as conn:
                row = await queries.mark_read(conn, message_id=message, user_id=reader)
                if row is None:
                    raise NotFound("message", message)
                require_member_flag(row["is_member"])
                read_at = row["read_at"]
                if read_at is None:
                    # Recorded by a concurrent call after this statement's snapshot: a new
                    # statement sees it.
                    key = {"room_id": row["room_id"], "message_id": message, "user_id": reader}
                    found = await queries.get_receipt(conn, **key)
                    require_member_flag(found is not None)  # gone again: the member was removed
                    read_at = found["read_at"]
            receipt = Receipt(
                room_id=row["room_id"], message_id=message, user_id=reader, read_at=read_at
            )
            return receipt, int(row["seq"])

        # Marking read twice is marking read once (the marker only moves forward, the
        # receipt keeps its first time), so a lost answer is settled by asking again.
        return await run_idempotent(
            self._db, attempt, "mark read", current_connection() is not None
        )

    async def receipts(self, message_id: UUID | str, *, user_id: UUID | str) -> list[Receipt]:
        """Who read a message and when, earliest first."""
        message = validation.uuid_value("message_id", message_id)
        reader = validation.uuid_value("user_id", user_id)
        rows = await message_rows_for_member(
            self._db, self._queries.receipts.message_receipts_cursor, message, reader
        )
        return [_receipt(row) for row in rows if row["user_id"] is not None]

    async def unread_counts(self, user_id: UUID | str) -> list[UnreadCount]:
        """Exact unread counts of every room the user belongs to, most recently active first,
        with each room's last seq, the user's read marker and the unread mentions."""
        return [
            UnreadCount(
                room_id=row["room_id"],
                count=row["unread_count"],
                last_seq=row["last_seq"],
                last_read_seq=row["last_read_seq"],
                unread_mention_count=row["unread_mention_count"],
            )
            for row in await self._unread_rows(user_id)
        ]

    async def unread_count_map(self, user_id: UUID | str) -> dict[UUID, int]:
        """Room id -> unread count, as store.unread_counts returns it (no objects between)."""
        return {row["room_id"]: row["unread_count"] for row in await self._unread_rows(user_id)}

    async def _unread_rows(self, user_id: UUID | str) -> Sequence[Row]:
        reader = validation.uuid_value("user_id", user_id)
        async with self._db.connection() as conn:
            return await all_rows(self._queries.members.unread_counts_cursor, conn, user_id=reader)
