"""ChatStore end to end: PostgreSQL commits first, then counters and events in Redis.

Two ChatStore instances stand in for two server processes. Redis outages use a Redis server
of this module's own, so stopping it cannot disturb other tests.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest

from chatstore import (
    ChatStore,
    ConfigurationError,
    CreateMessage,
    Message,
    Settings,
    User,
)
from chatstore.realtime.events import Event
from tests.conftest import settings_for
from tests.servers import RedisServer

WAIT = 10.0


# What a stream also carries that these tests do not look at.
BACKGROUND = ("presence.changed",)


async def next_event(stream: AsyncIterator[Event], *, skip: tuple[str, ...] = BACKGROUND) -> Event:
    async with asyncio.timeout(WAIT):
        async for event in stream:
            if event.type not in skip:
                return event
    raise AssertionError("stream ended")


async def presence_of(stream: AsyncIterator[Event], user: User) -> Event:
    """The next presence change of this user (the stream's own user's pass by)."""
    while True:
        event = await next_event(stream, skip=())
        if event.type == "presence.changed" and event.payload["user_id"] == str(user.id):
            return event


async def make_users(store: ChatStore) -> tuple[User, User]:
    alice = await store.users.create(
        email="alice@example.com", username="alice", password="correct horse battery"
    )
    bob = await store.users.create(
        email="bob@example.com", username="bob", password="tr0ub4dor and staple"
    )
    return alice, bob


async def room_with(store: ChatStore, alice: User, bob: User) -> Message:
    room = await store.rooms.create(name="general", kind="public", created_by=alice.id)
    await store.rooms.add_member(room.id, bob.id)
    return await store.send_message(CreateMessage(room.id, alice.id, "welcome"))


@pytest.fixture
async def second_store(database_url: str, redis_server: RedisServer) -> AsyncIterator[ChatStore]:
    """Another process's ChatStore on the same PostgreSQL database and Redis."""
    async with ChatStore.open(settings_for(database_url, redis_server.url(0))) as opened:
        yield opened


async def test_two_stores_see_each_others_events(store: ChatStore, second_store: ChatStore) -> None:
    alice, bob = await make_users(store)
    first = await room_with(store, alice, bob)
    room_id = first.room_id
    async with second_store.connect(bob.id, "bob-laptop") as bob_listens:
        sent = await store.send_message(CreateMessage(room_id, alice.id, "hello from A"))
        event = await next_event(bob_listens)
        assert (event.type, event.seq, event.payload["content"]) == (
            "message.created",
            sent.seq,
            "hello from A",
        )
        await second_store.messages.mark_as_read(sent.id, bob.id)
        receipt = await next_event(bob_listens)
        assert receipt.type == "receipt.read"
        assert receipt.payload["user_id"] == str(bob.id)
        edited = await store.messages.update(sent.id, "hello from A!", editor_id=alice.id)
        event = await next_event(bob_listens)
        assert (event.type, event.payload["content"]) == ("message.edited", edited.content)
        await store.messages.delete(sent.id, acting_user_id=alice.id)
        event = await next_event(bob_listens)
        assert event.type == "message.deleted"
        assert "content" not in event.payload


async def test_events_wait_for_the_transaction_to_commit(store: ChatStore) -> None:
    alice, bob = await make_users(store)
    room_id = (await room_with(store, alice, bob)).room_id

    class Boom(Exception):
        pass

    async with store.connect(bob.id, "bob-laptop") as listener:

        async def rolled_back() -> None:
            async with store.transaction():
                await store.send_message(CreateMessage(room_id, alice.id, "never happened"))
                raise Boom

        with pytest.raises(Boom):
            await rolled_back()
        async with store.transaction():
            committed = await store.send_message(CreateMessage(room_id, alice.id, "kept"))
        event = await next_event(listener)
    assert (event.seq, event.payload["content"]) == (committed.seq, "kept")


