"""ReactionRepository: reactions to messages (`message_reactions`).

- A user adds or removes a reaction key (an emoji, a `:shortcode:`, `+1`; see
  chatstore.validation.reaction) on a message of a room they are a member of. Both are
  idempotent: adding a key the user already has, or removing one they do not have, writes
  nothing and says so (`ReactionChange.changed` is False). A deleted message gets no new
  reactions (Conflict); its reactions may still be removed.
- Each add or remove that changes something appends reaction.added / reaction.removed to the
  room's change log in the same statement (payload: message_id, user_id, reaction, and
  count, the number of users with that key on the message afterwards), under the room row
  lock, like every log write (docs/architecture.md, "The room change log").
- Reads are for members of the message's room only: the counts per key of one message with
  whether the reader reacted, who reacted with a key (keyset-paged, oldest first), and the
  counts of many messages at once (for a page of history).

One round trip per call; a write that waited for its room's lock while another change to
the room committed runs once more in a short transaction (see `room_write`). The queries live
in `sql/reactions.sql`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Mapping
from datetime import UTC, datetime
from typing import Any, Final
from uuid import UUID

from chatstore import validation
from chatstore.commit_outcome import run_idempotent
from chatstore.conversation_models import (
    ReactionChange,
    ReactionCount,
    Reactor,
    ReactorCursor,
    ReactorPage,
)
from chatstore.db import Database, current_connection
from chatstore.errors import Conflict, NotFound, PermissionDenied, ValidationError
from chatstore.repositories.base import Repository
from chatstore.repositories.changelog import appended_all
from chatstore.rows import all_rows

Row = Mapping[str, Any]
# A loaded aiosql query whose name ends in `^`: one row or None.
OneRow = Callable[..., Awaitable[Row | None]]

# A page of history holds at most this many messages (catch_up's bound).
MESSAGE_IDS_MAX: Final = 1000
# Before every reaction: where the first page of reactors starts.
_OLDEST: Final = ReactorCursor(reacted_at=datetime.min.replace(tzinfo=UTC), user_id=UUID(int=0))

NOT_A_MEMBER = "only members of a room can do this"


async def room_write(db: Database, query: OneRow, what: str, **params: Any) -> Row | None:
    """Run a statement that changes something about a message under its room's lock and
    appends to the room's log (sql/reactions.sql, sql/pins.sql), and hand the entry it
    appended to the publisher; its row, or None when the message does not exist.

    The statement takes the room lock itself, in one round trip. Its snapshot predates its
    wait for that lock, though, so when another change to the room committed meanwhile it
    writes nothing and returns is_stale: then it runs once more in a transaction that first
    takes the room lock (messages.lock_message), where its snapshot is current, so counts
    and "already there" are exact.

    Adding, removing, pinning and unpinning are safe to apply twice, so a lost answer is
    settled by running the statement again (outside a caller's transaction): the state is
    then right, though a first run that did apply makes the second report changed=False,
    and its entry reaches listeners from the log (the feeds' poll) rather than this process.
    """
    lock = db.queries.messages.lock_message
    message, user = params["message_id"], params["user_id"]

    async def attempt() -> Row | None:
        async with db.connection() as conn:
            row = await query(conn, **params)
        if row is None or not row["is_stale"]:
            await db.log_appended(appended_all([row]))
            return row
        async with db.transaction() as conn:
            await lock(conn, message_id=message, user_id=user)
            row = await query(conn, **params)
            if row is not None and row["is_stale"]:
                # Only a caller's REPEATABLE READ or SERIALIZABLE transaction keeps a
                # snapshot older than the lock just taken.
                raise Conflict("message_id", "the room changed meanwhile; try again")
            await db.log_appended(appended_all([row]))
        return row

    return await run_idempotent(db, attempt, what, current_connection() is not None)


def require_member(row: Row) -> None:
    if not row["is_member"]:
        raise PermissionDenied(NOT_A_MEMBER)


class ReactionRepository(Repository):
    """Reactions to messages, by and for members of the message's room."""

    async def add(
        self, message_id: UUID | str, reaction: str, *, user_id: UUID | str
    ) -> ReactionChange:
        """Add the user's reaction `reaction` to a message; a no-op (changed False) when
        they already have it. Raises ValidationError (nothing written), NotFound (message),
        PermissionDenied (not a member), Conflict (the message is deleted)."""
        return await self._write("add_reaction", message_id, reaction, user_id, adding=True)

    async def remove(
        self, message_id: UUID | str, reaction: str, *, user_id: UUID | str
    ) -> ReactionChange:
        """Remove the user's reaction `reaction` from a message (deleted or not); a no-op
        (changed False) when they do not have it. Raises ValidationError, NotFound
        (message), PermissionDenied (not a member)."""
        return await self._write("remove_reaction", message_id, reaction, user_id, adding=False)

    async def _write(
        self,
        query: str,
        message_id: UUID | str,
        reaction: str,
        user_id: UUID | str,
        *,
        adding: bool,
    ) -> ReactionChange:
        message = validation.uuid_value("message_id", message_id)
        key = validation.reaction(reaction)
        user = validation.uuid_value("user_id", user_id)
        row = await room_write(
            self._db,
            getattr(self._queries.reactions, query),
            query.replace("_", " "),
            message_id=message,
            user_id=user,
            reaction=key,
        )
        if row is None:
            raise NotFound("message", message)
        require_member(row)
        if adding and row["is_deleted"]:
            raise Conflict("message", "a deleted message cannot get new reactions")
        return ReactionChange(
            room_id=row["room_id"],
            message_id=message,
            user_id=user,
            reaction=key,
            changed=bool(row["changed"]),
            count=int(row["reaction_count"]),
        )

    async def reactions(
        self, message_id: UUID | str, *, user_id: UUID | str
    ) -> list[ReactionCount]:
        """The reactions to a message, one per key in the order the keys were first used:
        how many users reacted with it and whether `user_id` (the reader) did."""
        message = validation.uuid_value("message_id", message_id)
        reader = validation.uuid_value("user_id", user_id)
        async with self._db.connection() as conn:
            rows = await all_rows(
                self._queries.reactions.message_reactions_cursor,
                conn,
                message_id=message,
                user_id=reader,
            )
        if not rows:
            raise NotFound("message", message)
        require_member(rows[0])
        return [_count(row) for row in rows if row["reaction"] is not None]

    async def reaction_counts(
        self, message_ids: Collection[UUID | str], *, user_id: UUID | str
    ) -> dict[UUID, list[ReactionCount]]:
        """`reactions` for many messages in one query (a page of history): message id ->
        its reaction counts, keys in the order they were first used. Every id asked for is
        a key; the list is empty when the message has no reactions, does not exist or is in
        a room the reader is not a member of (nothing is raised for those)."""
        messages = validation.uuid_list("message_ids", message_ids)
        if len(messages) > MESSAGE_IDS_MAX:
            raise ValidationError("message_ids", f"must hold at most {MESSAGE_IDS_MAX} ids")
        reader = validation.uuid_value("user_id", user_id)
        found: dict[UUID, list[ReactionCount]] = {message: [] for message in messages}
        if not messages:
            return found
        async with self._db.connection() as conn:
            rows = await all_rows(
                self._queries.reactions.reaction_counts_cursor,
                conn,
                message_ids=messages,
                user_id=reader,
            )
        for row in rows:
            found[row["message_id"]].append(_count(row))
        return found

    async def reactors(
        self,
        message_id: UUID | str,
        reaction: str,
        *,
        user_id: UUID | str,
        after: ReactorCursor | None = None,
        limit: int = 50,
    ) -> ReactorPage:
        """Who reacted to a message with `reaction`, oldest first, up to `limit` (1..200)
        after the cursor `after` (the previous page's next_cursor; None for the first)."""
        message = validation.uuid_value("message_id", message_id)
        key = validation.reaction(reaction)
        reader = validation.uuid_value("user_id", user_id)
        cursor = _OLDEST if after is None else _cursor(after)
        size = validation.page_limit(limit)
        async with self._db.connection() as conn:
            rows = await all_rows(
                self._queries.reactions.reactors_cursor,
                conn,
                message_id=message,
                reaction=key,
                user_id=reader,
                after_at=cursor.reacted_at,
                after_user_id=cursor.user_id,
                limit=size + 1,
            )
        if not rows:
            raise NotFound("message", message)
        require_member(rows[0])
        reactors = [
            Reactor(
                user_id=row["reactor_id"], username=row["username"], reacted_at=row["reacted_at"]
            )
            for row in rows
            if row["reactor_id"] is not None
        ]
        more = len(reactors) > size
        del reactors[size:]
        last = reactors[-1] if more else None
        return ReactorPage(
            reactors=tuple(reactors),
            next_cursor=None if last is None else ReactorCursor(last.reacted_at, last.user_id),
        )


def _cursor(value: object) -> ReactorCursor:
    return validation.keyset_cursor("after", value, ReactorCursor)


def _count(row: Row) -> ReactionCount:
    return ReactionCount(
        message_id=row["message_id"],
        reaction=row["reaction"],
        count=int(row["reaction_count"]),
        reacted_by_me=bool(row["reacted_by_me"]),
    )


__all__ = ["ReactionRepository", "require_member", "room_write"]
