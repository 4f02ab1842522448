"""Unread counters in a real Redis, checked against PostgreSQL's exact counts.

Every PostgreSQL change goes through the store first and is then reported to the counters,
as the integrating ChatStore does.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import bcrypt
import pytest
import redis.asyncio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chatstore import ChatStore
from chatstore.errors import Unavailable
from chatstore.models import CreateMessage, Message
from chatstore.realtime.unread import (
    UnreadCounters,
    room_key,
    unread_from_redis,
    user_key,
)
from tests.dbchecks import connect, probes
from tests.servers import RedisServer, flushed_redis, free_port

DB = 11  # away from the Redis databases other test modules use


@dataclass
class Chat:
    """Drives PostgreSQL through the store and reports each change to the counters."""

    store: ChatStore
    counters: UnreadCounters

    async def new_room(self, owner: uuid.UUID) -> uuid.UUID:
        room = await self.store.rooms.create(name="general", kind="public", created_by=owner)
        await self.counters.member_joined(room.id, owner, 0)
        return room.id

    async def join(self, room: uuid.UUID, user: uuid.UUID) -> None:
        member = await self.store.rooms.add_member(room, user)
        await self.counters.member_joined(room, user, member.last_read_seq)

    async def leave(self, room: uuid.UUID, user: uuid.UUID) -> None:
        await self.store.rooms.remove_member(room, user)
        await self.counters.member_left(room, user)

    async def send(self, room: uuid.UUID, sender: uuid.UUID) -> Message:
        message = await self.store.messages.create(
            CreateMessage(room_id=room, sender_id=sender, content="hi")
        )
        await self.counters.message_sent(room, message.seq, sender)
        return message

    async def delete(self, message: Message, actor: uuid.UUID) -> None:
        deleted = await self.store.messages.delete(message.id, acting_user_id=actor)
        await self.counters.message_deleted(deleted.room_id, deleted.seq)

    async def read(self, message: Message, user: uuid.UUID) -> None:
        await self.store.messages.mark_as_read(message.id, user)
        await self.counters.marked_read(message.room_id, user, message.seq)

    async def truth(self, user: uuid.UUID) -> dict[uuid.UUID, int]:
        return {row.room_id: row.count for row in await self.store.messages.unread_counts(user)}

    async def assert_exact(self, *users: uuid.UUID) -> None:
        for user in users:
            truth = await self.truth(user)
            assert await self.counters.counts(user) == truth, user
            for room, count in truth.items():
                assert await self.counters.count(user, room) == count, (user, room)


@pytest.fixture
async def client(redis_server: RedisServer) -> AsyncIterator[redis.asyncio.Redis]:
    async with flushed_redis(redis_server.url(DB)) as opened:
        yield opened


@pytest.fixture
def chat(store: ChatStore, client: redis.asyncio.Redis) -> Chat:
    return Chat(store, UnreadCounters(client, store.db, ttl_seconds=3600))


@pytest.fixture
async def users(store: ChatStore) -> tuple[uuid.UUID, uuid.UUID, uuid.UUID]:
    """alice, bob and carol: made once per test, as bcrypt makes each one cost ~60 ms."""
    made = [
        await store.users.create(email=f"{name}@example.com", username=name, password="pw-12345678")
        for name in ("alice", "bob", "carol")
    ]
    return made[0].id, made[1].id, made[2].id


class CountingConnection(redis.asyncio.Connection):
    """Counts the commands this client sends. The server's own totals would also count
    other clients' traffic (the store's presence sweeper shares this Redis)."""

    sent = 0

    def pack_command(self, *args: Any) -> list[bytes]:
        CountingConnection.sent += 1
        return super().pack_command(*args)


# -- behaviour -----------------------------------------------------------------------------------


async def test_counts_equal_postgres_after_a_scripted_mix(
    chat: Chat, users: tuple[uuid.UUID, uuid.UUID, uuid.UUID]
) -> None:
    alice, bob, carol = users
    general = await chat.new_room(alice)
    other = await chat.new_room(bob)
    await chat.join(general, bob)
    first = await chat.send(general, alice)
    second = await chat.send(general, alice)
    await chat.join(general, carol)  # joins after two messages: they are not unread for her
    third = await chat.send(general, bob)
    await chat.send(other, bob)
    await chat.join(other, alice)
    await chat.send(other, bob)
    await chat.delete(second, alice)
    await chat.read(first, bob)
    await chat.send(general, carol)
    await chat.delete(third, bob)
    await chat.assert_exact(alice, bob, carol)
    assert await chat.counters.counts(bob) == {general: 1, other: 0}
    assert await chat.counters.counts(alice) == {general: 1, other: 1}
    assert await chat.counters.counts(carol) == {general: 0}

    await chat.leave(general, carol)
    assert await chat.counters.counts(carol) == {}
    assert await chat.counters.count(carol, general) == 0
    await chat.assert_exact(alice, bob, carol)


async def test_a_senders_own_messages_are_never_unread(
    chat: Chat, users: tuple[uuid.UUID, uuid.UUID, uuid.UUID]
) -> None:
    alice, bob, _ = users
    room = await chat.new_room(alice)
    await chat.join(room, bob)
    for _ in range(3):
        await chat.send(room, alice)
    await chat.send(room, bob)  # moves bob's marker past alice's three messages
    await chat.send(room, alice)
    assert await chat.counters.counts(alice) == {room: 0}
    assert await chat.counters.counts(bob) == {room: 1}
    await chat.assert_exact(alice, bob)


async def test_only_deletions_after_the_marker_are_subtracted(
    chat: Chat, users: tuple[uuid.UUID, uuid.UUID, uuid.UUID]
) -> None:
    alice, bob, _ = users
    room = await chat.new_room(alice)
    await chat.join(room, bob)
    sent = [await chat.send(room, alice) for _ in range(6)]
    await chat.read(sent[2], bob)  # bob has read seqs 1-3
    await chat.delete(sent[0], alice)  # before the marker: changes nothing
    assert await chat.counters.count(bob, room) == 3
    await chat.delete(sent[4], alice)  # after it: one fewer unread
    assert await chat.counters.count(bob, room) == 2
    await chat.delete(sent[4], alice)  # deleting twice counts once
    assert await chat.counters.count(bob, room) == 2
    await chat.assert_exact(alice, bob)


async def test_markers_and_seqs_never_move_backward(
    chat: Chat, users: tuple[uuid.UUID, uuid.UUID, uuid.UUID]
) -> None:
    alice, bob, _ = users
    room = await chat.new_room(alice)
    await chat.join(room, bob)
    sent = [await chat.send(room, alice) for _ in range(5)]
    await chat.read(sent[3], bob)
    await chat.read(sent[1], bob)  # an older read arriving late
    assert await chat.counters.count(bob, room) == 1
    # Two processes reporting sends out of order: the room keeps the higher seq.
    await chat.counters.message_sent(room, 5, alice)
    await chat.counters.message_sent(room, 4, alice)
    assert await chat.counters.count(bob, room) == 1
    await chat.assert_exact(alice, bob)


async def test_rebuild_after_flushdb_equals_postgres(
    chat: Chat, client: redis.asyncio.Redis, users: tuple[uuid.UUID, uuid.UUID, uuid.UUID]
) -> None:
    alice, bob, carol = users
    room = await chat.new_room(alice)
    await chat.join(room, bob)
    sent = [await chat.send(room, alice) for _ in range(4)]
    await chat.send(room, bob)
    await chat.send(room, alice)
    await chat.delete(sent[3], alice)
    await client.flushdb()
    await chat.assert_exact(alice, bob, carol)
    assert await chat.counters.counts(bob) == {room: 1}
    # carol is in no rooms: that is remembered, distinct from "lost".
    assert await client.zrange(user_key(carol), 0, -1) == [b"built"]
    # After the rebuild the room's state is in Redis and keeps counting exactly.
    await chat.send(room, alice)
    await chat.read(sent[0], bob)
    await chat.assert_exact(alice, bob, carol)
    assert await client.ttl(room_key(room)) > 0
    assert await client.ttl(user_key(bob)) > 0


async def test_writes_while_keys_are_lost_merge_with_the_rebuild(
    chat: Chat, client: redis.asyncio.Redis, users: tuple[uuid.UUID, uuid.UUID, uuid.UUID]
) -> None:
    alice, bob, _ = users
    room = await chat.new_room(alice)
    await chat.join(room, bob)
    first = await chat.send(room, alice)
    await chat.delete(first, alice)
    await client.flushdb()
    # These recreate partial keys (no rebuild marker); the next read must still rebuild.
    await chat.send(room, bob)
    await chat.send(room, alice)
    await chat.assert_exact(alice, bob)
    assert await chat.counters.counts(bob) == {room: 1}


async def test_invalidate_forces_a_rebuild_of_stale_state(
    chat: Chat, users: tuple[uuid.UUID, uuid.UUID, uuid.UUID]
) -> None:
    alice, bob, _ = users
    room = await chat.new_room(alice)
    await chat.join(room, bob)
    sent = [await chat.send(room, alice) for _ in range(3)]
    # The first read rebuilds bob's markers (answering from PostgreSQL), the second the room.
    for _ in range(2):
        assert await chat.counters.count(bob, room) == 3
    # Redis "missed" these while it was down: PostgreSQL has them, the counters do not.
    await chat.store.messages.delete(sent[2].id, acting_user_id=alice)
    await chat.store.messages.mark_as_read(sent[0].id, bob)
    assert await chat.counters.count(bob, room) == 3  # stale
    await chat.counters.invalidate_room(room)
    assert await chat.counters.count(bob, room) == 2  # the deletion is back
    await chat.counters.invalidate_user(bob)
    assert await chat.counters.count(bob, room) == 1  # the read is back
    await chat.assert_exact(alice, bob)


async def test_one_send_costs_the_same_few_commands_in_a_5000_member_room(
    chat: Chat, redis_server: RedisServer, users: tuple[uuid.UUID, uuid.UUID, uuid.UUID]
) -> None:
    alice, bob, _ = users
    small = await chat.new_room(alice)
    await chat.join(small, bob)
    big = await chat.new_room(alice)
    members = [uuid.uuid4() for _ in range(4999)]
    # Users straight into PostgreSQL with one precomputed hash: bcrypt per user would take
    # minutes, and only the membership rows matter here.
    password_hash = bcrypt.hashpw(b"unused", bcrypt.gensalt(10)).decode()
    async with connect(chat.store.settings.database_url) as conn, conn.transaction():
        for user in members:
            await probes.insert_user(
                conn,
                id=user,
                email=f"{user}@example.com",
                username=user.hex,
                password_hash=password_hash,
            )
        await chat.store.db.queries.members.add_members_if_absent(
            conn, room_id=big, user_ids=members
        )
    for user in members:
        await chat.counters.member_joined(big, user, 0)

    counting = redis.asyncio.from_url(redis_server.url(DB), connection_class=CountingConnection)
    counters = UnreadCounters(counting, chat.store.db)
    costs: dict[uuid.UUID, int] = {}
    try:
        await counting.ping()  # connect (AUTH, SELECT) before counting
        for room in (small, big):
            message = await chat.store.messages.create(
                CreateMessage(room_id=room, sender_id=alice, content="hello everyone")
            )
            before = CountingConnection.sent
            await counters.message_sent(room, message.seq, alice)
            costs[room] = CountingConnection.sent - before
    finally:
        await counting.aclose()
    assert costs[big] == costs[small] == 4, costs  # two ZADD GT, two EXPIRE
    assert await chat.counters.counts(members[0]) == {big: 1}
    await chat.assert_exact(members[0], members[-1], alice, bob)


async def test_redis_errors_raise_unavailable(store: ChatStore) -> None:
    dead = redis.asyncio.from_url(f"redis://127.0.0.1:{free_port()}/0", socket_connect_timeout=1)
    counters = UnreadCounters(dead, store.db)
    room, user = uuid.uuid4(), uuid.uuid4()
    try:
        with pytest.raises(Unavailable):
            await counters.message_sent(room, 1, user)
        with pytest.raises(Unavailable):
            await counters.marked_read(room, user, 1)
        with pytest.raises(Unavailable):
            await counters.counts(user)
        with pytest.raises(Unavailable):
            await counters.count(user, room)
        with pytest.raises(Unavailable):
            await counters.invalidate_room(room)
    finally:
        await dead.aclose()


def test_a_room_key_seen_vanishing_between_two_commands_means_rebuild() -> None:
    # ZMSCORE saw "last" = 9 above marker 4, then ZCOUNT found nothing: the key was gone.
    assert unread_from_redis(4, 9.0, 0.0, 0) is None
    assert unread_from_redis(4, None, 0.0, 0) is None
    assert unread_from_redis(4, 9.0, None, 1) is None
    assert unread_from_redis(4, 9.0, 0.0, 2) == 4  # one deleted seq above the marker
    assert unread_from_redis(9, 9.0, 0.0, 0) == 0


# -- property ------------------------------------------------------------------------------------

OPERATION = st.one_of(
    st.tuples(st.just("send"), st.integers(0, 2)),
    st.tuples(st.just("delete"), st.integers(0, 10**6)),
    st.tuples(st.just("read"), st.integers(0, 10**6), st.integers(0, 2)),
    st.tuples(st.just("flush")),
)


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(operations=st.lists(OPERATION, max_size=30))
async def test_counters_equal_postgres_for_any_history(
    chat: Chat,
    client: redis.asyncio.Redis,
    users: tuple[uuid.UUID, uuid.UUID, uuid.UUID],
    operations: list[tuple[Any, ...]],
) -> None:
    await client.flushdb()
    owner = users[0]
    room = await chat.new_room(owner)
    for user in users[1:]:
        await chat.join(room, user)
    sent: list[Message] = []
    for operation in operations:
        await apply(chat, client, users, room, sent, operation)
    await chat.assert_exact(*users)


async def apply(
    chat: Chat,
    client: redis.asyncio.Redis,
    users: tuple[uuid.UUID, ...],
    room: uuid.UUID,
    sent: list[Message],
    operation: tuple[Any, ...],
) -> None:
    kind = operation[0]
    if kind == "send":
        sent.append(await chat.send(room, users[operation[1]]))
    elif kind == "flush":
        await client.flushdb()
    elif sent and kind == "delete":
        # The owner may delete anything; deleting twice is a no-op on both sides.
        await chat.delete(sent[operation[1] % len(sent)], users[0])
    elif sent and kind == "read":
        await chat.read(sent[operation[1] % len(sent)], users[operation[2]])