async def test_presence_is_written_through_to_postgres(store: ChatStore) -> None:
    alice, bob = await make_users(store)
    async with store.connect(bob.id, "bob-laptop", follow=[alice.id]) as watcher:
        assert await store.presence.connect(alice.id, "phone")
        event = await presence_of(watcher, alice)
        assert event.payload["online"] is True
        assert (await store.users.get(alice.id)).is_online
        # The phone stops heartbeating without a word: the sweeper notices (ttl 1 s).
        event = await presence_of(watcher, alice)
        assert event.payload["online"] is False
    user = await store.users.get(alice.id)
    assert not user.is_online
    assert user.last_seen_at is not None


async def test_typing_reaches_room_listeners(store: ChatStore) -> None:
    alice, bob = await make_users(store)
    room_id = (await room_with(store, alice, bob)).room_id
    async with store.connect(bob.id, "bob-laptop") as listener:
        await store.typing.start(room_id, alice.id)
        await store.typing.start(room_id, alice.id)  # a refresh publishes nothing new
        started = await next_event(listener)
        assert started.type == "typing.changed"
        assert started.payload["typing"] == [str(alice.id)]
        expired = await next_event(listener)  # ttl 0.5 s, swept without a stop
        assert (expired.type, expired.payload["typing"]) == ("typing.changed", [])


async def test_wrong_redis_password_fails_fast_at_open(
    database_url: str, redis_server: RedisServer
) -> None:
    url = f"redis://:wrong-password@127.0.0.1:{redis_server.port}/0"
    started = time.monotonic()
    with pytest.raises(ConfigurationError) as caught:
        async with ChatStore.open(settings_for(database_url, url)):
            pass
    assert caught.value.setting == "REDIS_URL"
    assert "wrong-password" not in str(caught.value)
    assert time.monotonic() - started < 5


async def test_redis_outage_loses_no_data_and_listeners_catch_up(
    database_url: str, own_redis: RedisServer
) -> None:
    settings: Settings = settings_for(database_url, own_redis.url(0))
    async with ChatStore.open(settings) as store:
        alice, bob = await make_users(store)
        welcome = await room_with(store, alice, bob)
        room_id = welcome.room_id
        async with store.connect(bob.id, "bob-laptop") as listener:
            before = await store.send_message(CreateMessage(room_id, alice.id, "before"))
            assert (await next_event(listener)).seq == before.seq

            own_redis.stop()
            try:
                # Redis is down: every write still succeeds and returns the committed row.
                during = [
                    await store.send_message(CreateMessage(room_id, alice.id, f"during {n}"))
                    for n in range(3)
                ]
                edited = await store.messages.update(
                    during[0].id, "during 0, edited", editor_id=alice.id
                )
                await store.messages.delete(during[2].id, acting_user_id=alice.id)
                await store.messages.mark_as_read(during[1].id, bob.id)
                assert edited.edit_count == 1
                # Unread counts fall back to PostgreSQL while Redis is down.
                assert await store.unread_counts(bob.id) == {room_id: 0}
                # The stream keeps delivering from the log (the feed's poll), in order.
                while_down = [await next_event(listener) for _ in range(5)]
            finally:
                own_redis.start()
            assert [(e.type, e.seq) for e in while_down] == [
                ("message.created", during[0].seq),
                ("message.created", during[1].seq),
                ("message.created", during[2].seq),
                ("message.edited", during[0].seq),
                ("message.deleted", during[2].seq),
            ]
            after = await store.send_message(CreateMessage(room_id, alice.id, "after"))
            # Bob's receipt made while Redis was down is ephemeral (not in the log): the
            # outbox publishes it once Redis is back, before or after this send.
            live = await next_event(
                listener, skip=("presence.changed", "typing.changed", "receipt.read")
            )
            assert (live.type, live.seq) == ("message.created", after.seq)
            event_seqs = [e.event_seq or 0 for e in [*while_down, live]]
            assert event_seqs == list(range(event_seqs[0], event_seqs[0] + 6))
            assert event_seqs[0] > 0

        # Unread counts come from PostgreSQL: the outage cost them nothing.
        truth = {e.room_id: e.count for e in await store.messages.unread_counts(bob.id)}
        assert await store.unread_counts(bob.id) == truth == {room_id: 1}


