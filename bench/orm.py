"""The SQLAlchemy 2.0 peer: the same operations written as an ORM application would.

Models are mapped onto chatstore's existing tables (no DDL); the engine uses the psycopg
async driver (`postgresql+psycopg://`) with chatstore's connection settings (prepare
threshold, statement timeout, pool size, no pre-ping). Each operation opens an AsyncSession
the usual way, so a read is BEGIN, the query, ROLLBACK: that is what the ORM costs by default,
and it is part of what this peer measures. Queries are built with the ORM API; each keeps
the guarantees of chatstore's (membership checked, deleted content masked, seq and log
entry taken under the room lock) and returns what chatstore's returns (a page's reply
previews, thread summaries and reactions; a room list's last message, direct partner and
unread mention counts), so the comparison is of equal work. Where chatstore's schema lets
a query skip work (a message's has_reactions flag), the ORM uses it too.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import bcrypt
from sqlalchemy import Row, and_, case, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from bench.orm_models import Message, Receipt, Room, RoomEvent, RoomUser, Thread, User
from bench.orm_queries import (
    LastMessage,
    Partner,
    Quoted,
    deleted_after_marker,
    masked,
    page_reactions,
    preview,
    unread_mentions,
)
from bench.peers import CATCH_UP, PAGE, NotAMember
from chatstore import Settings


class SqlAlchemyPeer:
    name = "sqlalchemy"

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions

    @classmethod
    @asynccontextmanager
    async def open(cls, settings: Settings) -> AsyncIterator[SqlAlchemyPeer]:
        url = settings.database_url.replace("postgresql://", "postgresql+psycopg://", 1)
        options = f"-c statement_timeout={settings.pg_statement_timeout_ms}"
        engine = create_async_engine(
            url,
            pool_size=settings.pg_pool_max,
            max_overflow=0,
            pool_timeout=settings.pg_pool_timeout,
            pool_recycle=int(settings.pg_pool_max_lifetime),
            connect_args={"prepare_threshold": settings.pg_prepare_threshold, "options": options},
        )
        try:
            yield cls(async_sessionmaker(engine, expire_on_commit=False))
        finally:
            await engine.dispose()

    async def get_user(self, user_id: uuid.UUID) -> object:
        async with self.sessions() as session:
            return await session.get(User, user_id)

    async def authenticate(self, login: str, password: str) -> object:
        async with self.sessions() as session:
            user = await session.scalar(
                select(User).where(
                    or_(
                        func.lower(User.email) == func.lower(login),
                        func.lower(User.username) == func.lower(login),
                    )
                )
            )
        if user is None:
            raise NotAMember("unknown login")
        hashed = user.password_hash.encode()
        if not await asyncio.to_thread(bcrypt.checkpw, password.encode(), hashed):
            raise NotAMember("wrong password")
        return user

    async def _page(self, room_id: uuid.UUID, user_id: uuid.UUID, query: Any) -> object:
        """Run a page query (selecting Message) joined to the reader's membership, with each
        message's quote and thread summary joined in and the reactions of those that have
        any in a second query: one round trip for a page of plain messages. An empty page
        costs one more, telling "not a member" from "empty"."""
        membership = and_(RoomUser.room_id == Message.room_id, RoomUser.user_id == user_id)
        decorated = (
            query.add_columns(Thread, Quoted)
            .join(RoomUser, membership)
            .outerjoin(
                Thread, and_(Thread.room_id == Message.room_id, Thread.root_id == Message.id)
            )
            .outerjoin(
                Quoted,
                and_(Quoted.room_id == Message.room_id, Quoted.id == Message.reply_to_id),
            )
        )
        async with self.sessions() as session:
            rows = (await session.execute(decorated)).all()
            if not rows and await session.get(RoomUser, (room_id, user_id)) is None:
                raise NotAMember("not a member of this room")
            messages = masked([row[0] for row in rows])
            reactions = await page_reactions(session, room_id, user_id, messages)
        return [
            (
                message,
                thread,
                None if message.deleted_at else preview(quoted),
                reactions.get(message.id, []),
            )
            for message, (_, thread, quoted) in zip(messages, rows, strict=True)
        ]

    async def page_before(self, room_id: uuid.UUID, user_id: uuid.UUID, before_seq: int) -> object:
        query = (
            select(Message)
            .where(Message.room_id == room_id, Message.seq < before_seq)
            .order_by(Message.seq.desc())
            .limit(PAGE + 1)
        )
        return await self._page(room_id, user_id, query)

    async def page_offset(self, room_id: uuid.UUID, user_id: uuid.UUID, offset: int) -> object:
        query = (
            select(Message)
            .where(Message.room_id == room_id)
            .order_by(Message.seq.desc())
            .limit(PAGE + 1)
            .offset(offset)
        )
        return await self._page(room_id, user_id, query)

    async def catch_up(self, room_id: uuid.UUID, user_id: uuid.UUID, after_seq: int) -> object:
        query = (
            select(Message)
            .where(Message.room_id == room_id, Message.seq > after_seq)
            .order_by(Message.seq.asc())
            .limit(CATCH_UP)
        )
        return await self._page(room_id, user_id, query)

    async def unread_counts(self, user_id: uuid.UUID) -> object:
        unread = Room.last_seq - RoomUser.last_read_seq - deleted_after_marker()
        query = (
            select(
                RoomUser.room_id,
                Room.last_seq,
                RoomUser.last_read_seq,
                unread.label("unread"),
                unread_mentions().label("unread_mentions"),
            )
            .join(Room, Room.id == RoomUser.room_id)
            .where(RoomUser.user_id == user_id)
            .order_by(Room.last_message_at.desc().nulls_last(), RoomUser.room_id)
        )
        async with self.sessions() as session:
            rows: Sequence[Row[Any]] = (await session.execute(query)).all()
        return rows

    async def room_list(self, user_id: uuid.UUID) -> object:
        unread = Room.last_seq - RoomUser.last_read_seq - deleted_after_marker()
        other = case(
            (RoomUser.user_id == Room.direct_user_low, Room.direct_user_high),
            else_=Room.direct_user_low,
        )
        query = (
            select(
                Room,
                RoomUser.role,
                RoomUser.last_read_seq,
                unread.label("unread"),
                unread_mentions().label("unread_mentions"),
                LastMessage,
                Partner.id,
                Partner.username,
                Partner.display_name,
            )
            .join(RoomUser, Room.id == RoomUser.room_id)
            .outerjoin(
                LastMessage,
                and_(LastMessage.room_id == Room.id, LastMessage.seq == Room.last_seq),
            )
            .outerjoin(Partner, and_(Room.kind == "direct", Partner.id == other))
            .where(RoomUser.user_id == user_id)
            .order_by(Room.last_message_at.desc().nulls_last(), Room.created_at.desc(), Room.id)
        )
        async with self.sessions() as session:
            rows: Sequence[Row[Any]] = (await session.execute(query)).all()
        return [(*values[:5], preview(values[5]), *values[6:]) for values in map(tuple, rows)]

    async def send(self, room_id: uuid.UUID, sender_id: uuid.UUID, content: str) -> object:
        async with self.sessions() as session, session.begin():
            # The room row lock serialises senders, so seq and event_seq stay gap-free.
            room = await session.scalar(
                select(Room).where(Room.id == room_id).with_for_update(key_share=True)
            )
            member = await session.get(RoomUser, (room_id, sender_id))
            if room is None or member is None:
                raise NotAMember("not a member of this room")
            room.last_seq += 1
            room.last_event_seq += 1
            room.last_message_at = datetime.now(UTC)
            message = Message(
                id=uuid.uuid4(),  # now, not at flush: the log entry's payload carries it
                room_id=room_id,
                seq=room.last_seq,
                sender_id=sender_id,
                kind="text",
                content=content,
            )
            session.add(message)
            member.last_read_seq = max(member.last_read_seq, room.last_seq)
            payload = {
                "id": str(message.id),
                "room_id": str(room_id),
                "seq": room.last_seq,
                "sender_id": str(sender_id),
                "kind": "text",
                "content": content,
            }
            session.add(
                RoomEvent(
                    room_id=room_id,
                    event_seq=room.last_event_seq,
                    type="message.created",
                    actor_id=sender_id,
                    payload=payload,
                )
            )
        return message

    async def mark_read(self, message_id: uuid.UUID, user_id: uuid.UUID) -> object:
        membership = and_(RoomUser.room_id == Message.room_id, RoomUser.user_id == user_id)
        async with self.sessions() as session, session.begin():
            target = (
                await session.execute(
                    select(Message.room_id, Message.seq, RoomUser.user_id)
                    .outerjoin(RoomUser, membership)
                    .where(Message.id == message_id)
                )
            ).one_or_none()
            if target is None or target.user_id is None:
                raise NotAMember("not a member of this room")
            await session.execute(
                insert(Receipt)
                .values(room_id=target.room_id, message_id=message_id, user_id=user_id)
                .on_conflict_do_nothing()
            )
            await session.execute(
                update(RoomUser)
                .where(
                    RoomUser.room_id == target.room_id,
                    RoomUser.user_id == user_id,
                    RoomUser.last_read_seq < target.seq,
                )
                .values(last_read_seq=target.seq, last_read_at=func.now())
            )
        return target
