"""chatstore and its raw psycopg peer: the same operations, one call each.

`RawPeer` runs the very SQL text chatstore runs (taken from the loaded aiosql queries,
`%(name)s` parameters), with the same parameters and the same round trips (a send is the
same two statements in one transaction), on an AsyncConnectionPool with chatstore's
connection settings (autocommit, prepare threshold, statement timeout, pool sizes) but no
health check, rows as plain dicts and nothing mapped to objects. What chatstore adds on top
of it (validation, the idle check, Row and dataclass mapping, error translation, the Redis
half of writes) is what the ratio measures.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from uuid import UUID, uuid4

import bcrypt
import psycopg
from psycopg.rows import DictRow, dict_row
from psycopg_pool import AsyncConnectionPool

from chatstore import ChatStore, CreateMessage, Settings
from chatstore.db import connection_kwargs
from chatstore.queries import Queries

PAGE = 50  # messages per history page
CATCH_UP = 500  # the most a catch-up call returns


class NotAMember(Exception):
    """A peer's own refusal, where chatstore would raise PermissionDenied."""


class ChatstorePeer:
    name = "chatstore"

    def __init__(self, store: ChatStore) -> None:
        self.store = store

    async def get_user(self, user_id: UUID) -> object:
        return await self.store.users.get(user_id)

    async def authenticate(self, login: str, password: str) -> object:
        return await self.store.users.authenticate(login, password)

    async def page_before(self, room_id: UUID, user_id: UUID, before_seq: int) -> object:
        return await self.store.messages.page_before(
            room_id, user_id=user_id, before_seq=before_seq, limit=PAGE
        )

    async def page_offset(self, room_id: UUID, user_id: UUID, offset: int) -> object:
        return await self.store.messages.find_by_room(
            room_id, limit=PAGE, offset=offset, user_id=user_id
        )

    async def catch_up(self, room_id: UUID, user_id: UUID, after_seq: int) -> object:
        return await self.store.messages.catch_up(
            room_id, user_id=user_id, after_seq=after_seq, limit=CATCH_UP
        )

    async def unread_counts(self, user_id: UUID) -> object:
        return await self.store.unread_counts(user_id)

    async def room_list(self, user_id: UUID) -> object:
        return await self.store.rooms.rooms_of_user(user_id)

    async def connect(self, user_id: UUID, device_id: str) -> object:
        async with self.store.connect(user_id, device_id) as stream:
            return stream.snapshot_rooms

    async def send(self, room_id: UUID, sender_id: UUID, content: str) -> object:
        message = CreateMessage(room_id=room_id, sender_id=sender_id, content=content)
        return await self.store.send_message(message)

    async def mark_read(self, message_id: UUID, user_id: UUID) -> object:
        return await self.store.messages.mark_as_read(message_id, user_id)


Pool = AsyncConnectionPool[psycopg.AsyncConnection[DictRow]]


class RawPeer:
    name = "raw"

    def __init__(self, pool: Pool, queries: Queries) -> None:
        self.pool = pool
        self.q: Any = queries

    @classmethod
    @asynccontextmanager
    async def open(cls, settings: Settings, queries: Queries) -> AsyncIterator[RawPeer]:
        kwargs = {**connection_kwargs(settings), "row_factory": dict_row}
        pool: Pool = AsyncConnectionPool(
            settings.database_url,
            min_size=settings.pg_pool_min,
            max_size=settings.pg_pool_max,
            timeout=settings.pg_pool_timeout,
            max_idle=settings.pg_pool_max_idle,
            max_lifetime=settings.pg_pool_max_lifetime,
            kwargs=kwargs,
            connection_class=psycopg.AsyncConnection[DictRow],
            open=False,
            name="bench-raw",
        )
        await pool.open(wait=True, timeout=settings.pg_pool_timeout)
        try:
            yield cls(pool, queries)
        finally:
            await pool.close()

    async def _all(self, query: Any, **params: Any) -> list[DictRow]:
        async with self.pool.connection() as conn:
            cursor = await conn.execute(query.sql, params)
            return await cursor.fetchall()

    async def _one(self, query: Any, **params: Any) -> DictRow | None:
        async with self.pool.connection() as conn:
            cursor = await conn.execute(query.sql, params)
            return await cursor.fetchone()

    async def get_user(self, user_id: UUID) -> object:
        return await self._one(self.q.users.get_user, user_id=user_id)

    async def authenticate(self, login: str, password: str) -> object:
        row = await self._one(self.q.users.get_login, login=login)
        if row is None:
            raise NotAMember("unknown login")
        hashed = row["password_hash"].encode()
        if not await asyncio.to_thread(bcrypt.checkpw, password.encode(), hashed):
            raise NotAMember("wrong password")
        return row

    async def page_before(self, room_id: UUID, user_id: UUID, before_seq: int) -> object:
        # limit + 1, as chatstore asks: the extra row tells whether an older page exists.
        query = self.q.messages.page_before
        return await self._all(
            query,
            room_id=room_id,
            user_id=user_id,
            before_seq=before_seq,
            limit=PAGE + 1,
            thread_replies=True,  # chatstore's default: thread replies shown in the room
        )

    async def page_offset(self, room_id: UUID, user_id: UUID, offset: int) -> object:
        query = self.q.messages.page_by_offset
        return await self._all(
            query, room_id=room_id, user_id=user_id, limit=PAGE + 1, offset=offset
        )

    async def catch_up(self, room_id: UUID, user_id: UUID, after_seq: int) -> object:
        query = self.q.messages.page_after
        return await self._all(
            query,
            room_id=room_id,
            user_id=user_id,
            after_seq=after_seq,
            limit=CATCH_UP,
            thread_replies=True,
        )

    async def unread_counts(self, user_id: UUID) -> object:
        return await self._all(self.q.members.unread_counts, user_id=user_id)

    async def room_list(self, user_id: UUID) -> object:
        return await self._all(self.q.rooms.rooms_of_user, user_id=user_id)

    async def send(self, room_id: UUID, sender_id: UUID, content: str) -> object:
        params = {
            "message_id": uuid4(),
            "room_id": room_id,
            "sender_id": sender_id,
            "kind": "text",
            "content": content,
            "attachment": None,
            "client_id": None,
            "reply_to_id": None,
        }
        async with self.pool.connection() as conn:
            # The statement chatstore picks for a message without thread or mentions.
            cursor = await conn.execute(self.q.sending_plain.send_plain_message.sql, params)
            row = await cursor.fetchone()
        if row is None or not row["is_member"]:
            raise NotAMember("not a member of this room")
        return row

    async def mark_read(self, message_id: UUID, user_id: UUID) -> object:
        receipts = self.q.receipts
        async with self.pool.connection() as conn:
            cursor = await conn.execute(
                receipts.mark_read.sql, {"message_id": message_id, "user_id": user_id}
            )
            row = await cursor.fetchone()
            if row is None or not row["is_member"]:
                raise NotAMember("not a member of this room")
            if row["read_at"] is None:
                key = {"room_id": row["room_id"], "message_id": message_id, "user_id": user_id}
                cursor = await conn.execute(receipts.get_receipt.sql, key)
                row = await cursor.fetchone()
            return row
