"""The SQLAlchemy 2.0 peer: the same operations written as an ORM application would.

Models are mapped onto chatstore's existing tables (no DDL); the engine uses the psycopg
async driver (`postgresql+psycopg://`) with chatstore's connection settings (prepare
threshold, statement timeout, pool size, no pre-ping). Each operation opens an AsyncSession
the usual way, so a read is BEGIN, the query, ROLLBACK: that is what the ORM costs by default,
and it is part of what this peer measures. Queries are built with the ORM API; each keeps
the guarantees of chatstore's (membership checked, deleted content masked, seq and log
entry taken under the room lock) so the comparison is of equal work.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import bcrypt
from sqlalchemy import ForeignKey, Row, and_, func, or_, select, update
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from bench.peers import CATCH_UP, PAGE, NotAMember
from chatstore import Settings


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    email: Mapped[str]
    username: Mapped[str]
    display_name: Mapped[str | None]
    password_hash: Mapped[str]
    is_online: Mapped[bool]
    last_seen_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class Room(Base):
    __tablename__ = "rooms"
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    kind: Mapped[str]
    name: Mapped[str | None]
    description: Mapped[str | None]
    created_by: Mapped[uuid.UUID | None]
    last_seq: Mapped[int]
    last_event_seq: Mapped[int]
    last_message_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class RoomUser(Base):
    __tablename__ = "room_users"
    room_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("rooms.id"), primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), primary_key=True)
    role: Mapped[str]
    last_read_seq: Mapped[int]
    last_read_at: Mapped[datetime | None]


class Message(Base):
    __tablename__ = "messages"
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    room_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("rooms.id"))
    seq: Mapped[int]
    sender_id: Mapped[uuid.UUID | None]
    kind: Mapped[str]
    content: Mapped[str]
    attachment: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    client_id: Mapped[str | None]
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    edited_at: Mapped[datetime | None]
    edit_count: Mapped[int] = mapped_column(default=0)
    deleted_at: Mapped[datetime | None]


class Receipt(Base):
    __tablename__ = "message_read_receipts"
    room_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    message_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    read_at: Mapped[datetime] = mapped_column(server_default=func.now())


class RoomEvent(Base):
    __tablename__ = "room_events"
    room_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("rooms.id"), primary_key=True)
    event_seq: Mapped[int] = mapped_column(primary_key=True)
    type: Mapped[str]
    actor_id: Mapped[uuid.UUID | None]
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)


def _masked(messages: Sequence[Message]) -> list[Message]:
    """Soft-deleted messages leave without content, as chatstore returns them."""
    for message in messages:
        if message.deleted_at is not None:
            message.content = ""
            message.attachment = None
    return list(messages)


def _deleted_after_marker() -> Any:
    # Correlated count of soft-deleted messages after the member's marker: the same rule as
    # chatstore's member_unread view, written with the ORM.
    return (
        select(func.count())
        .where(
            Message.room_id == RoomUser.room_id,
            Message.seq > RoomUser.last_read_seq,
            Message.deleted_at.is_not(None),
        )
        .correlate(RoomUser)
        .scalar_subquery()
    )


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
        """Run a page query joined to the reader's membership: one round trip when there are
        messages; an empty page costs a second one, telling "not a member" from "empty"."""
        membership = and_(RoomUser.room_id == Message.room_id, RoomUser.user_id == user_id)
        async with self.sessions() as session:
            found = (await session.scalars(query.join(RoomUser, membership))).all()
            if not found and await session.get(RoomUser, (room_id, user_id)) is None:
                raise NotAMember("not a member of this room")
        return _masked(found)

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
        unread = Room.last_seq - RoomUser.last_read_seq - _deleted_after_marker()
        query = (
            select(RoomUser.room_id, Room.last_seq, RoomUser.last_read_seq, unread.label("unread"))
            .join(Room, Room.id == RoomUser.room_id)
            .where(RoomUser.user_id == user_id)
            .order_by(Room.last_message_at.desc().nulls_last(), RoomUser.room_id)
        )
        async with self.sessions() as session:
            rows: Sequence[Row[Any]] = (await session.execute(query)).all()
        return rows

    async def room_list(self, user_id: uuid.UUID) -> object:
        unread = Room.last_seq - RoomUser.last_read_seq - _deleted_after_marker()
        query = (
            select(Room, RoomUser.role, RoomUser.last_read_seq, unread.label("unread"))
            .join(RoomUser, Room.id == RoomUser.room_id)
            .where(RoomUser.user_id == user_id)
            .order_by(Room.last_message_at.desc().nulls_last(), Room.created_at.desc(), Room.id)
        )
        async with self.sessions() as session:
            rows: Sequence[Row[Any]] = (await session.execute(query)).all()
        return rows

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
