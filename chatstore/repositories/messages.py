"""MessageRepository: sending, reading, editing and deleting messages; read receipts and
unread counts through ReceiptMethods (chatstore.repositories.receipts).

Every method validates its input before touching the database, so bad input writes nothing,
and checks that the acting user is a member of the message's room. The queries live in
`sql/messages.sql` and `sql/receipts.sql`; unread counts come from `sql/members.sql`.

Per-room seqs are handed out from the room row inside the insert transaction (the row lock
queues senders to one room), so they are gap-free in commit order and a reconnecting client
can ask for "everything after seq N" without ever missing a committed message. Sends, edits
and deletes append their change-log entry (message.created / edited / deleted) in the same
statement, under the same room lock; read receipts stay out of the log (see
docs/architecture.md, "The room change log").
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import AbstractAsyncContextManager
from typing import Any, Final
from uuid import UUID

from chatstore import validation
from chatstore.errors import NotFound
from chatstore.models import (
    CreateMessage,
    Message,
    MessagePage,
)
from chatstore.repositories import sending
from chatstore.repositories.changelog import appended_all
from chatstore.repositories.editing import EditingMethods
from chatstore.repositories.message_rows import message_from_row, messages_from_tuples
from chatstore.repositories.receipts import ReceiptMethods, require_member_flag
from chatstore.rows import all_tuples, position

Row = Mapping[str, Any]
# An aiosql query in its `<name>_cursor` form.
RowQuery = Callable[..., AbstractAsyncContextManager[Any]]

CATCH_UP_MAX: Final = 1000
# Larger than any seq: page_before without a cursor starts at the newest message.
NEWEST: Final = 2**63 - 1


class MessageRepository(ReceiptMethods, EditingMethods):
    """Messages in rooms. Only members of a room read, send to, or mark read in it; edits
    and deletes through EditingMethods (chatstore.repositories.editing)."""

    # -- sending -----------------------------------------------------------------------------

    async def create(self, message: CreateMessage) -> Message:
        """Send a message; a retry with the same client_id returns the first message.

        One round trip (chatstore.repositories.sending). Raises NotFound (room),
        PermissionDenied (sender not a member), Conflict (client_id already used for
        different content), ValidationError (bad input, nothing written), and
        OutcomeUnknown when PostgreSQL stopped answering mid-send and could not be asked.
        """
        row = await sending.send(self._db, sending.validated(message))
        await self._db.log_appended(appended_all([row]))
        return message_from_row(row)

    # -- reading -----------------------------------------------------------------------------

    async def get(self, message_id: UUID | str, *, user_id: UUID | str) -> Message:
        """One message; a deleted one comes back without content or attachment."""
        message = validation.uuid_value("message_id", message_id)
        reader = validation.uuid_value("user_id", user_id)
        async with self._db.connection() as conn:
            row = await self._queries.messages.get_message(conn, message_id=message, user_id=reader)
        if row is None:
            raise NotFound("message", message)
        require_member_flag(row["is_member"])
        return message_from_row(row)

    async def find_by_room(
        self,
        room_id: UUID | str,
        limit: int = 50,
        offset: int = 0,
        *,
        user_id: UUID | str | None = None,
    ) -> MessagePage:
        """The seed's offset pagination: skip the `offset` newest, then up to `limit` older.

        Messages come back in ascending seq order. With `user_id`, only a member may read
        (PermissionDenied otherwise); without it the read is the server's own, as in the
        seed's `find_by_room(room_id, limit, offset)`. Seqs are gap-free, so the page is the
        seq range below last_seq - offset (see page_by_offset): its cost does not grow with
        the offset. A cursor (page_before / page_after) still stays put while new messages
        arrive, which an offset does not.
        """
        room = validation.uuid_value("room_id", room_id)
        reader = None if user_id is None else validation.uuid_value("user_id", user_id)
        size = validation.page_limit(limit)
        skip = validation.offset(offset)
        last_seq, newest_first = await self._room_rows(
            self._queries.messages.page_by_offset_cursor,
            room_id=room,
            user_id=reader,
            limit=size + 1,
            offset=skip,
        )
        return _page_going_back(newest_first, size, last_seq, top=last_seq - skip)

    async def page_before(
        self,
        room_id: UUID | str,
        *,
        user_id: UUID | str,
        before_seq: int | None = None,
        limit: int = 50,
        thread_replies: bool = True,
    ) -> MessagePage:
        """Up to `limit` messages with seq < before_seq (the newest when None), ascending.

        Each carries its reactions and, on a thread's root, the thread's summary, from the
        same query. With thread_replies=False, replies that stay in their thread are left
        out (Slack's style); those sent to the room as well still show."""
        room = validation.uuid_value("room_id", room_id)
        reader = validation.uuid_value("user_id", user_id)
        before = NEWEST if before_seq is None else validation.seq("before_seq", before_seq)
        size = validation.page_limit(limit)
        last_seq, newest_first = await self._room_rows(
            self._queries.messages.page_before_cursor,
            room_id=room,
            user_id=reader,
            before_seq=before,
            limit=size + 1,
            thread_replies=validation.flag("thread_replies", thread_replies),
        )
        return _page_going_back(newest_first, size, last_seq, top=min(before - 1, last_seq))

    async def page_after(
        self,
        room_id: UUID | str,
        *,
        user_id: UUID | str,
        after_seq: int,
        limit: int = 50,
        thread_replies: bool = True,
    ) -> MessagePage:
        """Up to `limit` messages with seq > after_seq, ascending (thread_replies: as in
        page_before)."""
        room = validation.uuid_value("room_id", room_id)
        reader = validation.uuid_value("user_id", user_id)
        after = validation.seq("after_seq", after_seq)
        size = validation.page_limit(limit)
        last_seq, oldest_first = await self._room_rows(
            self._queries.messages.page_after_cursor,
            room_id=room,
            user_id=reader,
            after_seq=after,
            limit=size + 1,
            thread_replies=validation.flag("thread_replies", thread_replies),
        )
        messages = oldest_first[:size]
        bottom = min(after, last_seq)
        return MessagePage(
            messages=tuple(messages),
            older_cursor=bottom + 1 if bottom > 0 else None,
            newer_cursor=messages[-1].seq if len(oldest_first) > size else None,
        )

    async def catch_up(
        self,
        room_id: UUID | str,
        *,
        user_id: UUID | str,
        after_seq: int,
        limit: int = 500,
    ) -> list[Message]:
        """Everything after seq N in ascending order, at most `limit` (1..1000) at a time.

        Seqs are gap-free in commit order, so the result always starts at N + 1 and is
        contiguous; call again with the last seq until it comes back shorter than `limit`.
        """
        room = validation.uuid_value("room_id", room_id)
        reader = validation.uuid_value("user_id", user_id)
        after = validation.seq("after_seq", after_seq)
        size = validation.integer("limit", limit, low=1, high=CATCH_UP_MAX)
        _, messages = await self._room_rows(
            self._queries.messages.page_after_cursor,
            room_id=room,
            user_id=reader,
            after_seq=after,
            limit=size,
            thread_replies=True,
        )
        return messages

    async def _room_rows(self, query: RowQuery, **params: Any) -> tuple[int, list[Message]]:
        """Run one of the room page queries: the room's last seq and the messages.

        Those queries return no row for a missing room, and a message-less row carrying
        is_member for a non-member or an empty range (see sql/messages.sql).
        """
        async with self._db.connection() as conn:
            names, rows = await all_tuples(query, conn, **params)
        if not rows:
            raise NotFound("room", params["room_id"])
        first = rows[0]
        require_member_flag(first[position(names, "is_member")])
        build, id_at = messages_from_tuples.for_columns(names), position(names, "id")
        messages = [build(row) for row in rows if row[id_at] is not None]
        return int(first[position(names, "room_last_seq")]), messages


def _page_going_back(
    newest_first: list[Message], size: int, last_seq: int, *, top: int
) -> MessagePage:
    """A page read newest first with one extra row (which says whether older ones exist).

    `top` is the highest seq the page's range could hold; newer messages exist above it
    when it is below the room's last seq.
    """
    messages = newest_first[:size]
    messages.reverse()
    top = max(top, 0)
    return MessagePage(
        messages=tuple(messages),
        older_cursor=messages[0].seq if len(newest_first) > size else None,
        newer_cursor=top if top < last_seq else None,
    )
