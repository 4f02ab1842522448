"""The public room directory (store.rooms.public_rooms): public rooms only, by name whatever
the case, keyset-paged without gaps or repeats, searched by a literal substring of the name
(`%`, `_` and `\\` match themselves), each with its exact member count (rooms.member_count,
kept by a trigger on room_users, backfilled by its migration) and its last activity.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from chatstore import (
    ChatStore,
    CreateMessage,
    PublicRoom,
    PublicRoomCursor,
    PublicRoomPage,
    ValidationError,
)
from tests.dbchecks import connect, conversations, probes, rows
from tests.servers import PROJECT, migrate
from tests.test_change_log import HASH, make_users
from tests.test_room_list import queries_sent

# The migration that adds rooms.member_count: it and every later one are rolled back to
# test its backfill.
MEMBER_COUNT_MIGRATION = "20261127110000"


async def every_page(
    store: ChatStore, *, search: str | None = None, limit: int = 50
) -> list[PublicRoomPage]:
    pages: list[PublicRoomPage] = []
    after: PublicRoomCursor | None = None
    while True:
        page = await store.rooms.public_rooms(search=search, after=after, limit=limit)
        pages.append(page)
        if page.next_cursor is None:
            return pages
        after = page.next_cursor


def names(pages: list[PublicRoomPage]) -> list[str | None]:
    return [entry.room.name for page in pages for entry in page.rooms]


async def stored_member_count(store: ChatStore, room_id: uuid.UUID) -> tuple[int, int]:
    """rooms.member_count, and the memberships counted from room_users."""
    async with connect(store.settings.database_url) as conn:
        row: Any = await conversations.member_counts(conn, room_id=room_id)
    return int(row["member_count"]), int(row["counted"])


# -- listing and paging ------------------------------------------------------------------


async def test_only_public_rooms_by_name_whatever_the_case(store: ChatStore) -> None:
    alice, bob = await make_users(store, 2)
    for name in ("banana", "Apple", "cherry", "apple pie", "APRICOT"):
        await store.rooms.create(name=name, kind="public", created_by=alice)
    await store.rooms.create(name="aaa secret", kind="private", created_by=alice)
    await store.rooms.get_or_create_direct(alice, bob)

    page = await store.rooms.public_rooms()
    assert names([page]) == ["Apple", "apple pie", "APRICOT", "banana", "cherry"]
    assert page.next_cursor is None
    assert {entry.room.kind for entry in page.rooms} == {"public"}
    # Anyone may list them: the directory asks for no user.
    assert all(isinstance(entry, PublicRoom) for entry in page.rooms)


async def test_keyset_pages_have_no_gaps_or_repeats(store: ChatStore) -> None:
    [alice] = await make_users(store, 1)
    created = []
    # Same names in different case, so ties are broken by id.
    for n in range(23):
        name = f"{'Room' if n % 2 else 'room'} {n % 7}"
        created.append(await store.rooms.create(name=name, kind="public", created_by=alice))
    expected = sorted(created, key=lambda room: ((room.name or "").lower(), room.id.bytes))

    pages = await every_page(store, limit=5)
    assert [len(page.rooms) for page in pages] == [5, 5, 5, 5, 3]
    assert [entry.room.id for page in pages for entry in page.rooms] == [r.id for r in expected]
    assert [page.next_cursor is None for page in pages] == [False] * 4 + [True]
    last = pages[0].rooms[-1].room
    assert pages[0].next_cursor == PublicRoomCursor((last.name or "").lower(), last.id)
    # A page that ends exactly at the last room says so.
    exact = await store.rooms.public_rooms(limit=23)
    assert (len(exact.rooms), exact.next_cursor) == (23, None)


async def test_rooms_added_between_pages_never_repeat_a_room(store: ChatStore) -> None:
    [alice] = await make_users(store, 1)
    for name in ("b", "d", "f", "h"):
        await store.rooms.create(name=name, kind="public", created_by=alice)
    first = await store.rooms.public_rooms(limit=2)
    assert names([first]) == ["b", "d"]
    # One before the cursor (not shown again later), one after it (shown on its page).
    await store.rooms.create(name="a", kind="public", created_by=alice)
    await store.rooms.create(name="e", kind="public", created_by=alice)
    second = await store.rooms.public_rooms(after=first.next_cursor, limit=10)
    assert names([second]) == ["e", "f", "h"]
    assert second.next_cursor is None


async def test_member_count_and_last_activity(store: ChatStore) -> None:
    alice, bob, carol = await make_users(store, 3)
    room = await store.rooms.create(name="general", kind="public", created_by=alice)
    [entry] = (await store.rooms.public_rooms()).rooms
    assert (entry.member_count, entry.last_activity_at) == (1, room.created_at)
    await store.rooms.add_member(room.id, bob)
    await store.rooms.add_member(room.id, carol)
    sent = await store.send_message(CreateMessage(room.id, bob, "hello"))
    [entry] = (await store.rooms.public_rooms()).rooms
    assert entry.member_count == 3
    assert entry.last_activity_at == entry.room.last_message_at
    assert entry.last_activity_at >= sent.created_at


async def test_member_counts_stay_exact_through_joins_leaves_and_deletions(
    store: ChatStore,
) -> None:
    alice, bob, carol, dave = await make_users(store, 4)
    room = await store.rooms.create(name="general", kind="public", created_by=alice)
    private = await store.rooms.create(name="staff", kind="private", created_by=alice)
    direct = await store.rooms.get_or_create_direct(alice, dave)
    for user in (bob, carol, dave):
        await store.rooms.add_member(room.id, user)
    await store.rooms.add_member(private.id, bob, acting_user_id=alice)

    async def public_count() -> int:
        [entry] = (await store.rooms.public_rooms()).rooms
        return entry.member_count

    assert await public_count() == 4
    assert await stored_member_count(store, private.id) == (2, 2)
    assert await stored_member_count(store, direct.id) == (2, 2)

    await store.rooms.remove_member(room.id, carol)  # leaving
    assert await public_count() == 3
    await store.rooms.remove_member(room.id, bob, acting_user_id=alice)  # removed
    assert await public_count() == 2
    await store.rooms.add_member(room.id, bob)  # back again
    assert await public_count() == 3

    # Deleting a user takes their memberships away (a cascade chatstore does not write).
    await store.users.delete(dave)
    assert await public_count() == 2
    assert await stored_member_count(store, direct.id) == (1, 1)
    await store.users.delete(bob)
    assert await public_count() == 1
    assert await stored_member_count(store, private.id) == (1, 1)


async def test_member_counts_see_writes_made_outside_chatstore(store: ChatStore) -> None:
    alice, bob = await make_users(store, 2)
    room = await store.rooms.create(name="general", kind="public", created_by=alice)
    async with connect(store.settings.database_url) as conn:
        await probes.insert_member(conn, room_id=room.id, user_id=bob, role="member")
    assert [e.member_count for e in (await store.rooms.public_rooms()).rooms] == [2]
    async with connect(store.settings.database_url) as conn:
        await conversations.delete_members(conn, room_id=room.id)
    assert [e.member_count for e in (await store.rooms.public_rooms()).rooms] == [0]


async def test_the_migration_backfills_member_counts(database_url: str) -> None:
    """Rooms and memberships made before rooms.member_count existed get their count when
    the migration adds it."""
    later = [
        path
        for path in (PROJECT / "db" / "migrations").glob("*.sql")
        if path.name >= MEMBER_COUNT_MIGRATION
    ]
    for _ in later:
        migrate(database_url, "rollback")
    async with connect(database_url) as conn:
        row: Any = await conversations.count_columns(
            conn, table_name="rooms", column_name="member_count"
        )
    assert row["n"] == 0, "rolled back too little: rooms.member_count is still there"
    owner, member = uuid.uuid4(), uuid.uuid4()
    busy, quiet = uuid.uuid4(), uuid.uuid4()
    async with connect(database_url) as conn:
        for user in (owner, member):
            await probes.insert_user(
                conn, id=user, email=f"{user}@example.com", username=user.hex, password_hash=HASH
            )
        for room in (busy, quiet):
            await probes.insert_room(
                conn,
                id=room,
                kind="public",
                name=f"room {room}",
                created_by=owner,
                direct_user_low=None,
                direct_user_high=None,
            )
        await probes.insert_member(conn, room_id=busy, user_id=owner, role="owner")
        await probes.insert_member(conn, room_id=busy, user_id=member, role="member")
    migrate(database_url, "up")
    async with connect(database_url) as conn:
        counts = {
            row["id"]: row["member_count"]
            for row in await rows(conversations.all_member_counts(conn))
        }
    assert counts == {busy: 2, quiet: 0}


# -- searching --------------------------------------------------------------------------


async def test_search_is_a_case_insensitive_substring(store: ChatStore) -> None:
    [alice] = await make_users(store, 1)
    for name in ("Rust lovers", "trusted friends", "Python", "RUSTY bikes"):
        await store.rooms.create(name=name, kind="public", created_by=alice)
    await store.rooms.create(name="rust insiders", kind="private", created_by=alice)
    page = await store.rooms.public_rooms(search="rUsT")
    assert names([page]) == ["Rust lovers", "RUSTY bikes", "trusted friends"]
    assert (await store.rooms.public_rooms(search="nothing like it")).rooms == ()


@pytest.mark.parametrize(
    ("term", "found"),
    [
        ("%", ["100% pure"]),
        ("0% p", ["100% pure"]),
        ("_", ["a_b"]),
        ("a_b", ["a_b"]),
        ("\\", ["back\\slash"]),
        ("k\\s", ["back\\slash"]),
        ("%%", []),
        ("a%b", []),
    ],
)
async def test_wildcards_in_the_term_match_themselves(
    store: ChatStore, term: str, found: list[str]
) -> None:
    [alice] = await make_users(store, 1)
    for name in ("100% pure", "100 percent", "a_b", "axb", "a-b", "back\\slash", "backslash"):
        await store.rooms.create(name=name, kind="public", created_by=alice)
    assert names([await store.rooms.public_rooms(search=term)]) == found


async def test_search_results_page_without_gaps_or_repeats(store: ChatStore) -> None:
    [alice] = await make_users(store, 1)
    for n in range(12):
        await store.rooms.create(name=f"team {n:02d}", kind="public", created_by=alice)
        await store.rooms.create(name=f"other {n:02d}", kind="public", created_by=alice)
    pages = await every_page(store, search="TEAM", limit=5)
    assert names(pages) == [f"team {n:02d}" for n in range(12)]
    assert [len(page.rooms) for page in pages] == [5, 5, 2]


async def test_each_page_is_one_query(store: ChatStore, monkeypatch: pytest.MonkeyPatch) -> None:
    [alice] = await make_users(store, 1)
    for n in range(3):
        await store.rooms.create(name=f"room {n}", kind="public", created_by=alice)
    for search in (None, "room"):
        with queries_sent(monkeypatch) as sent:
            page = await store.rooms.public_rooms(search=search, limit=2)
        assert len(sent) == 1, sent
        with queries_sent(monkeypatch) as sent:
            await store.rooms.public_rooms(search=search, after=page.next_cursor, limit=2)
        assert len(sent) == 1, sent


# -- validation -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "kwargs"),
    [
        ("search", {"search": ""}),
        ("search", {"search": "   "}),
        ("search", {"search": "x" * 101}),
        ("search", {"search": "a\x00b"}),
        ("search", {"search": "\ud800"}),
        ("search", {"search": 42}),
        ("search", {"search": b"room"}),
        ("limit", {"limit": 0}),
        ("limit", {"limit": 201}),
        ("limit", {"limit": "5"}),
        ("after", {"after": "room 1"}),
        ("after", {"after": PublicRoomCursor("room", "not-a-uuid")}),  # type: ignore[arg-type]
        ("after", {"after": PublicRoomCursor(None, uuid.uuid4())}),  # type: ignore[arg-type]
        ("after", {"after": PublicRoomCursor("a\x00", uuid.uuid4())}),
    ],
)
async def test_bad_input_is_a_validation_error_naming_the_field(
    store: ChatStore, monkeypatch: pytest.MonkeyPatch, field: str, kwargs: dict[str, Any]
) -> None:
    with queries_sent(monkeypatch) as sent, pytest.raises(ValidationError) as raised:
        await store.rooms.public_rooms(**kwargs)
    assert raised.value.field == field
    assert sent == []  # refused before anything reached PostgreSQL


async def test_the_longest_search_term_is_accepted(store: ChatStore) -> None:
    [alice] = await make_users(store, 1)
    name = "n" * 100
    await store.rooms.create(name=name, kind="public", created_by=alice)
    assert names([await store.rooms.public_rooms(search=name.upper())]) == [name]
