"""A user's room list (RoomRepository.rooms_of_user): rows of sql/rooms.sql rooms_of_user
to UserRoom entries, each with its last message's preview and a direct room's other user.

The query finds both in the same statement as the list itself (one round trip): the last
message is the one at the room's last_seq, one probe of messages_room_seq_key per room, and
it comes as last_message_* columns, cut to 100 characters and masked when deleted as the
SQL function message_preview() does for a reply's quote. Columns rather than that jsonb:
psycopg reads uuids and timestamps in C, where parsing a document per room in Python was
most of the list's own cost. A room without messages has no preview; a direct room whose
other user was deleted has no direct_user (rooms.direct_user_low / high were cleared with
the user).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from chatstore.conversation_models import MessagePreview, UserSummary
from chatstore.mapping import row_builder
from chatstore.models import Room, UserRoom

DIRECT_USER_COLUMNS: Final = frozenset(
    {"direct_user_id", "direct_user_username", "direct_user_display_name"}
)
LAST_MESSAGE_COLUMNS: Final = frozenset(
    {
        "last_message_id",
        "last_message_seq",
        "last_message_sender_id",
        "last_message_kind",
        "last_message_created_at",
        "last_message_content",
        "last_message_is_deleted",
    }
)

# Rooms come by the dozen in a user's room list: built by mapping.row_builder.
_room = row_builder(Room)


def _direct_user(row: Mapping[str, Any]) -> UserSummary | None:
    if row["direct_user_id"] is None:
        return None
    return UserSummary(
        id=row["direct_user_id"],
        username=row["direct_user_username"],
        display_name=row["direct_user_display_name"],
    )


def _last_message(row: Mapping[str, Any]) -> MessagePreview | None:
    if row["last_message_id"] is None:
        return None
    return MessagePreview(
        id=row["last_message_id"],
        seq=row["last_message_seq"],
        sender_id=row["last_message_sender_id"],
        kind=row["last_message_kind"],
        created_at=row["last_message_created_at"],
        content=row["last_message_content"],
        is_deleted=row["last_message_is_deleted"],
    )


def user_room(row: Mapping[str, Any]) -> UserRoom:
    return UserRoom(
        room=_room(row),
        role=row["role"],
        last_read_seq=row["last_read_seq"],
        unread_count=row["unread_count"],
        last_message=_last_message(row),
        direct_user=_direct_user(row),
        unread_mention_count=row["unread_mention_count"],
    )


__all__ = ["DIRECT_USER_COLUMNS", "LAST_MESSAGE_COLUMNS", "user_room"]
