"""Pieces of the SQLAlchemy peer's queries (bench/orm.py): the correlated counts its unread
figures use, the aliases its joins need, and what it builds from the rows (masking,
previews, a page's reactions), written as an ORM application would."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import any_, func, not_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from bench.orm_models import Message, MessageMention, MessageReaction, RoomUser, User


def masked(messages: Sequence[Message]) -> list[Message]:
    """Soft-deleted messages leave without content, as chatstore returns them."""
    for message in messages:
        if message.deleted_at is not None:
            message.content = ""
            message.attachment = None
    return list(messages)


def deleted_after_marker() -> Any:
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


def unread_mentions() -> Any:
    # The member's unread mentions, as chatstore counts them: their mention rows after the
    # marker, plus the @room messages after it (not deleted) that do not name them too.
    named = (
        select(func.count())
        .where(
            MessageMention.user_id == RoomUser.user_id,
            MessageMention.room_id == RoomUser.room_id,
            MessageMention.seq > RoomUser.last_read_seq,
        )
        .correlate(RoomUser)
        .scalar_subquery()
    )
    whole_room = (
        select(func.count())
        .where(
            Message.room_id == RoomUser.room_id,
            Message.seq > RoomUser.last_read_seq,
            Message.mentions_room,
            Message.deleted_at.is_(None),
            not_(RoomUser.user_id == any_(Message.mentioned_ids)),
        )
        .correlate(RoomUser)
        .scalar_subquery()
    )
    return named + whole_room


Quoted = aliased(Message)
LastMessage = aliased(Message)
Partner = aliased(User)


def preview(message: Message | None) -> dict[str, Any] | None:
    """What chatstore's message_preview() shows of a message (a quote, a room's last)."""
    if message is None:
        return None
    deleted = message.deleted_at is not None
    return {
        "id": message.id,
        "seq": message.seq,
        "sender_id": message.sender_id,
        "kind": message.kind,
        "created_at": message.created_at,
        "content": None if deleted else message.content[:100],
        "is_deleted": deleted,
    }


async def page_reactions(
    session: AsyncSession, room_id: uuid.UUID, reader: uuid.UUID, messages: Sequence[Message]
) -> dict[uuid.UUID, list[dict[str, Any]]]:
    """Reaction counts per key, and whether the reader reacted, for the page's messages
    that have any (one grouped query; none when no message has the flag)."""
    reacted = [m.id for m in messages if m.has_reactions and m.deleted_at is None]
    found: dict[uuid.UUID, list[dict[str, Any]]] = {}
    if not reacted:
        return found
    rows = await session.execute(
        select(
            MessageReaction.message_id,
            MessageReaction.reaction,
            func.count(),
            func.bool_or(MessageReaction.user_id == reader),
        )
        .where(MessageReaction.room_id == room_id, MessageReaction.message_id.in_(reacted))
        .group_by(MessageReaction.message_id, MessageReaction.reaction)
        .order_by(MessageReaction.message_id, func.min(MessageReaction.created_at))
    )
    for message_id, reaction, count, mine in rows:
        found.setdefault(message_id, []).append(
            {"reaction": reaction, "count": count, "reacted_by_me": mine}
        )
    return found
