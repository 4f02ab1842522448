"""A user's room list (RoomRepository.rooms_of_user): rows of sql/rooms.sql rooms_of_user
to UserRoom entries, each with its last message's preview and a direct room's other user.

The query finds both in the same statement as the list itself (one round trip): the last
message is the one at the room's last_seq, one probe of messages_room_seq_key per room, and
it comes as the jsonb of the SQL function message_preview(), which also makes a reply's
preview of what it quotes: cut to 100 characters, and masked when deleted, as every read
masks it. A room without messages has no preview; a direct room whose other user was deleted has
no direct_user (rooms.direct_user_low / high were cleared with the user).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from chatstore.conversation_models import UserSummary
from chatstore.mapping import message_preview, row_builder
from chatstore.models import Room, UserRoom

DIRECT_USER_COLUMNS: Final = frozenset(
    {"direct_user_id", "direct_user_username", "direct_user_display_name"}
)

# Rooms come by the dozen in a user's room list: fill their slots directly.
_room = row_builder(Room)


def _direct_user(row: Mapping[str, Any]) -> UserSummary | None:
    if row["direct_user_id"] is None:
        return None
    return UserSummary(
        id=row["direct_user_id"],
        username=row["direct_user_username"],
        display_name=row["direct_user_display_name"],
    )


def user_room(row: Mapping[str, Any]) -> UserRoom:
    return UserRoom(
        room=_room(row),
        role=row["role"],
        last_read_seq=row["last_read_seq"],
        unread_count=row["unread_count"],
        last_message=None if (last := row["last_message"]) is None else message_preview(last),
        direct_user=_direct_user(row),
        unread_mention_count=row["unread_mention_count"],
    )


__all__ = ["DIRECT_USER_COLUMNS", "user_room"]
