"""Editing and deleting messages: the half of MessageRepository (which inherits
EditingMethods) that changes messages already sent.

Each change runs in one transaction that first locks the message's room, then the message
(messages.lock_message), so it appends its change-log entry under the room lock as sends
do; the statements are in sql/editing.sql. An edit may also change whom the message
mentions (replace_mentions, before the edit itself), and a soft delete takes the message's
mentions away and leaves its thread's reply count, so unread-mention and reply counts stay
exact through both.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any, Final
from uuid import UUID

from chatstore import validation
from chatstore.errors import Conflict, NotFound, PermissionDenied, ValidationError
from chatstore.models import Message, MessageRevision
from chatstore.repositories.base import Repository
from chatstore.repositories.changelog import appended_all
from chatstore.repositories.message_rows import message_from_row, revision_from_row
from chatstore.repositories.receipts import message_rows_for_member, require_member_flag
from chatstore.repositories.sending import MEDIA_KINDS

Row = Mapping[str, Any]

MODERATOR_ROLES: Final = frozenset({"owner", "admin"})


class EditingMethods(Repository):
    async def update(
        self,
        message_id: UUID | str,
        content: str,
        *,
        editor_id: UUID | str,
        mention_ids: Collection[UUID | str] | None = None,
        mentions_room: bool | None = None,
    ) -> Message:
        """Edit a message's content, keeping the previous version in its history.

        Only the sender (while a member) may edit. A deleted message cannot be edited:
        Conflict("message"). Text messages need non-empty content; image and file captions
        may be empty. `mention_ids` replaces whom the message mentions (members only, as a
        send; None keeps them), `mentions_room` sets the @room flag (None keeps it; turning
        it on needs the right a send needs). The message.edited entry names the members
        newly mentioned (`mentions_added`, `room_mention_added`).
        """
        message = validation.uuid_value("message_id", message_id)
        editor = validation.uuid_value("editor_id", editor_id)
        body = validation.text(
            "content", content, max_chars=validation.CONTENT_MAX, allow_empty=True
        )
        mentions = (
            None if mention_ids is None else validation.mention_ids("mention_ids", mention_ids)
        )
        room_flag = (
            None if mentions_room is None else validation.flag("mentions_room", mentions_room)
        )
        queries = self._queries
        async with self._db.transaction() as conn:
            # Locks the room, then the message: edit_message appends under the room lock.
            row = await queries.messages.lock_message(conn, message_id=message, user_id=editor)
            current = locked_message(row, message)
            if current.sender_id != editor:
                raise PermissionDenied("only the sender can edit a message")
            if current.is_deleted:
                raise Conflict("message", "a deleted message cannot be edited")
            # Which rule applies depends on the stored kind; nothing has been written yet.
            if current.kind not in MEDIA_KINDS and not body.strip():
                raise ValidationError("content", "must not be empty")
            added: list[UUID] = []
            room_added = False
            if mentions is not None or room_flag is not None:
                if room_flag and not current.mentions_room and not _may_mention_room(row):
                    raise PermissionDenied(
                        "only owners and admins (or the users of a direct room) can mention "
                        "the room"
                    )
                changed = await queries.editing.replace_mentions(
                    conn,
                    room_id=current.room_id,
                    message_id=message,
                    mention_ids=list(current.mentioned_ids) if mentions is None else mentions,
                    mentions_room=room_flag,
                )
                if changed is not None:
                    added = list(changed["added_ids"])
                    room_added = bool(changed["room_mention_added"])
            edited = await queries.editing.edit_message(
                conn,
                room_id=current.room_id,
                message_id=message,
                content=body,
                editor_id=editor,
                mentions_added=added,
                room_mention_added=room_added,
            )
            await self._db.log_appended(appended_all([edited]))
        return message_from_row(edited)

    async def history(
        self, message_id: UUID | str, *, user_id: UUID | str
    ) -> list[MessageRevision]:
        """A message's previous versions, oldest first; [] for a deleted message."""
        message = validation.uuid_value("message_id", message_id)
        reader = validation.uuid_value("user_id", user_id)
        rows = await message_rows_for_member(
            self._db, self._queries.messages.message_history_cursor, message, reader
        )
        return [revision_from_row(row) for row in rows if row["revision"] is not None]

    async def delete(self, message_id: UUID | str, *, acting_user_id: UUID | str) -> Message:
        """Soft-delete a message: by its sender, or by a room owner or admin.

        Idempotent: deleting a deleted message returns it unchanged (first deletion time).
        Its mentions stop counting as unread and leave the inboxes; a thread reply leaves
        its thread's reply count.
        """
        message = validation.uuid_value("message_id", message_id)
        actor = validation.uuid_value("acting_user_id", acting_user_id)
        queries = self._queries
        async with self._db.transaction() as conn:
            row = await queries.messages.lock_message(conn, message_id=message, user_id=actor)
            current = locked_message(row, message)
            if current.sender_id != actor and row["actor_role"] not in MODERATOR_ROLES:
                raise PermissionDenied("only the sender or a room owner or admin can delete")
            if current.is_deleted:
                return current
            deleted = await queries.editing.soft_delete_message(
                conn, room_id=current.room_id, message_id=message, deleted_by=actor
            )
            await self._db.log_appended(appended_all([deleted]))
        return message_from_row(deleted)


def locked_message(row: Row | None, message_id: UUID) -> Message:
    """The message lock_message returned, after the existence and membership checks."""
    if row is None:
        raise NotFound("message", message_id)
    require_member_flag(row["actor_role"])
    return message_from_row(row)


def _may_mention_room(row: Row) -> bool:
    """The @room right (as a send checks it): owners and admins, or a direct room's users."""
    return row["room_kind"] == "direct" or row["actor_role"] in MODERATOR_ROLES
