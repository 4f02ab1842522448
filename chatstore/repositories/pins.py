"""PinRepository: pinned messages (`message_pins`).

Who may pin and unpin: in a direct room, either of its two members; in a public or private
room, its owner and admins (a plain member may not, not even their own messages). Everyone
else gets PermissionDenied. The rule is applied inside the statement that writes
(sql/pins.sql, may_pin), so a role changed while the statement waited for the room lock is
the role that counts.

- Pinning and unpinning are idempotent: pinning a pinned message, or unpinning one that is
  not pinned, writes nothing and says so (`PinChange.changed` is False). A deleted message
  cannot be pinned (Conflict); deleting a pinned message keeps the pin, and it is listed as
  deleted, without its content or attachment. A pin goes with its message's room.
- Each pin or unpin that changes something appends message.pinned / message.unpinned to the
  room's change log in the same statement, under the room row lock (payloads: message_id,
  seq, and pinned_by and pinned_at, or unpinned_by).
- `pins` lists a room's pins newest first, keyset-paged, for members only.

One round trip per call; a write that waited for its room's lock while another change to
the room committed runs once more in a short transaction (chatstore.repositories.reactions,
`room_write`). The queries live in `sql/pins.sql`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final
from uuid import UUID

from chatstore import validation
from chatstore.conversation_models import Pin, PinChange, PinCursor, PinPage
from chatstore.errors import Conflict, NotFound, PermissionDenied
from chatstore.repositories.base import Repository
from chatstore.repositories.message_rows import message_from_row
from chatstore.repositories.reactions import require_member, room_write
from chatstore.rows import all_rows

Row = Mapping[str, Any]

# After every pin: where the first (newest) page starts.
_NEWEST: Final = PinCursor(
    pinned_at=datetime.max.replace(tzinfo=UTC), message_id=UUID(int=2**128 - 1)
)
MAY_NOT_PIN = (
    "only a room's owner and admins can pin and unpin messages (in a direct room, either member)"
)


class PinRepository(Repository):
    """Pinned messages of rooms."""

    async def pin(self, message_id: UUID | str, *, user_id: UUID | str) -> PinChange:
        """Pin a message; a no-op (changed False, the earlier pin returned) when it already
        is pinned. Raises ValidationError, NotFound (message), PermissionDenied (not a
        member, or a role that may not pin), Conflict (the message is deleted)."""
        row = await self._write("pin_message", message_id, user_id)
        if row["is_deleted"]:
            raise Conflict("message", "a deleted message cannot be pinned")
        return _change(row)

    async def unpin(self, message_id: UUID | str, *, user_id: UUID | str) -> PinChange:
        """Unpin a message (deleted or not); a no-op (changed False) when it is not pinned.
        Raises ValidationError, NotFound (message), PermissionDenied (not a member, or a
        role that may not unpin)."""
        row = await self._write("unpin_message", message_id, user_id)
        return PinChange(
            room_id=row["room_id"],
            message_id=row["message_id"],
            changed=bool(row["changed"]),
            pinned_by=None,
            pinned_at=None,
        )

    async def _write(self, query: str, message_id: UUID | str, user_id: UUID | str) -> Row:
        message = validation.uuid_value("message_id", message_id)
        user = validation.uuid_value("user_id", user_id)
        row = await room_write(
            self._db,
            getattr(self._queries.pins, query),
            query.replace("_message", "").replace("_", " "),
            message_id=message,
            user_id=user,
        )
        if row is None:
            raise NotFound("message", message)
        require_member(row)
        if not row["may_pin"]:
            raise PermissionDenied(MAY_NOT_PIN)
        return row

    async def pins(
        self,
        room_id: UUID | str,
        *,
        user_id: UUID | str,
        before: PinCursor | None = None,
        limit: int = 50,
    ) -> PinPage:
        """A room's pins, newest first, up to `limit` (1..200) older than the cursor
        `before` (the previous page's next_cursor; None for the newest). Members only."""
        room = validation.uuid_value("room_id", room_id)
        reader = validation.uuid_value("user_id", user_id)
        cursor = _NEWEST if before is None else _cursor(before)
        size = validation.page_limit(limit)
        async with self._db.connection() as conn:
            rows = await all_rows(
                self._queries.pins.room_pins_cursor,
                conn,
                room_id=room,
                user_id=reader,
                before_at=cursor.pinned_at,
                before_message_id=cursor.message_id,
                limit=size + 1,
            )
        if not rows:
            raise NotFound("room", room)
        require_member(rows[0])
        pins = [
            Pin(
                message=message_from_row(row),
                pinned_by=row["pinned_by"],
                pinned_at=row["pinned_at"],
            )
            for row in rows
            if row["id"] is not None
        ]
        more = len(pins) > size
        del pins[size:]
        last = pins[-1] if more else None
        return PinPage(
            pins=tuple(pins),
            next_cursor=None if last is None else PinCursor(last.pinned_at, last.message.id),
        )


def _cursor(value: object) -> PinCursor:
    return validation.keyset_cursor("before", value, PinCursor)


def _change(row: Row) -> PinChange:
    return PinChange(
        room_id=row["room_id"],
        message_id=row["message_id"],
        changed=bool(row["changed"]),
        pinned_by=row["pinned_by"],
        pinned_at=row["pinned_at"],
    )


# The message as normal reads return it, built as chatstore.repositories.messages builds it.


__all__ = ["PinRepository"]
