"""The public room directory: public rooms listed and searched by name (store.rooms).

- Only public rooms: private and direct rooms are never listed, whoever asks (the directory
  is for finding rooms to join, and anyone may join a public room).
- Ordered by name without regard to case, then id, and keyset-paged on that pair: a page
  starts after the previous page's last room, so rooms created, renamed or deleted between
  two pages never make a later page repeat or skip one that stayed put.
- `search` keeps the rooms whose name contains the term, case-insensitively. The term is
  matched literally: `%`, `_` and `\\` in it are escaped here, and the pattern travels as a
  parameter (sql/rooms.sql search_public_rooms), never as SQL text.
- Each room comes with its member count, read from rooms.member_count (kept by a trigger on
  room_users), so a page costs its own rows however big its rooms are, and its last
  activity (its last message, else its creation).

One query per page, walking rooms_public_name_idx (or, for a search, the trigram index
rooms_public_name_trgm_idx); see db/migrations for why each exists.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final
from uuid import UUID

from chatstore import validation as check
from chatstore.conversation_models import PublicRoom, PublicRoomCursor, PublicRoomPage
from chatstore.errors import ValidationError
from chatstore.mapping import row_builder
from chatstore.models import Room
from chatstore.repositories.base import Repository
from chatstore.repositories.rooms import RoomRepository
from chatstore.rows import all_rows

# No room name is longer, so no longer term could match.
SEARCH_MAX_CHARS: Final = check.ROOM_NAME_MAX
# Before every room: no name is empty, so ('', any id) sorts first.
_FIRST: Final = PublicRoomCursor(name_key="", room_id=UUID(int=0))
# LIKE's escape character (PostgreSQL's default), then its two wildcards.
_LIKE_SPECIAL: Final = ("\\", "%", "_")

_room = row_builder(Room)


def like_pattern(term: str) -> str:
    """A LIKE pattern matching names that contain `term` as it is written: its `\\`, `%`
    and `_` escaped so each matches only itself, between two `%` wildcards."""
    for special in _LIKE_SPECIAL:
        term = term.replace(special, "\\" + special)
    return f"%{term}%"


def _public_room(row: Mapping[str, Any]) -> PublicRoom:
    return PublicRoom(
        room=_room(row),
        member_count=int(row["member_count"]),
        last_activity_at=row["last_activity_at"],
    )


def _cursor(value: object) -> PublicRoomCursor:
    if (
        not isinstance(value, PublicRoomCursor)
        or not isinstance(value.name_key, str)
        or not isinstance(value.room_id, UUID)
    ):
        raise ValidationError("after", "must be a PublicRoomCursor from a previous page, or None")
    # Checked like any text sent to PostgreSQL (no NUL, no lone surrogate); it may be any
    # length a lowercased name can have.
    check.text("after", value.name_key, max_chars=4 * check.ROOM_NAME_MAX, allow_empty=True)
    return value


class RoomDirectory(Repository):
    """The public room directory."""

    async def public_rooms(
        self,
        search: str | None = None,
        after: PublicRoomCursor | None = None,
        limit: int = 50,
    ) -> PublicRoomPage:
        """Up to `limit` (1..200) public rooms by name, case-insensitively (then by id),
        after the cursor `after` (the previous page's next_cursor; None for the first page),
        each with its member count and last activity time. With `search` (1 to 100
        characters, not blank, matched as written), only rooms whose name contains it,
        whatever the case. Raises ValidationError naming the field for bad input."""
        term = None if search is None else check.text("search", search, max_chars=SEARCH_MAX_CHARS)
        cursor = _FIRST if after is None else _cursor(after)
        size = check.page_limit(limit)
        keyset = {"after_name": cursor.name_key, "after_id": cursor.room_id, "limit": size + 1}
        queries = self._queries.rooms
        async with self._db.connection() as conn:
            if term is None:
                rows = await all_rows(queries.public_rooms_cursor, conn, **keyset)
            else:
                rows = await all_rows(
                    queries.search_public_rooms_cursor, conn, pattern=like_pattern(term), **keyset
                )
        more = len(rows) > size
        del rows[size:]
        last = rows[-1] if more else None
        return PublicRoomPage(
            rooms=tuple(_public_room(row) for row in rows),
            next_cursor=None if last is None else PublicRoomCursor(last["name_key"], last["id"]),
        )


class StoreRoomRepository(RoomRepository, RoomDirectory):
    """What store.rooms is: rooms and membership (RoomRepository) and the directory."""


__all__ = ["RoomDirectory", "StoreRoomRepository", "like_pattern"]
