"""RoomRepository: rooms, direct rooms, a user's room list; membership and roles through
RoomMemberships (chatstore.repositories.memberships).

Permission rules (the acting user is always given explicitly; chatstore has no session here):

- owner: one per public/private room, its creator. Edits and deletes the room, adds and
  removes anyone but itself, changes roles, hands ownership to another member
  (`set_role(..., "owner")`, which makes the old owner an admin). It cannot leave or demote
  itself: the room would be left without an owner; transfer ownership or delete the room.
- admin: edits the room, adds members (as 'member' only), removes plain members.
- member: leaves.
- anyone: joins a public room themselves, as 'member'. Private rooms are joined only when an
  owner or admin adds you.
- direct rooms have exactly their two users, both plain members, for good: nobody adds,
  removes, renames or deletes (ValidationError on room_id for membership changes and edits,
  since no acting user could ever do it; PermissionDenied for delete, which is owner-only).

Permission checks read the room and the acting user's role, then write. An action allowed a
moment before a concurrent demotion is simply ordered before it; the one rule a race could
break (a single owner) is enforced inside the write, see `set_role`.

Every membership change and room edit appends its change-log entry (member.joined / left /
removed / role_changed, room.updated) in the statement that makes it, under the room row
lock; a new room's log starts with its first member.joined (there is no room.created entry:
a stream that follows the join reads the room itself). See docs/architecture.md.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Mapping
from typing import Any, Final

from chatstore import validation as check
from chatstore.errors import NotFound, PermissionDenied, ValidationError
from chatstore.models import Room, RoomKind, UserRoom
from chatstore.repositories.changelog import appended_all, entry
from chatstore.repositories.memberships import (
    NOT_A_MEMBER,
    RoomMemberships,
    refuse_direct,
    require_manager,
    room_from_row,
)
from chatstore.repositories.room_list import user_room
from chatstore.rows import all_rows

Row = Mapping[str, Any]

# create() makes these; direct rooms only come from get_or_create_direct().
_CREATABLE_KINDS: Final[tuple[RoomKind, ...]] = ("public", "private")


class Unset(enum.Enum):
    """Marks an update() argument that was not given (None means 'clear' for description)."""

    TOKEN = enum.auto()


UNSET: Final = Unset.TOKEN


_room = room_from_row


class RoomRepository(RoomMemberships):
    """Rooms, direct rooms and a user's room list; their members come with RoomMemberships
    (chatstore.repositories.memberships). Every method validates its input before touching
    the DB."""

    # ---- rooms -----------------------------------------------------------------------

    async def create(
        self,
        *,
        name: str,
        kind: RoomKind,
        created_by: uuid.UUID | str,
        description: str | None = None,
    ) -> Room:
        """A public or private room, with its creator as owner (both or neither are stored)."""
        if kind == "direct":
            raise ValidationError("kind", "direct rooms are made with get_or_create_direct")
        kind = check.choice("kind", kind, _CREATABLE_KINDS)
        name = check.text("name", name, max_chars=check.ROOM_NAME_MAX)
        description = check.optional_text(
            "description", description, max_chars=check.ROOM_DESCRIPTION_MAX
        )
        creator = check.uuid_value("created_by", created_by)
        async with self._db.transaction() as conn:
            row = await self._queries.rooms.create_room(
                conn, kind=kind, name=name, description=description, created_by=creator
            )
            room = _room(row)
            await self._insert_member(conn, room.id, creator, "owner", actor=creator)
        return room

    async def get(self, room_id: uuid.UUID | str) -> Room:
        room_uuid = check.uuid_value("room_id", room_id)
        async with self._db.connection() as conn:
            row = await self._queries.rooms.get_room(conn, room_id=room_uuid)
        if row is None:
            raise NotFound("room", room_uuid)
        return _room(row)

    async def update(
        self,
        room_id: uuid.UUID | str,
        *,
        acting_user_id: uuid.UUID | str,
        name: str | Unset = UNSET,
        description: str | Unset | None = UNSET,
    ) -> Room:
        """Rename and/or re-describe a room (owner or admin). `description=None` clears it.

        With nothing to change, the room is returned as it is (permissions still checked).
        """
        room_uuid = check.uuid_value("room_id", room_id)
        acting = check.uuid_value("acting_user_id", acting_user_id)
        new_name = (
            None
            if isinstance(name, Unset)
            else check.text("name", name, max_chars=check.ROOM_NAME_MAX)
        )
        set_description = not isinstance(description, Unset)
        new_description = (
            None
            if isinstance(description, Unset)
            else check.optional_text(
                "description", description, max_chars=check.ROOM_DESCRIPTION_MAX
            )
        )
        async with self._db.transaction() as conn:
            room, acting_role = await self._room_with_role(conn, room_uuid, acting)
            if acting_role is None:
                raise PermissionDenied(NOT_A_MEMBER)
            refuse_direct(room, "a direct room cannot be renamed or described")
            require_manager(acting_role, "edit this room")
            if new_name is None and not set_description:
                return room
            row = await self._queries.rooms.update_room(
                conn,
                room_id=room_uuid,
                name=new_name,
                set_description=set_description,
                description=new_description,
                actor_id=acting,
            )
            await self._db.log_appended(appended_all([row]))
        if row is None:
            raise NotFound("room", room_uuid)
        return _room(row)

    async def delete(self, room_id: uuid.UUID | str, *, acting_user_id: uuid.UUID | str) -> None:
        """Delete a room with its members and messages. Owner only (so never a direct room)."""
        room_uuid = check.uuid_value("room_id", room_id)
        acting = check.uuid_value("acting_user_id", acting_user_id)
        async with self._db.transaction() as conn:
            _, acting_role = await self._room_with_role(conn, room_uuid, acting)
            if acting_role is None:
                raise PermissionDenied(NOT_A_MEMBER)
            if acting_role != "owner":
                raise PermissionDenied("only the owner may delete this room")
            deleted = await self._queries.rooms.delete_room(conn, room_id=room_uuid)
        if not deleted:
            raise NotFound("room", room_uuid)

    async def rooms_of_user(self, user_id: uuid.UUID | str) -> list[UserRoom]:
        """The user's rooms, most recently active first, with role, exact unread count, the
        last message's preview and a direct room's other user (chatstore.repositories.room_list).

        An unknown user simply has no rooms (one query, no existence check on the hot path).
        """
        user_uuid = check.uuid_value("user_id", user_id)
        async with self._db.connection() as conn:
            rows = await all_rows(self._queries.rooms.rooms_of_user_cursor, conn, user_id=user_uuid)
        return [user_room(row) for row in rows]

    # ---- direct rooms ----------------------------------------------------------------

    async def get_or_create_direct(self, user_a: uuid.UUID | str, user_b: uuid.UUID | str) -> Room:
        """The one direct room of two different users, created on first use, in any order.

        Concurrent first calls give the same room: the losing INSERT waits for the winner's
        commit, finds the pair taken and reads the winner's room instead of raising.
        """
        a = check.uuid_value("user_a", user_a)
        b = check.uuid_value("user_b", user_b)
        if a == b:
            raise ValidationError("user_b", "must differ from user_a")
        # Python orders UUIDs by their 16 bytes, as PostgreSQL does (the table checks it).
        low, high = sorted((a, b))
        async with self._db.connection() as conn:
            # Fast path: the room usually exists; a single autocommit read finds it.
            row = await self._queries.rooms.get_direct_room(conn, user_low=low, user_high=high)
        if row is not None:
            return _room(row)
        async with self._db.transaction() as conn:
            row = await self._queries.rooms.insert_direct_room(
                conn, user_low=low, user_high=high, created_by=a
            )
            if row is None:  # created concurrently and committed meanwhile
                row = await self._queries.rooms.get_direct_room(conn, user_low=low, user_high=high)
            if row is None:  # only if it was deleted again in between
                raise NotFound("direct room", (low, high))
            room = _room(row)
            # Snapshot-read absence is safe here: the room is either ours and uncommitted, or
            # its creator committed both members (no one else adds to a direct room).
            added = await self._queries.members.add_members_if_absent(
                conn, room_id=room.id, user_ids=[low, high]
            )
            if added["added_count"]:
                # This transaction holds the room lock since that statement, so the entries
                # from first_event_seq on are exactly the member.joined entries it appended.
                joined = self._queries.events.entries_after(
                    conn,
                    room_id=room.id,
                    after_seq=added["first_event_seq"] - 1,
                    limit=added["added_count"],
                )
                await self._db.log_appended([entry(logged) async for logged in joined])
        return room
