"""RoomRepository: rooms, membership, roles, direct rooms and a user's room list.

Users are inserted with the schema tests' `insert_user` probe (there is no user repository
yet); everything else goes through the library.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from typing import Any

import bcrypt
import pytest

from chatstore import (
    AlreadyExists,
    ChatStore,
    NotFound,
    PermissionDenied,
    Room,
    ValidationError,
)
from chatstore.models import RoomKind
from tests.dbchecks import connect, probes, rows
from tests.test_seed_and_demo import load_seed

HASH = bcrypt.hashpw(b"correct horse battery staple", bcrypt.gensalt(10)).decode()
MISSING = uuid.UUID("00000000-0000-4000-8000-00000000dead")

# Fixed ids from db/seeds/development.sql.
ALICE = uuid.UUID("00000000-0000-4000-8000-00000000a11c")
BOB = uuid.UUID("00000000-0000-4000-8000-000000000b0b")
DAVE = uuid.UUID("00000000-0000-4000-8000-0000000da7e0")
ERIN = uuid.UUID("00000000-0000-4000-8000-0000000e2140")
GENERAL = uuid.UUID("00000000-0000-4000-9000-000000000001")
RANDOM = uuid.UUID("00000000-0000-4000-9000-000000000002")
SECRET_PLANS = uuid.UUID("00000000-0000-4000-9000-000000000003")
ALICE_BOB = uuid.UUID("00000000-0000-4000-9000-000000000004")


@dataclass(frozen=True)
class Cast:
    """Five users; `staffed_room` gives the first three their roles in a room."""

    owner: uuid.UUID
    admin: uuid.UUID
    member: uuid.UUID
    outsider: uuid.UUID
    newcomer: uuid.UUID


async def insert_users(
    database_url: str, *names: str, ids: list[uuid.UUID] | None = None
) -> list[uuid.UUID]:
    chosen = ids or [uuid.uuid4() for _ in names]
    async with connect(database_url) as conn:
        for name, user_id in zip(names, chosen, strict=True):
            await probes.insert_user(
                conn, id=user_id, email=f"{name}@example.com", username=name, password_hash=HASH
            )
    return chosen


@pytest.fixture
async def cast(database_url: str) -> Cast:
    return Cast(
        *await insert_users(database_url, "owner", "admin", "member", "outsider", "newcomer")
    )


@pytest.fixture
def seeded(database_url: str) -> None:
    """The development seed: rooms with 300 messages, some soft-deleted, read markers at 3/4."""
    load_seed(database_url)


async def staffed_room(store: ChatStore, cast: Cast, kind: RoomKind = "public") -> Room:
    room = await store.rooms.create(name="general", kind=kind, created_by=cast.owner)
    await store.rooms.add_member(room.id, cast.admin, role="admin", acting_user_id=cast.owner)
    await store.rooms.add_member(room.id, cast.member, acting_user_id=cast.owner)
    return room


async def counts(store: ChatStore) -> dict[str, Any]:
    async with store.db.connection() as conn:
        row: dict[str, Any] = await store.db.queries.summary.database_summary(conn)
    return row


async def roles(store: ChatStore, room_id: uuid.UUID) -> dict[uuid.UUID, str]:
    return {m.user_id: m.role for m in await store.rooms.list_members(room_id)}


# ---- create / get ------------------------------------------------------------------------


async def test_create_makes_the_creator_owner(store: ChatStore, cast: Cast) -> None:
    room = await store.rooms.create(
        name="general", kind="public", created_by=str(cast.owner), description="all things"
    )
    assert (room.kind, room.name, room.description) == ("public", "general", "all things")
    assert room.created_by == cast.owner
    assert room.last_seq == 0
    assert room.last_message_at is None
    assert await store.rooms.get(room.id) == room
    assert await store.rooms.get(str(room.id)) == room
    [owner] = await store.rooms.list_members(room.id)
    assert (owner.user_id, owner.role, owner.last_read_seq) == (cast.owner, "owner", 0)


async def test_create_private_room_without_description(store: ChatStore, cast: Cast) -> None:
    room = await store.rooms.create(name="plans", kind="private", created_by=cast.owner)
    assert (room.kind, room.description) == ("private", None)
    assert await roles(store, room.id) == {cast.owner: "owner"}


async def test_create_accepts_the_longest_name_and_description(
    store: ChatStore, cast: Cast
) -> None:
    room = await store.rooms.create(
        name="n" * 100, kind="public", created_by=cast.owner, description="d" * 1000
    )
    assert (len(room.name or ""), len(room.description or "")) == (100, 1000)


async def test_create_with_unknown_creator_leaves_nothing(store: ChatStore, cast: Cast) -> None:
    before = await counts(store)
    with pytest.raises(NotFound) as caught:
        await store.rooms.create(name="ghost town", kind="public", created_by=MISSING)
    assert caught.value.what == "user"
    assert await counts(store) == before


async def test_create_rolls_back_with_the_callers_transaction(store: ChatStore, cast: Cast) -> None:
    async def create_then_fail() -> None:
        async with store.transaction():
            await store.rooms.create(name="doomed", kind="public", created_by=cast.owner)
            raise RuntimeError("the caller's next step failed")

    with pytest.raises(RuntimeError):
        await create_then_fail()
    after = await counts(store)
    assert (after["rooms_count"], after["memberships_count"]) == (0, 0)


BAD_CREATE_INPUT: list[tuple[dict[str, Any], str]] = [
    ({"name": ""}, "name"),
    ({"name": "   "}, "name"),
    ({"name": "n" * 101}, "name"),
    ({"name": "a\x00b"}, "name"),
    ({"name": None}, "name"),
    ({"name": 42}, "name"),
    ({"kind": "direct"}, "kind"),
    ({"kind": "secret"}, "kind"),
    ({"kind": "PUBLIC"}, "kind"),
    ({"kind": ""}, "kind"),
    ({"description": "d" * 1001}, "description"),
    ({"description": "\x00"}, "description"),
    ({"description": ""}, "description"),
    ({"created_by": "not-a-uuid"}, "created_by"),
    ({"created_by": ""}, "created_by"),
    ({"created_by": "1' OR '1'='1"}, "created_by"),
    ({"created_by": 42}, "created_by"),
]


@pytest.mark.parametrize(("override", "field"), BAD_CREATE_INPUT)
async def test_create_rejects_bad_input_and_writes_nothing(
    store: ChatStore, cast: Cast, override: dict[str, Any], field: str
) -> None:
    arguments: dict[str, Any] = {"name": "general", "kind": "public", "created_by": cast.owner}
    before = await counts(store)
    with pytest.raises(ValidationError) as caught:
        await store.rooms.create(**(arguments | override))
    assert caught.value.field == field
    assert await counts(store) == before


@pytest.mark.parametrize(
    "name",
    [
        "'; DROP TABLE rooms; --",
        "Robert'); DELETE FROM users WHERE ('1' = '1",
        "%s %(name)s {name} $1 :name",
        'back\\slash "quoted"',
        "emoji 💬 and ünïcödé",
    ],
)
async def test_hostile_names_are_stored_verbatim_and_harmless(
    store: ChatStore, cast: Cast, name: str
) -> None:
    room = await store.rooms.create(name=name, kind="public", created_by=cast.owner)
    assert (await store.rooms.get(room.id)).name == name
    after = await counts(store)
    assert (after["users_count"], after["rooms_count"]) == (5, 1)


async def test_get_unknown_and_malformed_ids(store: ChatStore) -> None:
    with pytest.raises(NotFound):
        await store.rooms.get(MISSING)
    with pytest.raises(ValidationError) as caught:
        await store.rooms.get("42")
    assert caught.value.field == "room_id"


# ---- update / delete -----------------------------------------------------------------------


async def test_owner_renames_and_admin_redescribes(store: ChatStore, cast: Cast) -> None:
    room = await staffed_room(store, cast)
    renamed = await store.rooms.update(room.id, acting_user_id=cast.owner, name="lobby")
    assert (renamed.name, renamed.description) == ("lobby", None)
    assert renamed.updated_at > room.updated_at
    described = await store.rooms.update(room.id, acting_user_id=cast.admin, description="say hi")
    assert (described.name, described.description) == ("lobby", "say hi")
    cleared = await store.rooms.update(room.id, acting_user_id=cast.admin, description=None)
    assert (cleared.name, cleared.description) == ("lobby", None)
    assert await store.rooms.get(room.id) == cleared


async def test_update_with_nothing_to_change_returns_the_room(store: ChatStore, cast: Cast) -> None:
    room = await staffed_room(store, cast)
    assert await store.rooms.update(room.id, acting_user_id=cast.owner) == room
    with pytest.raises(PermissionDenied):
        await store.rooms.update(room.id, acting_user_id=cast.member)


@pytest.mark.parametrize("who", ["member", "outsider"])
async def test_update_needs_owner_or_admin(store: ChatStore, cast: Cast, who: str) -> None:
    room = await staffed_room(store, cast)
    with pytest.raises(PermissionDenied):
        await store.rooms.update(room.id, acting_user_id=getattr(cast, who), name="mine now")
    assert await store.rooms.get(room.id) == room


async def test_update_errors(store: ChatStore, cast: Cast) -> None:
    room = await staffed_room(store, cast)
    with pytest.raises(NotFound):
        await store.rooms.update(MISSING, acting_user_id=cast.owner, name="x")
    for bad_name in ["", "n" * 101, "a\x00b"]:
        with pytest.raises(ValidationError) as caught:
            await store.rooms.update(room.id, acting_user_id=cast.owner, name=bad_name)
        assert caught.value.field == "name"
    bad: Any = None  # a room keeps a name: None is not "clear" here
    with pytest.raises(ValidationError):
        await store.rooms.update(room.id, acting_user_id=cast.owner, name=bad)
    with pytest.raises(ValidationError) as caught:
        await store.rooms.update(room.id, acting_user_id="nobody", name="x")
    assert caught.value.field == "acting_user_id"
    assert await store.rooms.get(room.id) == room


async def test_direct_rooms_cannot_be_renamed(store: ChatStore, cast: Cast) -> None:
    direct = await store.rooms.get_or_create_direct(cast.owner, cast.member)
    with pytest.raises(ValidationError) as caught:
        await store.rooms.update(direct.id, acting_user_id=cast.owner, name="us")
    assert caught.value.field == "room_id"
    with pytest.raises(PermissionDenied):
        await store.rooms.update(direct.id, acting_user_id=cast.outsider, name="us")
    assert (await store.rooms.get(direct.id)).name is None


async def test_owner_deletes_a_room_with_its_memberships(store: ChatStore, cast: Cast) -> None:
    room = await staffed_room(store, cast)
    await store.rooms.delete(str(room.id), acting_user_id=str(cast.owner))
    with pytest.raises(NotFound):
        await store.rooms.get(room.id)
    after = await counts(store)
    assert (after["rooms_count"], after["memberships_count"]) == (0, 0)
    with pytest.raises(NotFound):
        await store.rooms.delete(room.id, acting_user_id=cast.owner)


@pytest.mark.parametrize("who", ["admin", "member", "outsider"])
async def test_only_the_owner_deletes(store: ChatStore, cast: Cast, who: str) -> None:
    room = await staffed_room(store, cast)
    with pytest.raises(PermissionDenied):
        await store.rooms.delete(room.id, acting_user_id=getattr(cast, who))
    assert await store.rooms.get(room.id) == room


async def test_nobody_deletes_a_direct_room(store: ChatStore, cast: Cast) -> None:
    direct = await store.rooms.get_or_create_direct(cast.owner, cast.member)
    with pytest.raises(PermissionDenied):
        await store.rooms.delete(direct.id, acting_user_id=cast.owner)
    assert await store.rooms.get(direct.id) == direct


# ---- rooms_of_user ---------------------------------------------------------------------------


async def test_rooms_of_user_newest_first_with_roles(store: ChatStore, cast: Cast) -> None:
    first = await staffed_room(store, cast)
    second = await store.rooms.create(name="second", kind="private", created_by=cast.admin)
    third = await store.rooms.create(name="third", kind="public", created_by=cast.owner)
    direct = await store.rooms.get_or_create_direct(cast.admin, cast.outsider)

    listed = await store.rooms.rooms_of_user(cast.admin)
    assert [(e.room.id, e.role) for e in listed] == [
        (direct.id, "member"),
        (second.id, "owner"),
        (first.id, "admin"),
    ]
    assert all((e.unread_count, e.last_read_seq) == (0, 0) for e in listed)
    assert listed[1].room == second
    assert [e.room.id for e in await store.rooms.rooms_of_user(cast.owner)] == [third.id, first.id]
    assert await store.rooms.rooms_of_user(cast.newcomer) == []
    assert await store.rooms.rooms_of_user(MISSING) == []
    with pytest.raises(ValidationError):
        await store.rooms.rooms_of_user("alice")


async def test_rooms_of_user_counts_unread_exactly_on_seeded_history(
    store: ChatStore, seeded: None
) -> None:
    # Seeded markers sit at 3/4 of each room; every 23rd message is soft-deleted:
    # general 120 - 90 - 2 (92, 115) = 28; random 80 - 60 - 1 (69) = 19; alice<->bob 40 - 30 = 10.
    newest = await store.rooms.create(name="quiet", kind="public", created_by=ALICE)
    listed = await store.rooms.rooms_of_user(ALICE)
    assert [(e.room.id, e.last_read_seq, e.unread_count) for e in listed] == [
        (GENERAL, 90, 28),
        (RANDOM, 60, 19),
        (ALICE_BOB, 30, 10),
        (newest.id, 0, 0),  # no messages: after every room with activity, though newest
    ]
    assert [e.role for e in listed] == ["owner", "member", "member", "owner"]


async def test_rooms_of_user_agrees_with_members_unread_counts(
    store: ChatStore, seeded: None
) -> None:
    for user in [ALICE, BOB, DAVE, ERIN]:
        async with store.db.connection() as conn:
            expected = {
                row["room_id"]: row["unread_count"]
                for row in await rows(store.db.queries.members.unread_counts(conn, user_id=user))
            }
        listed = await store.rooms.rooms_of_user(user)
        assert {e.room.id: e.unread_count for e in listed} == expected
        assert all(e.unread_count > 0 for e in listed)


# ---- add_member ------------------------------------------------------------------------------


async def test_anyone_joins_a_public_room_as_member(store: ChatStore, cast: Cast) -> None:
    room = await staffed_room(store, cast)
    joined = await store.rooms.add_member(room.id, cast.outsider)
    assert (joined.room_id, joined.user_id, joined.role) == (room.id, cast.outsider, "member")
    assert (joined.last_read_seq, joined.last_read_at) == (0, None)
    again = await store.rooms.add_member(room.id, cast.newcomer, acting_user_id=cast.newcomer)
    assert again.role == "member"
    assert await store.rooms.require_member(room.id, cast.newcomer) == again


async def test_joining_starts_the_read_marker_at_the_newest_message(
    store: ChatStore, seeded: None
) -> None:
    joined = await store.rooms.add_member(RANDOM, DAVE)
    assert joined.last_read_seq == (await store.rooms.get(RANDOM)).last_seq == 80
    invited = await store.rooms.add_member(SECRET_PLANS, ERIN, acting_user_id=BOB)
    assert invited.last_read_seq == 40
    unread = {e.room.id: e.unread_count for e in await store.rooms.rooms_of_user(DAVE)}
    assert unread[RANDOM] == 0


async def test_joining_needs_a_public_room_and_the_member_role(
    store: ChatStore, cast: Cast
) -> None:
    private = await staffed_room(store, cast, kind="private")
    with pytest.raises(PermissionDenied):
        await store.rooms.add_member(private.id, cast.outsider)
    public = await staffed_room(store, cast)
    with pytest.raises(PermissionDenied):
        await store.rooms.add_member(public.id, cast.outsider, role="admin")
    assert cast.outsider not in await roles(store, private.id)
    assert cast.outsider not in await roles(store, public.id)


@pytest.mark.parametrize("kind", ["public", "private"])
async def test_owner_and_admin_add_members(store: ChatStore, cast: Cast, kind: RoomKind) -> None:
    room = await staffed_room(store, cast, kind=kind)
    await store.rooms.add_member(room.id, cast.outsider, acting_user_id=cast.admin)
    await store.rooms.add_member(room.id, cast.newcomer, role="admin", acting_user_id=cast.owner)
    assert await roles(store, room.id) == {
        cast.owner: "owner",
        cast.admin: "admin",
        cast.member: "member",
        cast.outsider: "member",
        cast.newcomer: "admin",
    }


@pytest.mark.parametrize(
    ("who", "role"),
    [("admin", "admin"), ("member", "member"), ("outsider", "member"), ("newcomer", "member")],
)
async def test_adding_others_needs_the_right_role(
    store: ChatStore, cast: Cast, who: str, role: Any
) -> None:
    room = await staffed_room(store, cast)
    target = cast.outsider if who == "newcomer" else cast.newcomer
    with pytest.raises(PermissionDenied):
        await store.rooms.add_member(room.id, target, role=role, acting_user_id=getattr(cast, who))
    assert target not in await roles(store, room.id)


async def test_adding_an_existing_member_names_the_field(store: ChatStore, cast: Cast) -> None:
    room = await staffed_room(store, cast)
    with pytest.raises(AlreadyExists) as caught:
        await store.rooms.add_member(room.id, cast.member, acting_user_id=cast.owner)
    assert caught.value.field == "user_id"
    with pytest.raises(AlreadyExists) as caught:
        await store.rooms.add_member(room.id, cast.admin)
    assert caught.value.field == "user_id"
    assert (await store.rooms.require_member(room.id, cast.admin)).role == "admin"


async def test_add_member_to_unknown_room_or_of_unknown_user(store: ChatStore, cast: Cast) -> None:
    room = await staffed_room(store, cast)
    with pytest.raises(NotFound) as caught:
        await store.rooms.add_member(MISSING, cast.outsider)
    assert caught.value.what == "room"
    with pytest.raises(NotFound) as caught:
        await store.rooms.add_member(room.id, MISSING, acting_user_id=cast.owner)
    assert caught.value.what == "user"
    assert len(await store.rooms.list_members(room.id)) == 3


async def test_nobody_adds_to_a_direct_room(store: ChatStore, cast: Cast) -> None:
    direct = await store.rooms.get_or_create_direct(cast.owner, cast.member)
    for acting in [None, cast.owner]:
        with pytest.raises(ValidationError) as caught:
            await store.rooms.add_member(direct.id, cast.outsider, acting_user_id=acting)
        assert caught.value.field == "room_id"
    assert len(await store.rooms.list_members(direct.id)) == 2


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ({"room_id": "room-1"}, "room_id"),
        ({"user_id": "'; DELETE FROM room_users; --"}, "user_id"),
        ({"user_id": None}, "user_id"),
        ({"acting_user_id": "0"}, "acting_user_id"),
        ({"role": "owner"}, "role"),
        ({"role": "superuser"}, "role"),
        ({"role": "Admin"}, "role"),
    ],
)
async def test_add_member_rejects_bad_input_and_writes_nothing(
    store: ChatStore, cast: Cast, override: dict[str, Any], field: str
) -> None:
    room = await staffed_room(store, cast)
    arguments: dict[str, Any] = {
        "room_id": room.id,
        "user_id": cast.outsider,
        "acting_user_id": cast.owner,
    }
    arguments |= override
    before = await counts(store)
    with pytest.raises(ValidationError) as caught:
        await store.rooms.add_member(
            arguments.pop("room_id"), arguments.pop("user_id"), **arguments
        )
    assert caught.value.field == field
    assert await counts(store) == before


# ---- remove_member ---------------------------------------------------------------------------


async def test_a_member_leaves(store: ChatStore, cast: Cast) -> None:
    room = await staffed_room(store, cast)
    await store.rooms.remove_member(room.id, cast.member)
    await store.rooms.remove_member(room.id, cast.admin, acting_user_id=cast.admin)
    assert await roles(store, room.id) == {cast.owner: "owner"}
    with pytest.raises(PermissionDenied):
        await store.rooms.require_member(room.id, cast.member)


async def test_owner_removes_anyone_and_admin_removes_members(store: ChatStore, cast: Cast) -> None:
    room = await staffed_room(store, cast)
    await store.rooms.add_member(room.id, cast.outsider, acting_user_id=cast.owner)
    await store.rooms.remove_member(room.id, cast.member, acting_user_id=cast.admin)
    await store.rooms.remove_member(room.id, cast.admin, acting_user_id=cast.owner)
    assert await roles(store, room.id) == {cast.owner: "owner", cast.outsider: "member"}


@pytest.mark.parametrize(
    ("who", "target"),
    [
        ("admin", "owner"),  # admins cannot remove the owner
        ("admin", "newcomer"),  # nor another admin (see below: newcomer is made admin)
        ("member", "outsider"),
        ("outsider", "member"),
    ],
)
async def test_removing_others_needs_the_right_role(
    store: ChatStore, cast: Cast, who: str, target: str
) -> None:
    room = await staffed_room(store, cast)
    await store.rooms.add_member(room.id, cast.newcomer, role="admin", acting_user_id=cast.owner)
    if target == "outsider":
        await store.rooms.add_member(room.id, cast.outsider)
    before = await roles(store, room.id)
    with pytest.raises(PermissionDenied):
        await store.rooms.remove_member(
            room.id, getattr(cast, target), acting_user_id=getattr(cast, who)
        )
    assert await roles(store, room.id) == before


async def test_the_owner_cannot_leave(store: ChatStore, cast: Cast) -> None:
    room = await staffed_room(store, cast)
    with pytest.raises(PermissionDenied):
        await store.rooms.remove_member(room.id, cast.owner)
    assert (await store.rooms.require_member(room.id, cast.owner)).role == "owner"


async def test_removing_a_non_member(store: ChatStore, cast: Cast) -> None:
    room = await staffed_room(store, cast)
    with pytest.raises(NotFound):
        await store.rooms.remove_member(room.id, cast.outsider)
    with pytest.raises(NotFound):
        await store.rooms.remove_member(room.id, cast.outsider, acting_user_id=cast.owner)
    with pytest.raises(NotFound) as caught:
        await store.rooms.remove_member(MISSING, cast.member)
    assert caught.value.what == "room"
    with pytest.raises(ValidationError) as bad:
        await store.rooms.remove_member(room.id, "x", acting_user_id=cast.owner)
    assert bad.value.field == "user_id"
    assert len(await store.rooms.list_members(room.id)) == 3


async def test_nobody_leaves_a_direct_room(store: ChatStore, cast: Cast) -> None:
    direct = await store.rooms.get_or_create_direct(cast.owner, cast.member)
    with pytest.raises(ValidationError) as caught:
        await store.rooms.remove_member(direct.id, cast.member)
    assert caught.value.field == "room_id"
    assert len(await store.rooms.list_members(direct.id)) == 2


# ---- set_role --------------------------------------------------------------------------------


async def test_owner_promotes_and_demotes(store: ChatStore, cast: Cast) -> None:
    room = await staffed_room(store, cast)
    promoted = await store.rooms.set_role(room.id, cast.member, "admin", acting_user_id=cast.owner)
    assert (promoted.user_id, promoted.role) == (cast.member, "admin")
    await store.rooms.set_role(room.id, cast.admin, "member", acting_user_id=cast.owner)
    assert await roles(store, room.id) == {
        cast.owner: "owner",
        cast.admin: "member",
        cast.member: "admin",
    }


@pytest.mark.parametrize(
    ("who", "role"),
    [("admin", "admin"), ("admin", "member"), ("member", "admin"), ("outsider", "admin")],
)
async def test_only_the_owner_changes_roles(
    store: ChatStore, cast: Cast, who: str, role: Any
) -> None:
    room = await staffed_room(store, cast)
    target = cast.member if who != "member" else cast.admin
    before = await roles(store, room.id)
    with pytest.raises(PermissionDenied):
        await store.rooms.set_role(room.id, target, role, acting_user_id=getattr(cast, who))
    assert await roles(store, room.id) == before


async def test_set_role_errors(store: ChatStore, cast: Cast) -> None:
    room = await staffed_room(store, cast)
    before = await roles(store, room.id)
    with pytest.raises(NotFound):
        await store.rooms.set_role(room.id, cast.outsider, "admin", acting_user_id=cast.owner)
    with pytest.raises(NotFound):
        await store.rooms.set_role(MISSING, cast.member, "admin", acting_user_id=cast.owner)
    bad_roles: list[Any] = ["superuser", "", "OWNER", None]
    for bad_role in bad_roles:
        with pytest.raises(ValidationError) as caught:
            await store.rooms.set_role(room.id, cast.member, bad_role, acting_user_id=cast.owner)
        assert caught.value.field == "role"
    with pytest.raises(PermissionDenied):  # would leave the room without an owner
        await store.rooms.set_role(room.id, cast.owner, "admin", acting_user_id=cast.owner)
    unchanged = await store.rooms.set_role(room.id, cast.owner, "owner", acting_user_id=cast.owner)
    assert unchanged.role == "owner"
    assert await roles(store, room.id) == before


async def test_ownership_transfer(store: ChatStore, cast: Cast) -> None:
    room = await staffed_room(store, cast)
    new_owner = await store.rooms.set_role(room.id, cast.member, "owner", acting_user_id=cast.owner)
    assert new_owner.role == "owner"
    assert await roles(store, room.id) == {
        cast.owner: "admin",
        cast.admin: "admin",
        cast.member: "owner",
    }
    await store.rooms.remove_member(room.id, cast.owner)  # the old owner may leave now
    await store.rooms.delete(room.id, acting_user_id=cast.member)


async def test_transfer_to_a_non_member_changes_nothing(store: ChatStore, cast: Cast) -> None:
    room = await staffed_room(store, cast)
    before = await roles(store, room.id)
    with pytest.raises(NotFound):
        await store.rooms.set_role(room.id, cast.outsider, "owner", acting_user_id=cast.owner)
    assert await roles(store, room.id) == before


async def test_concurrent_transfers_leave_one_owner(store: ChatStore, cast: Cast) -> None:
    room = await staffed_room(store, cast)
    results = await asyncio.gather(
        store.rooms.set_role(room.id, cast.admin, "owner", acting_user_id=cast.owner),
        store.rooms.set_role(room.id, cast.member, "owner", acting_user_id=cast.owner),
        return_exceptions=True,
    )
    assert sorted(type(r).__name__ for r in results) == ["Member", "PermissionDenied"]
    owners = [user for user, role in (await roles(store, room.id)).items() if role == "owner"]
    assert len(owners) == 1
    assert owners[0] in {cast.admin, cast.member}


# ---- list_members / require_member ------------------------------------------------------------


async def test_list_members_pages_in_join_order(store: ChatStore, cast: Cast) -> None:
    room = await staffed_room(store, cast)
    await store.rooms.add_member(room.id, cast.outsider)
    await store.rooms.add_member(room.id, cast.newcomer)
    everyone = await store.rooms.list_members(room.id)
    assert [m.user_id for m in everyone] == [
        cast.owner,
        cast.admin,
        cast.member,
        cast.outsider,
        cast.newcomer,
    ]
    assert [m.joined_at for m in everyone] == sorted(m.joined_at for m in everyone)
    pages = [await store.rooms.list_members(room.id, limit=2, offset=o) for o in (0, 2, 4, 6)]
    assert [len(page) for page in pages] == [2, 2, 1, 0]
    assert [m for page in pages for m in page] == everyone


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 201}, "limit"),
        ({"limit": True}, "limit"),
        ({"limit": "10"}, "limit"),
        ({"offset": -1}, "offset"),
        ({"offset": 1.5}, "offset"),
    ],
)
async def test_list_members_rejects_bad_paging(
    store: ChatStore, cast: Cast, arguments: dict[str, Any], field: str
) -> None:
    room = await staffed_room(store, cast)
    with pytest.raises(ValidationError) as caught:
        await store.rooms.list_members(room.id, **arguments)
    assert caught.value.field == field


async def test_list_members_of_unknown_room(store: ChatStore) -> None:
    with pytest.raises(NotFound):
        await store.rooms.list_members(MISSING)


async def test_require_member(store: ChatStore, cast: Cast) -> None:
    room = await staffed_room(store, cast)
    member = await store.rooms.require_member(str(room.id), str(cast.admin))
    assert (member.room_id, member.user_id, member.role) == (room.id, cast.admin, "admin")
    for room_id, user_id in [(room.id, cast.outsider), (MISSING, cast.owner)]:
        with pytest.raises(PermissionDenied, match="not a member of this room"):
            await store.rooms.require_member(room_id, user_id)
    with pytest.raises(ValidationError) as caught:
        await store.rooms.require_member(room.id, "me")
    assert caught.value.field == "user_id"


# ---- direct rooms ------------------------------------------------------------------------------


async def test_direct_room_is_one_per_pair_in_either_order(store: ChatStore, cast: Cast) -> None:
    room = await store.rooms.get_or_create_direct(cast.owner, cast.member)
    assert (room.kind, room.name, room.description) == ("direct", None, None)
    assert room.created_by == cast.owner
    assert await store.rooms.get_or_create_direct(cast.owner, cast.member) == room
    assert await store.rooms.get_or_create_direct(str(cast.member), str(cast.owner)) == room
    assert await roles(store, room.id) == {cast.owner: "member", cast.member: "member"}
    other = await store.rooms.get_or_create_direct(cast.owner, cast.admin)
    assert other.id != room.id
    for user in [cast.owner, cast.member]:
        assert room.id in {e.room.id for e in await store.rooms.rooms_of_user(user)}


async def test_direct_room_of_the_seed_is_found(store: ChatStore, seeded: None) -> None:
    room = await store.rooms.get_or_create_direct(ALICE, BOB)
    assert (room.id, room.last_seq) == (ALICE_BOB, 40)
    assert (await store.rooms.get_or_create_direct(BOB, ALICE)).id == ALICE_BOB


@pytest.mark.parametrize(
    ("first", "second"),
    [
        # The leading byte decides, whatever the rest says.
        ("ffffffff-0000-4000-8000-000000000000", "00000000-ffff-4fff-bfff-ffffffffffff"),
        # An unsigned comparison: 0x80 sorts after 0x7f.
        ("80000000-0000-4000-8000-000000000000", "7fffffff-ffff-4fff-bfff-ffffffffffff"),
        # Big-endian over all 16 bytes, not the little-endian fields of bytes_le.
        ("01000000-0000-4000-8000-000000000000", "00000002-0000-4000-8000-000000000000"),
        # Only the last byte differs.
        ("12345678-9abc-4def-8123-456789abcdef", "12345678-9abc-4def-8123-456789abcdee"),
    ],
)
async def test_direct_pair_order_matches_postgresql(
    store: ChatStore, database_url: str, first: str, second: str
) -> None:
    high, low = uuid.UUID(first), uuid.UUID(second)
    assert low < high
    await insert_users(database_url, "high", "low", ids=[high, low])
    # The table's CHECK (direct_user_low < direct_user_high) is PostgreSQL's own ordering.
    room = await store.rooms.get_or_create_direct(high, low)
    assert await store.rooms.get_or_create_direct(low, high) == room
    async with connect(database_url) as conn:
        stored = await probes.get_room(conn, id=room.id)
    assert (stored["direct_user_low"], stored["direct_user_high"]) == (low, high)


async def test_concurrent_first_calls_make_one_direct_room(store: ChatStore, cast: Cast) -> None:
    pairs = [(cast.owner, cast.member) if i % 2 else (cast.member, cast.owner) for i in range(20)]
    rooms = await asyncio.gather(*(store.rooms.get_or_create_direct(a, b) for a, b in pairs))
    assert len({room.id for room in rooms}) == 1
    after = await counts(store)
    assert (after["rooms_count"], after["memberships_count"]) == (1, 2)
    assert await roles(store, rooms[0].id) == {cast.owner: "member", cast.member: "member"}


async def test_direct_room_input_errors_write_nothing(store: ChatStore, cast: Cast) -> None:
    before = await counts(store)
    cases: list[tuple[Any, Any, str]] = [
        (cast.owner, cast.owner, "user_b"),
        (cast.owner, str(cast.owner).upper(), "user_b"),
        ("owner", cast.member, "user_a"),
        (cast.owner, "", "user_b"),
        (cast.owner, None, "user_b"),
    ]
    for user_a, user_b, field in cases:
        with pytest.raises(ValidationError) as caught:
            await store.rooms.get_or_create_direct(user_a, user_b)
        assert caught.value.field == field
    for user_a, user_b in [(cast.owner, MISSING), (MISSING, cast.owner)]:
        with pytest.raises(NotFound) as missing:
            await store.rooms.get_or_create_direct(user_a, user_b)
        assert missing.value.what == "user"
    assert await counts(store) == before