async def test_a_redis_outage_does_not_slow_sends(
    database_url: str, own_redis: RedisServer
) -> None:
    settings: Settings = settings_for(database_url, own_redis.url(0))
    async with ChatStore.open(settings) as store:
        alice, bob = await make_users(store)
        room_id = (await room_with(store, alice, bob)).room_id

        async def send_times(label: str) -> list[float]:
            times = []
            for n in range(30):
                started = time.perf_counter()
                await store.send_message(CreateMessage(room_id, alice.id, f"{label} {n}"))
                times.append(time.perf_counter() - started)
            return times

        up = await send_times("up")
        own_redis.stop()
        try:
            down = await send_times("down")
        finally:
            own_redis.start()
        # A send waits for PostgreSQL only: its Redis half goes through the outbox, off the
        # caller's path (the outbox's own bound is the breaker's budget).
        assert max(down) < settings.redis_write_budget_seconds + 0.5, max(down)
        median_up, median_down = sorted(up)[15], sorted(down)[15]
        print(f"send median: Redis up {median_up * 1000:.2f} ms, down {median_down * 1000:.2f} ms")
        assert median_down < 1.5 * median_up + 0.005


async def test_a_client_connects_and_receives_while_redis_is_down(
    database_url: str, own_redis: RedisServer
) -> None:
    settings: Settings = settings_for(database_url, own_redis.url(0))
    async with ChatStore.open(settings) as store:
        alice, bob = await make_users(store)
        room_id = (await room_with(store, alice, bob)).room_id
        own_redis.stop()
        try:
            started = time.perf_counter()
            async with store.connect(bob.id, "bob-laptop") as stream:
                connected_in = time.perf_counter() - started
                sent = await store.send_message(CreateMessage(room_id, alice.id, "no redis"))
                event = await next_event(stream)
        finally:
            own_redis.start()
    assert (event.type, event.seq) == ("message.created", sent.seq)
    # No wait for a subscription Redis cannot confirm: the feed's poll delivers meanwhile.
    print(f"connected with Redis down in {connected_in * 1000:.0f} ms")
    assert connected_in < 3.0, connected_in


async def test_changing_the_password_or_deleting_the_user_ends_their_sessions(
    store: ChatStore,
) -> None:
    alice, bob = await make_users(store)
    phone, _ = await store.sessions.create(alice.id)
    laptop, _ = await store.sessions.create(alice.id)
    bobs, _ = await store.sessions.create(bob.id)
    await store.users.change_password(
        alice.id, current_password="correct horse battery", new_password="a new long secret"
    )
    assert await store.sessions.get(phone) is None
    assert await store.sessions.get(laptop) is None
    assert await store.sessions.get(bobs) is not None  # nobody else's
    await store.users.delete(bob.id)
    assert await store.sessions.get(bobs) is None


async def test_sessions_of_a_deleted_user_end_once_redis_is_back(
    database_url: str, own_redis: RedisServer
) -> None:
    settings: Settings = settings_for(database_url, own_redis.url(0))
    async with ChatStore.open(settings) as store:
        alice, _ = await make_users(store)
        token, _ = await store.sessions.create(alice.id)
        own_redis.stop()
        try:
            await store.users.delete(alice.id)  # committed; Redis cannot be told yet
        finally:
            own_redis.start()
        # No call needed: the store retries the revocation by itself once Redis answers.
        await asyncio.sleep(2 * settings.redis_breaker_seconds + 0.5)
        assert await store.sessions.get(token) is None
