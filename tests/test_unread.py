"""Unread counts, as `store.unread_counts` gives them: exact, straight from PostgreSQL.

Each count is checked two ways: against the numbers a reader of the scenario expects, and
against a recount from the room's messages as a member reads them (every message after the
member's read marker that is not deleted). Some writes go around chatstore, as an
application's own SQL or a DBA might make them: the counts must see those too.
"""

from __future__ import annotations

import uuid

import pytest

from chatstore import ChatStore
from chatstore.models import CreateMessage, Message
from tests.dbchecks import connect, probes

Users = tuple[uuid.UUID, uuid.UUID, uuid.UUID]


@pytest.fixture
async def users(store: ChatStore) -> Users:
    """alice, bob and carol: made once per test, as bcrypt makes each one cost ~60 ms."""
    made = [
        await store.users.create(email=f"{name}@example.com", username=name, password="pw-12345678")
        for name in ("alice", "bob", "carol")
    ]
    return made[0].id, made[1].id, made[2].id


async def new_room(store: ChatStore, owner: uuid.UUID, *members: uuid.UUID) -> uuid.UUID:
    room = await store.rooms.create(name="general", kind="public", created_by=owner)
    for member in members:
        await store.rooms.add_member(room.id, member)
    return room.id


async def send(store: ChatStore, room: uuid.UUID, sender: uuid.UUID) -> Message:
    return await store.messages.create(CreateMessage(room_id=room, sender_id=sender, content="hi"))


async def recount(store: ChatStore, user: uuid.UUID) -> dict[uuid.UUID, int]:
    """Unread per room from the messages themselves, read page by page as the member."""
    counts: dict[uuid.UUID, int] = {}
    for entry in await store.rooms.rooms_of_user(user):
        unread, after = 0, entry.last_read_seq
        while True:
            page = await store.messages.page_after(entry.room.id, user_id=user, after_seq=after)
            unread += sum(1 for message in page.messages if message.deleted_at is None)
            if page.newer_cursor is None:
                break
            after = page.newer_cursor
        counts[entry.room.id] = unread
    return counts


async def assert_exact(store: ChatStore, *users: uuid.UUID) -> None:
    for user in users:
        assert await store.unread_counts(user) == await recount(store, user), user


async def test_counts_after_a_scripted_mix(store: ChatStore, users: Users) -> None:
    alice, bob, carol = users
    general = await new_room(store, alice, bob)
    other = await new_room(store, bob)
    first = await send(store, general, alice)
    second = await send(store, general, alice)
    await store.rooms.add_member(general, carol)  # the two messages before are not unread
    third = await send(store, general, bob)
    await send(store, other, bob)
    await store.rooms.add_member(other, alice)
    await send(store, other, bob)
    await store.messages.delete(second.id, acting_user_id=alice)
    await store.messages.mark_as_read(first.id, bob)
    await send(store, general, carol)
    await store.messages.delete(third.id, acting_user_id=bob)

    assert await store.unread_counts(bob) == {general: 1, other: 0}
    assert await store.unread_counts(alice) == {general: 1, other: 1}
    assert await store.unread_counts(carol) == {general: 0}
    await assert_exact(store, alice, bob, carol)

    await store.rooms.remove_member(general, carol)
    assert await store.unread_counts(carol) == {}


async def test_a_senders_own_messages_are_never_unread(store: ChatStore, users: Users) -> None:
    alice, bob, _ = users
    room = await new_room(store, alice, bob)
    for _ in range(3):
        await send(store, room, alice)
    await send(store, room, bob)  # moves bob's marker past alice's three messages
    await send(store, room, alice)
    assert await store.unread_counts(alice) == {room: 0}
    assert await store.unread_counts(bob) == {room: 1}
    await assert_exact(store, alice, bob)


async def test_only_deletions_after_the_marker_are_subtracted(
    store: ChatStore, users: Users
) -> None:
    alice, bob, _ = users
    room = await new_room(store, alice, bob)
    sent = [await send(store, room, alice) for _ in range(6)]
    await store.messages.mark_as_read(sent[2].id, bob)  # bob has read seqs 1-3
    await store.messages.delete(sent[0].id, acting_user_id=alice)  # before the marker
    assert await store.unread_counts(bob) == {room: 3}
    await store.messages.delete(sent[4].id, acting_user_id=alice)
    assert await store.unread_counts(bob) == {room: 2}
    await store.messages.delete(sent[4].id, acting_user_id=alice)  # twice counts once
    assert await store.unread_counts(bob) == {room: 2}
    await store.messages.mark_as_read(sent[1].id, bob)  # an older read arriving late
    assert await store.unread_counts(bob) == {room: 2}
    await assert_exact(store, alice, bob)


async def test_writes_made_outside_chatstore_are_counted_at_once(
    store: ChatStore, database_url: str, users: Users
) -> None:
    alice, bob, carol = users
    room = await new_room(store, alice, bob, carol)
    sent = [await send(store, room, alice) for _ in range(4)]
    assert await store.unread_counts(bob) == {room: 4}
    async with connect(database_url) as conn:
        for k in range(3):
            await probes.outside_send(conn, room_id=room, sender_id=carol, content=f"sql {k}")
        await probes.outside_soft_delete(conn, id=sent[3].id)
        await probes.outside_set_read_marker(conn, room_id=room, user_id=bob, seq=sent[1].seq)
    # bob: read up to seq 2; seqs 3, 5, 6, 7 are unread (4 was deleted).
    assert await store.unread_counts(bob) == {room: 4}
    # alice: her marker is at her last send (4); carol's three plain-SQL messages follow.
    assert await store.unread_counts(alice) == {room: 3}
    await assert_exact(store, alice, bob, carol)


async def test_a_user_in_no_rooms_and_an_unknown_user_have_no_counts(
    store: ChatStore, users: Users
) -> None:
    assert await store.unread_counts(users[0]) == {}
    assert await store.unread_counts(uuid.uuid4()) == {}
