"""ThreadRepository: a thread's pages, following, a follower's read marker in a thread, and
a user's followed threads (queries in sql/threads.sql).

Replies are sent like any message (CreateMessage.thread_root_id) in one statement that
also keeps the thread's summary and follows (sql/sending.sql). A follower's unread replies
are the thread's last_thread_seq less their marker less the deleted replies after it, so a
reply writes nothing per follower. Following and unfollowing append thread.followed /
thread.unfollowed to the room's log under the room lock, like every logged change; moving
a thread marker is not logged (as room markers are not): ChatStore publishes it on the
user's own channel (chatstore.live_threads).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final
from uuid import UUID

from chatstore import validation
from chatstore.commit_outcome import run_idempotent_counted
from chatstore.db import current_connection
from chatstore.errors import NotFound, PermissionDenied, ValidationError
from chatstore.mapping import message_preview
from chatstore.repositories.base import Repository
from chatstore.repositories.changelog import appended_all
from chatstore.repositories.editing import locked_message
from chatstore.repositories.message_rows import messages_from_tuples
from chatstore.rows import all_rows, all_tuples, position
from chatstore.thread_models import (
    FollowChange,
    FollowedThread,
    FollowedThreadCursor,
    FollowedThreadPage,
    ThreadPage,
    ThreadReadState,
    ThreadSummary,
)

Row = Mapping[str, Any]

# Past any thread_seq (validation.seq's bound): "the newest replies" / "up to the last".
LAST: Final = 2**62
# A cursor above every followed thread: the first page starts at the newest activity.
NEWEST_ACTIVITY: Final = datetime.max.replace(tzinfo=UTC)
AFTER_EVERY_ID: Final = UUID(int=2**128 - 1)
NOT_A_ROOT = "must be a message that is not a thread reply"


class ThreadRepository(Repository):
    """Threads: their pages, who follows them, and how far each follower has read."""

    async def page(
        self,
        root_id: UUID | str,
        *,
        user_id: UUID | str,
        before_thread_seq: int | None = None,
        limit: int = 50,
    ) -> ThreadPage:
        """The root and up to `limit` replies with thread_seq < before_thread_seq (the
        newest when None), ascending, each with its reactions and reply preview. One query.
        Raises NotFound (no such message), PermissionDenied (not a member of its room),
        ValidationError (root_id names a thread reply)."""
        before = LAST if before_thread_seq is None else _thread_seq("before", before_thread_seq)
        return await self._page(root_id, user_id, before, None, limit)

    async def replies_after(
        self,
        root_id: UUID | str,
        *,
        user_id: UUID | str,
        after_thread_seq: int,
        limit: int = 50,
    ) -> ThreadPage:
        """The root and up to `limit` replies with thread_seq > after_thread_seq, ascending
        (catching up on a thread); otherwise as `page`."""
        after = _thread_seq("after", after_thread_seq)
        return await self._page(root_id, user_id, LAST, after, limit)

    async def _page(
        self, root_id: UUID | str, user_id: UUID | str, before: int, after: int | None, limit: int
    ) -> ThreadPage:
        root = validation.uuid_value("root_id", root_id)
        reader = validation.uuid_value("user_id", user_id)
        size = validation.page_limit(limit)
        async with self._db.connection() as conn:
            names, rows = await all_tuples(
                self._queries.threads.thread_page_cursor,
                conn,
                root_id=root,
                user_id=reader,
                before_thread_seq=before,
                after_thread_seq=after,
                limit=size,
            )
        if not rows:
            raise NotFound("message", root)
        build = messages_from_tuples.for_columns(names)
        first = rows[0]
        if not first[position(names, "is_member")]:
            raise PermissionDenied("only members of a room can do this")
        root_message = build(first)
        if root_message.thread_root_id is not None:
            raise ValidationError("root_id", NOT_A_ROOT)
        replies = [build(row) for row in rows[1:]]
        last = int(first[position(names, "last_thread_seq")])
        # The range read (sql/threads.sql): (low, high), exclusive, at most `size` long.
        if after is None:
            high = min(before, last + 1)
            low = max(high - size - 1, 0)
        else:
            low, high = after, min(after + size + 1, last + 1)
        return ThreadPage(
            root=root_message,
            replies=tuple(replies),
            older_cursor=low + 1 if low > 0 else None,
            newer_cursor=high - 1 if high - 1 < last else None,
        )

    async def follow(self, root_id: UUID | str, *, user_id: UUID | str) -> FollowChange:
        """Follow a thread (any message that is not a reply: its thread may not have
        started yet), read up to its latest reply. Idempotent: following a thread the user
        follows changes nothing (changed=False). Raises NotFound, PermissionDenied (not a
        member), ValidationError (root_id names a thread reply)."""
        return await self._change_follow("follow_thread", root_id, user_id, following=True)

    async def unfollow(self, root_id: UUID | str, *, user_id: UUID | str) -> FollowChange:
        """Stop following a thread; its read marker goes too. Idempotent (changed=False
        when the user did not follow it). Replying in the thread or being mentioned in it
        makes the user follow it again."""
        return await self._change_follow("unfollow_thread", root_id, user_id, following=False)

    async def _change_follow(
        self, query: str, root_id: UUID | str, user_id: UUID | str, *, following: bool
    ) -> FollowChange:
        root = validation.uuid_value("root_id", root_id)
        user = validation.uuid_value("user_id", user_id)
        queries = self._queries
        async with self._db.transaction() as conn:
            # Takes the room lock first, as every change that appends to the log does.
            locked = locked_message(
                await queries.messages.lock_message(conn, message_id=root, user_id=user), root
            )
            if locked.thread_root_id is not None:
                raise ValidationError("root_id", NOT_A_ROOT)
            row = await getattr(queries.threads, query)(conn, root_id=root, user_id=user)
            await self._db.log_appended(appended_all([row]))
        return FollowChange(
            root_id=root,
            room_id=locked.room_id,
            user_id=user,
            following=following,
            changed=bool(row["changed"]),
        )

    async def mark_read(
        self, root_id: UUID | str, *, user_id: UUID | str, thread_seq: int | None = None
    ) -> ThreadReadState:
        """Move the follower's read marker in a thread forward to `thread_seq` (None: its
        latest reply; past it counts as it; never backward), one statement, and return the
        exact unread replies and mentions after it. A member who does not follow the
        thread has no marker: nothing is written (following=False)."""
        state, _ = await self._move(root_id, user_id, thread_seq)
        return state

    async def _move(
        self, root_id: UUID | str, user_id: UUID | str, thread_seq: int | None
    ) -> tuple[ThreadReadState, bool]:
        """mark_read, also saying whether the user's devices should hear of it: the marker
        moved, or a lost answer made the call run twice and the first run may have."""
        root = validation.uuid_value("root_id", root_id)
        user = validation.uuid_value("user_id", user_id)
        target = LAST if thread_seq is None else _thread_seq("", thread_seq)

        async def attempt() -> Row | None:
            async with self._db.connection() as conn:
                row: Row | None = await self._queries.threads.mark_thread_read(
                    conn, root_id=root, user_id=user, thread_seq=target
                )
            return row

        row, retried = await run_idempotent_counted(
            self._db, attempt, "mark thread read", current_connection() is not None
        )
        if row is None:
            raise NotFound("message", root)
        if not row["is_member"]:
            raise PermissionDenied("only members of a room can do this")
        state = ThreadReadState(
            root_id=root,
            room_id=row["room_id"],
            user_id=user,
            following=bool(row["following"]),
            last_read_thread_seq=int(row["last_read_thread_seq"]),
            unread_replies=int(row["unread_replies"]),
            unread_mentions=int(row["unread_mentions"]),
        )
        return state, bool(row["moved"]) or (retried and state.following)

    async def followed(
        self,
        user_id: UUID | str,
        *,
        before: FollowedThreadCursor | None = None,
        limit: int = 50,
    ) -> FollowedThreadPage:
        """The threads the user follows, newest activity first (a reply, or the follow of
        a thread nobody replied to yet), each with its root's preview, its summary and the
        exact unread replies and mentions after the user's marker; keyset-paged."""
        user = validation.uuid_value("user_id", user_id)
        size = validation.page_limit(limit)
        cursor = (
            FollowedThreadCursor(NEWEST_ACTIVITY, AFTER_EVERY_ID)
            if before is None
            else validation.keyset_cursor("before", before, FollowedThreadCursor)
        )
        async with self._db.connection() as conn:
            rows = await all_rows(
                self._queries.threads.followed_threads_cursor,
                conn,
                user_id=user,
                before_at=cursor.last_activity_at,
                before_root_id=cursor.root_id,
                limit=size + 1,
            )
        threads = [_followed(row) for row in rows[:size]]
        last = threads[-1] if len(rows) > size else None
        following = (
            None if last is None else FollowedThreadCursor(last.last_activity_at, last.root.id)
        )
        return FollowedThreadPage(threads=tuple(threads), next_cursor=following)


def _thread_seq(side: str, value: object) -> int:
    return validation.seq(f"{side}_thread_seq" if side else "thread_seq", value)


def _followed(row: Row) -> FollowedThread:
    return FollowedThread(
        root=message_preview(row["root"]),
        room_id=row["room_id"],
        summary=ThreadSummary(
            reply_count=int(row["reply_count"]),
            last_thread_seq=int(row["last_thread_seq"]),
            last_reply_at=row["last_reply_at"],
            participant_ids=tuple(row["participant_ids"]),
        ),
        last_activity_at=row["last_activity_at"],
        last_read_thread_seq=int(row["last_read_thread_seq"]),
        unread_replies=int(row["unread_replies"]),
        unread_mentions=int(row["unread_mentions"]),
    )


__all__ = ["ThreadRepository"]
