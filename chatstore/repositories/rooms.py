"""RoomRepository: rooms, membership and roles, direct rooms, a user's room list.

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
from chatstore.db import Connection
from chatstore.errors import AlreadyExists, NotFound, PermissionDenied, ValidationError
from chatstore.mapping import from_row, row_builder
from chatstore.models import Member, Role, Room, RoomKind, UserRoom
from chatstore.repositories.base import Repository
from chatstore.repositories.changelog import appended_all, entry
from chatstore.repositories.room_list import user_room
from chatstore.rows import all_rows

Row = Mapping[str, Any]

# create() makes these; direct rooms only come from get_or_create_direct().
_CREATABLE_KINDS: Final[tuple[RoomKind, ...]] = ("public", "private")
_ROLES: Final[tuple[Role, ...]] = ("owner", "admin", "member")
# A room has one owner: ownership moves with set_role(), never with add_member().
_ADDABLE_ROLES: Final[tuple[Role, ...]] = ("admin", "member")
_MANAGERS: Final[frozenset[str]] = frozenset({"owner", "admin"})

NOT_A_MEMBER = "not a member of this room"


class Unset(enum.Enum):
    """Marks an update() argument that was not given (None means 'clear' for description)."""

    TOKEN = enum.auto()


UNSET: Final = Unset.TOKEN


# Rooms come by the dozen in a user's room list: fill their slots directly.
_room = row_builder(Room)


def _member(row: Row) -> Member:
    return from_row(Member, row)


def _refuse_direct(room: Room, rule: str) -> None:
    if room.kind == "direct":
        raise ValidationError("room_id", rule)


def _require_manager(acting_role: str | None, action: str) -> None:
    if acting_role is None:
        raise PermissionDenied(NOT_A_MEMBER)
    if acting_role not in _MANAGERS:
        raise PermissionDenied(f"only the owner or an admin may {action}")


def _check_join(room: Room, current_role: str | None, role: Role) -> None:
    """A user adding themselves: only to a public room, only as a plain member."""
    if current_role is not None:
        raise AlreadyExists("user_id", "already a member of this room")
    if room.kind != "public":
        raise PermissionDenied("a private room is joined only when an owner or admin adds you")
    if role != "member":
        raise PermissionDenied("you join a room as 'member'; an owner may promote you later")


def _check_add(acting_role: str | None, role: Role) -> None:
    """Someone adding another user: owner or admin; only the owner hands out 'admin'."""
    _require_manager(acting_role, "add members")
    if role == "admin" and acting_role != "owner":
        raise PermissionDenied("only the owner may add admins")


def _check_remove(acting_role: str | None, target_role: str | None) -> None:
    """Someone removing another member: the owner removes anyone, an admin plain members."""
    _require_manager(acting_role, "remove members")
    if target_role is None:
        raise NotFound("member", "not a member of this room")
    if target_role == "owner":
        raise PermissionDenied("the owner cannot be removed")
    if acting_role != "owner" and target_role != "member":
        raise PermissionDenied("only the owner may remove an admin")


class RoomRepository(Repository):
    """Rooms and their members. Every method validates its input before touching the DB."""

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
            _refuse_direct(room, "a direct room cannot be renamed or described")
            _require_manager(acting_role, "edit this room")
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

    # ---- members ---------------------------------------------------------------------

    async def require_member(self, room_id: uuid.UUID | str, user_id: uuid.UUID | str) -> Member:
        """The user's membership, or PermissionDenied (also when the room does not exist)."""
        room_uuid = check.uuid_value("room_id", room_id)
        user_uuid = check.uuid_value("user_id", user_id)
        async with self._db.connection() as conn:
            row = await self._queries.members.get_member(conn, room_id=room_uuid, user_id=user_uuid)
        if row is None:
            raise PermissionDenied(NOT_A_MEMBER)
        return _member(row)

    async def add_member(
        self,
        room_id: uuid.UUID | str,
        user_id: uuid.UUID | str,
        *,
        role: Role = "member",
        acting_user_id: uuid.UUID | str | None = None,
    ) -> Member:
        """Join a public room yourself (no acting user, or yourself), or be added by an owner
        or admin. The new member's read marker starts at the room's newest message.
        """
        room_uuid = check.uuid_value("room_id", room_id)
        user_uuid = check.uuid_value("user_id", user_id)
        role = check.choice("role", role, _ADDABLE_ROLES)
        acting = (
            user_uuid
            if acting_user_id is None
            else check.uuid_value("acting_user_id", acting_user_id)
        )
        async with self._db.transaction() as conn:
            room, acting_role = await self._room_with_role(conn, room_uuid, acting)
            _refuse_direct(room, "a direct room always has exactly its two users")
            if acting == user_uuid:
                _check_join(room, acting_role, role)
            else:
                _check_add(acting_role, role)
            return await self._insert_member(conn, room_uuid, user_uuid, role, actor=acting)

    async def remove_member(
        self,
        room_id: uuid.UUID | str,
        user_id: uuid.UUID | str,
        *,
        acting_user_id: uuid.UUID | str | None = None,
    ) -> None:
        """Leave a room yourself, or be removed by the owner (anyone) or an admin (members)."""
        room_uuid = check.uuid_value("room_id", room_id)
        user_uuid = check.uuid_value("user_id", user_id)
        acting = (
            user_uuid
            if acting_user_id is None
            else check.uuid_value("acting_user_id", acting_user_id)
        )
        async with self._db.transaction() as conn:
            room, acting_role = await self._room_with_role(conn, room_uuid, acting)
            _refuse_direct(room, "a direct room always has exactly its two users")
            if acting == user_uuid:
                if acting_role is None:
                    raise NotFound("member", "not a member of this room")
                if acting_role == "owner":
                    raise PermissionDenied(
                        "the owner cannot leave; transfer ownership or delete the room"
                    )
            else:
                target_role = await self._role_of(conn, room_uuid, user_uuid)
                _check_remove(acting_role, target_role)
            # Appends member.left (yourself) or member.removed (someone else) with the delete.
            removed = await self._queries.members.remove_member(
                conn, room_id=room_uuid, user_id=user_uuid, actor_id=acting
            )
            await self._db.log_appended(appended_all([removed]))
        if removed is None:
            raise NotFound("member", "not a member of this room")

    async def set_role(
        self,
        room_id: uuid.UUID | str,
        user_id: uuid.UUID | str,
        role: Role,
        *,
        acting_user_id: uuid.UUID | str,
    ) -> Member:
        """Change a member's role; only the owner may (admins cannot promote anyone).

        `role="owner"` transfers ownership: the target becomes owner and the acting owner an
        admin, in one transaction that re-checks ownership, so two concurrent transfers
        cannot leave two owners.
        """
        room_uuid = check.uuid_value("room_id", room_id)
        user_uuid = check.uuid_value("user_id", user_id)
        role = check.choice("role", role, _ROLES)
        acting = check.uuid_value("acting_user_id", acting_user_id)
        async with self._db.transaction() as conn:
            _, acting_role = await self._room_with_role(conn, room_uuid, acting)
            if acting_role is None:
                raise PermissionDenied(NOT_A_MEMBER)
            if acting_role != "owner":
                raise PermissionDenied("only the owner may change roles")
            if acting == user_uuid:
                return await self._keep_owner(conn, room_uuid, user_uuid, role)
            demoted = None
            if role == "owner":
                demoted = await self._queries.members.set_member_role(
                    conn,
                    room_id=room_uuid,
                    user_id=acting,
                    role="admin",
                    only_from_role="owner",
                    actor_id=acting,
                )
                if demoted is None:
                    raise PermissionDenied("only the owner may change roles")
            row = await self._queries.members.set_member_role(
                conn,
                room_id=room_uuid,
                user_id=user_uuid,
                role=role,
                only_from_role=None,
                actor_id=acting,
            )
            if row is None:  # raising here also rolls back a half-done transfer
                raise NotFound("member", "not a member of this room")
            # One member.role_changed per role that really changed (a transfer: two).
            await self._db.log_appended(appended_all([demoted, row]))
        return _member(row)

    async def list_members(
        self,
        room_id: uuid.UUID | str,
        *,
        user_id: uuid.UUID | str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[Member]:
        """A page of members, earliest joined first. NotFound when the room does not exist.

        With `user_id` (a client asking), only a member of the room may list its members
        (PermissionDenied); without it, the server itself is reading."""
        room_uuid = check.uuid_value("room_id", room_id)
        reader = None if user_id is None else check.uuid_value("user_id", user_id)
        page_limit = check.page_limit(limit)
        page_offset = check.offset(offset)
        async with self._db.connection() as conn:
            if reader is not None:
                _, role = await self._room_with_role(conn, room_uuid, reader)
                if role is None:
                    raise PermissionDenied(NOT_A_MEMBER)
            members = [
                _member(row)
                async for row in self._queries.members.list_members(
                    conn, room_id=room_uuid, limit=page_limit, offset=page_offset
                )
            ]
            # A room always has members unless its users were deleted: only an empty page
            # pays for telling "no such room" apart from "no more members".
            if not members and page_offset == 0:
                await self._room_with_role(conn, room_uuid, None)
        return members

    # ---- helpers ---------------------------------------------------------------------

    async def _room_with_role(
        self, conn: Connection, room_id: uuid.UUID, user_id: uuid.UUID | None
    ) -> tuple[Room, str | None]:
        """The room and the user's role in it (None: not a member); NotFound for no room."""
        row = await self._queries.rooms.get_room_with_role(conn, room_id=room_id, user_id=user_id)
        if row is None:
            raise NotFound("room", room_id)
        role: str | None = row["member_role"]
        return _room(row), role

    async def _role_of(
        self, conn: Connection, room_id: uuid.UUID, user_id: uuid.UUID
    ) -> str | None:
        row = await self._queries.members.get_member(conn, room_id=room_id, user_id=user_id)
        return None if row is None else str(row["role"])

    async def _insert_member(
        self,
        conn: Connection,
        room_id: uuid.UUID,
        user_id: uuid.UUID,
        role: Role,
        *,
        actor: uuid.UUID,
    ) -> Member:
        # Already a member -> AlreadyExists("user_id") and unknown user -> NotFound("user")
        # come from the constraints, translated by the connection block; either way the
        # statement appended nothing (the member.joined entry is part of it).
        row = await self._queries.members.add_member(
            conn, room_id=room_id, user_id=user_id, role=role, actor_id=actor
        )
        if row is None:  # the room was deleted after the permission check
            raise NotFound("room", room_id)
        await self._db.log_appended(appended_all([row]))
        return _member(row)

    async def _keep_owner(
        self, conn: Connection, room_id: uuid.UUID, owner_id: uuid.UUID, role: Role
    ) -> Member:
        """The owner 'changing' their own role: only a no-op is allowed."""
        if role != "owner":
            raise PermissionDenied(
                "the owner cannot demote themselves; transfer ownership to another member"
            )
        row = await self._queries.members.get_member(conn, room_id=room_id, user_id=owner_id)
        return _member(row)
