"""The SQLAlchemy peer's models (bench/orm.py), mapped onto chatstore's existing tables: no
DDL, only the columns the peer's operations read or write."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ARRAY, ForeignKey, Uuid, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


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
    direct_user_low: Mapped[uuid.UUID | None]
    direct_user_high: Mapped[uuid.UUID | None]
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
    reply_to_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    thread_root_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    thread_seq: Mapped[int | None] = mapped_column(default=None)
    shown_in_room: Mapped[bool] = mapped_column(default=True)
    mentioned_ids: Mapped[list[uuid.UUID]] = mapped_column(ARRAY(Uuid), default=list)
    mentions_room: Mapped[bool] = mapped_column(default=False)
    has_reactions: Mapped[bool] = mapped_column(default=False)
    has_thread: Mapped[bool] = mapped_column(default=False)


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


class Thread(Base):
    __tablename__ = "threads"
    room_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    root_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    last_thread_seq: Mapped[int]
    reply_count: Mapped[int]
    last_reply_at: Mapped[datetime | None]
    participant_ids: Mapped[list[uuid.UUID]] = mapped_column(ARRAY(Uuid))


class MessageReaction(Base):
    __tablename__ = "message_reactions"
    room_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    message_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    reaction: Mapped[str] = mapped_column(primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    created_at: Mapped[datetime]


class MessageMention(Base):
    __tablename__ = "message_mentions"
    room_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    message_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    seq: Mapped[int]
