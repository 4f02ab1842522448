"""Membership of rooms: joining, adding, removing, roles, and the member list.

`RoomMemberships` holds the membership half of RoomRepository (which inherits it), and the
lookups both halves use. The permission rules are in the module docstring of
chatstore.repositories.rooms; the functions below enforce them. Every membership change
appends its change-log entry (member.joined / left / removed / role_changed) in the
statement that makes it, under the room row lock.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any, Final

from chatstore import validation as check
from chatstore.db import Connection
from chatstore.errors import AlreadyExists, NotFound, PermissionDenied, ValidationError
from chatstore.mapping import from_row, row_builder
from chatstore.models import Member, Role, Room
from chatstore.repositories.base import Repository
from chatstore.repositories.changelog import appended_all

Row = Mapping[str, Any]

ROLES: Final[tuple[Role, ...]] = ("owner", "admin", "member")
# A room has one owner: ownership moves with set_role(), never with add_member().
_ADDABLE_ROLES: Final[tuple[Role, ...]] = ("admin", "member")
_MANAGERS: Final[frozenset[str]] = frozenset({"owner", "admin"})

NOT_A_MEMBER = "not a member of this room"

# Rooms come by the dozen in a user's room list: fill their slots directly.
room_from_row = row_builder(Room)


def _member(row: Row) -> Member:
    return from_row(Member, row)


def refuse_direct(room: Room, rule: str) -> None:
    if room.kind == "direct":
        raise ValidationError("room_id", rule)


def require_manager(acting_role: str | None, action: str) -> None:
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
    require_manager(acting_role, "add members")
    if role == "admin" and acting_role != "owner":
        raise PermissionDenied("only the owner may add admins")


def _check_remove(acting_role: str | None, target_role: str | None) -> None:
    """Someone removing another member: the owner removes anyone, an admin plain members."""
    require_manager(acting_role, "remove members")
    if target_role is None:
        raise NotFound("member", "not a member of this room")
    if target_role == "owner":
        raise PermissionDenied("the owner cannot be removed")
    if acting_role != "owner" and target_role != "member":
        raise PermissionDenied("only the owner may remove an admin")


class RoomMemberships(Repository):
    """Members of rooms. Every method validates its input before touching the DB."""

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
            refuse_direct(room, "a direct room always has exactly its two users")
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
            refuse_direct(room, "a direct room always has exactly its two users")
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
        role = check.choice("role", role, ROLES)
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

    # ---- lookups both halves of RoomRepository use ------------------------------------

    async def _room_with_role(
        self, conn: Connection, room_id: uuid.UUID, user_id: uuid.UUID | None
    ) -> tuple[Room, str | None]:
        """The room and the user's role in it (None: not a member); NotFound for no room."""
        row = await self._queries.rooms.get_room_with_role(conn, room_id=room_id, user_id=user_id)
        if row is None:
            raise NotFound("room", room_id)
        role: str | None = row["member_role"]
        return room_from_row(row), role

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
