"""Sending a message: validating it, then one statement (sql/sending.sql, send_message,
or sql/sending_plain.sql for a message without thread or mentions).

One round trip in the common case: the statement locks the room, checks membership and the
idempotency keys, takes the next seq, inserts the message, moves the sender's read marker
and appends the change-log entry, on an autocommit connection (or inside the caller's
transaction).

Every send carries a message id chosen here, before it is sent. That makes a send whose
answer was lost safe to run again: if the first run committed, the second finds the
message by its id and returns it; if it did not, the second sends it; if the first is still
running (queued behind the room lock), one of the two fails on the primary key and writes
nothing. So a lost answer costs a caller one more round trip, never a second copy and never
a guess (chatstore.commit_outcome).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final
from uuid import UUID, uuid4

from psycopg.types.json import Jsonb

from chatstore import validation
from chatstore.commit_outcome import run_idempotent
from chatstore.db import Database, current_connection
from chatstore.errors import (
    AlreadyExists,
    Conflict,
    NotFound,
    PermissionDenied,
    ValidationError,
)
from chatstore.models import Attachment, CreateMessage

Row = Mapping[str, Any]

# Users send these; "system" messages are the server's own and have no sender, so the
# public create() refuses them rather than letting a user impersonate the system.
USER_KINDS: Final = ("text", "image", "file")
MEDIA_KINDS: Final = frozenset({"image", "file"})
URL_MAX: Final = 2048
FILE_NAME_MAX: Final = 255
MIME_TYPE_MAX: Final = 255


@dataclass(frozen=True, slots=True)
class NewMessage:
    """A CreateMessage after validation: typed ids, checked content, jsonb-ready attachment."""

    room_id: UUID
    sender_id: UUID
    kind: str
    content: str
    attachment: Jsonb | None
    client_id: str | None
    reply_to_id: UUID | None
    thread_root_id: UUID | None = None
    also_to_room: bool = False
    mention_ids: tuple[UUID, ...] = ()
    mentions_room: bool = False


async def send(db: Database, new: NewMessage) -> Row:
    """The stored message's row (with event_* columns when this call appended it).

    Raises NotFound (room), PermissionDenied (not a member; mentions_room from a plain
    member), Conflict (client_id already used for different content), ValidationError
    (reply_to_id or thread_root_id: no such message of this room, a deleted one, or a root
    that is a thread reply itself; nothing written), and OutcomeUnknown when PostgreSQL
    stopped answering after the send reached it and could not be asked again within the
    bound.
    """
    params: dict[str, object] = {
        "message_id": uuid4(),
        "room_id": new.room_id,
        "sender_id": new.sender_id,
        "kind": new.kind,
        "content": new.content,
        "attachment": new.attachment,
        "client_id": new.client_id,
        "reply_to_id": new.reply_to_id,
    }
    # Most messages are neither thread replies nor mention anyone: sending_plain.sql's
    # statement leaves those steps out, and PostgreSQL then has fewer tables to open.
    plain = new.thread_root_id is None and not new.mention_ids and not new.mentions_room
    if plain:
        statement = db.queries.sending_plain.send_plain_message
    else:
        statement = db.queries.sending.send_message
        params["thread_root_id"] = new.thread_root_id
        params["also_to_room"] = new.also_to_room
        params["mention_ids"] = list(new.mention_ids)
        params["mentions_room"] = new.mentions_room
    # Inside a caller's transaction a failed statement aborts the whole transaction, so
    # there is nothing to run again: the transaction's own COMMIT handling decides.
    inside = current_connection() is not None

    async def run() -> Row:
        async with db.connection() as conn:
            row = await statement(conn, **params)
        return _outcome(row, new.room_id)

    async def attempt() -> Row:
        try:
            return await run()
        except AlreadyExists as twin:
            if inside:
                raise Conflict("client_id", "is being used by a concurrent send") from twin
            # A concurrent send with the same key (or our own first run) committed while
            # this one waited for the room lock; a new statement's snapshot reads it.
            return await run()

    # A send carries its message id, so it is safe to run twice: a lost answer is settled
    # by running it again (chatstore.commit_outcome.run_idempotent).
    return await run_idempotent(db, attempt, "the send", inside)


def _outcome(row: Row | None, room_id: UUID) -> Row:
    if row is None or not row["room_found"]:
        raise NotFound("room", room_id)
    if not row["is_member"]:
        raise PermissionDenied("only members of a room can send to it")
    if row["same_payload"] is False:
        raise Conflict("client_id", "was already used for a different message")
    if row["same_payload"] is None:  # a new send, not a retry: the checks that applied
        if not row["reply_ok"]:
            raise ValidationError(
                "reply_to_id", "must be a message of this room that is not deleted"
            )
        if not row["thread_ok"]:
            raise ValidationError(
                "thread_root_id",
                "must be a message of this room that is not deleted and not a thread reply",
            )
        if not row["room_mention_ok"]:
            raise PermissionDenied(
                "only owners and admins (or the users of a direct room) can mention the room"
            )
    if row["id"] is None:  # the room was deleted while this send waited for it
        raise NotFound("room", room_id)
    return row


def validated(message: object) -> NewMessage:
    """Check a CreateMessage field by field; the first broken rule raises ValidationError."""
    if not isinstance(message, CreateMessage):
        raise ValidationError("message", "must be a CreateMessage")
    room_id = validation.uuid_value("room_id", message.room_id)
    sender_id = validation.uuid_value("sender_id", message.sender_id)
    kind = validation.choice("kind", message.kind, USER_KINDS)
    media = kind in MEDIA_KINDS
    # A media message's content is its caption, which may be empty.
    content = validation.text(
        "content", message.content, max_chars=validation.CONTENT_MAX, allow_empty=media
    )
    if media and message.attachment is None:
        raise ValidationError("attachment", f"is required for {kind} messages")
    if not media and message.attachment is not None:
        raise ValidationError("attachment", "is only allowed on image and file messages")
    attachment = _attachment_json(message.attachment) if media else None
    client_id = (
        None
        if message.client_id is None
        else validation.text("client_id", message.client_id, max_chars=validation.CLIENT_ID_MAX)
    )
    reply_to_id = (
        None
        if message.reply_to_id is None
        else validation.uuid_value("reply_to_id", message.reply_to_id)
    )
    thread_root_id = (
        None
        if message.thread_root_id is None
        else validation.uuid_value("thread_root_id", message.thread_root_id)
    )
    also_to_room = validation.flag("also_to_room", message.also_to_room)
    if also_to_room and thread_root_id is None:
        raise ValidationError("also_to_room", "is only for thread replies (set thread_root_id)")
    return NewMessage(
        room_id,
        sender_id,
        kind,
        content,
        attachment,
        client_id,
        reply_to_id,
        thread_root_id,
        also_to_room,
        tuple(validation.mention_ids("mention_ids", message.mention_ids)),
        validation.flag("mentions_room", message.mentions_room),
    )


def _attachment_json(attachment: object) -> Jsonb:
    if not isinstance(attachment, Attachment):
        raise ValidationError("attachment", "must be an Attachment")
    return Jsonb(
        {
            "url": validation.text("attachment.url", attachment.url, max_chars=URL_MAX),
            "name": validation.text("attachment.name", attachment.name, max_chars=FILE_NAME_MAX),
            "mime_type": validation.text(
                "attachment.mime_type", attachment.mime_type, max_chars=MIME_TYPE_MAX
            ),
            "size": validation.integer("attachment.size", attachment.size, low=0, high=2**53),
        }
    )
