"""Ending sessions, for chatstore.realtime.sessions' SessionStore: the PostgreSQL row first,
then the Redis copy, and the Redis copies still to delete after Redis did not answer.

With a database a revocation holds at once for the fallback, whatever Redis does: the row is
gone. When Redis cannot be told, `Revocations` keeps the session id (or the user, for
revoke_all and for rows a committed transaction deleted: mark_revoked); the store then
refuses those Redis copies (`refuses`) and deletes them before it next reads or writes Redis
(`flush_if_pending`). Apart from the store because this pending state and the order of the
two deletions are a concern of their own; the store asks two questions of it per use.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

import redis.asyncio

from chatstore.errors import Unavailable
from chatstore.realtime.session_store import SessionRows, forget_copy, forget_user_copies


class Revocations:
    """Revoke sessions in both copies; remember what Redis has not been told yet."""

    def __init__(self, redis_client: redis.asyncio.Redis) -> None:
        self._redis = redis_client
        # Revoked in PostgreSQL, Redis copies not yet deleted (Redis did not answer).
        self._users: set[uuid.UUID] = set()
        self._ids: set[str] = set()

    def refuses(self, session_id: str, user_id: uuid.UUID) -> bool:
        """Whether a Redis copy is one revoked while Redis did not answer."""
        return user_id in self._users or session_id in self._ids

    def mark_user(self, user_id: uuid.UUID) -> None:
        self._users.add(user_id)

    async def session(self, session_id: str, rows: SessionRows | None) -> bool:
        """End one session; False if it did not exist."""
        durable, deleted = await self._revoke(
            rows,
            lambda found: found.delete(session_id),
            lambda: forget_copy(self._redis, session_id),
            lambda: self._ids.add(session_id),
        )
        return durable > 0 if deleted is None else bool(deleted) or durable > 0

    async def user(self, uid: uuid.UUID, rows: SessionRows | None) -> int:
        """End every session of a user; how many (Redis's count, or PostgreSQL's while
        Redis is down)."""
        durable, ended = await self._revoke(
            rows,
            lambda found: found.delete_user(uid),
            lambda: forget_user_copies(self._redis, uid),
            lambda: self._users.add(uid),
        )
        return durable if ended is None else ended

    async def _revoke(
        self,
        rows: SessionRows | None,
        delete_rows: Callable[[SessionRows], Awaitable[int]],
        forget_copies: Callable[[], Awaitable[int]],
        remember: Callable[[], None],
    ) -> tuple[int, int | None]:
        """(rows deleted, Redis copies deleted or None when their deletion is pending)."""
        durable, failure = await _durably(rows, delete_rows)
        try:
            copies = await forget_copies()
        except Unavailable:
            if rows is None or failure is not None:
                raise
            remember()
            return durable, None
        if failure is not None:
            raise failure
        return durable, copies

    async def flush(self) -> None:
        """Delete the pending Redis copies (SessionStore.flush_revoked)."""
        for uid in list(self._users):
            await forget_user_copies(self._redis, uid)
            self._users.discard(uid)
        for session_id in list(self._ids):
            await forget_copy(self._redis, session_id)
            self._ids.discard(session_id)

    async def flush_if_pending(self) -> None:
        if self._users or self._ids:
            await self.flush()


async def _durably(
    rows: SessionRows | None, delete: Callable[[SessionRows], Awaitable[int]]
) -> tuple[int, Unavailable | None]:
    """Run the PostgreSQL half of a revocation: (rows deleted, or the outage to raise
    once the Redis half has been tried)."""
    if rows is None:
        return 0, None
    try:
        return await delete(rows), None
    except Unavailable as exc:
        return 0, exc
