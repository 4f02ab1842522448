"""Presence and typing indicators against a real throwaway Redis.

Most tests drive a fake clock (scores in Redis are the clock's times), so expiry is instant
and deterministic; a couple use the real clock with sub-second TTLs to prove nothing depends
on the fake one.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
import redis.asyncio

from chatstore import Unavailable, ValidationError
from chatstore.realtime.events import Event, room_channel, user_channel
from chatstore.realtime.presence import Presence, presence_key
from chatstore.realtime.typing import Typing, typing_key
from tests.servers import RedisServer, flushed_redis, free_port

DB = 9  # away from the databases other test modules use
TTL = 1.0
TYPING_TTL = 0.5


@dataclass
class Clock:
    now: float = field(default_factory=time.time)

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class Recorder:
    """Stands in for pubsub.publish and UserRepository.set_online."""

    events: list[tuple[Event, str]] = field(default_factory=list)
    changes: list[tuple[uuid.UUID, bool]] = field(default_factory=list)

    async def publish(self, event: Event, channel: str) -> None:
        self.events.append((event, channel))

    async def on_change(self, user_id: uuid.UUID, online: bool) -> None:
        self.changes.append((user_id, online))

    def presence(self) -> list[tuple[str, bool]]:
        return [(e.payload["user_id"], e.payload["online"]) for e, _ in self.events]

    def typing(self) -> list[list[str]]:
        return [e.payload["typing"] for e, _ in self.events]


@pytest.fixture
async def client(redis_server: RedisServer) -> AsyncIterator[redis.asyncio.Redis]:
    async with flushed_redis(redis_server.url(DB)) as opened:
        yield opened


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def rec() -> Recorder:
    return Recorder()


def presence(client: redis.asyncio.Redis, rec: Recorder, clock: Clock) -> Presence:
    return Presence(
        client, rec.publish, heartbeat_ttl=TTL, on_presence_change=rec.on_change, clock=clock
    )


def typing(client: redis.asyncio.Redis, rec: Recorder, clock: Clock) -> Typing:
    return Typing(client, rec.publish, ttl=TYPING_TTL, clock=clock)


# --- presence ---------------------------------------------------------------------------


async def test_multi_device_online_until_last_disconnects(
    client: redis.asyncio.Redis, rec: Recorder, clock: Clock
) -> None:
    p = presence(client, rec, clock)
    user = uuid.uuid4()
    assert await p.connect(user, "phone") is True
    assert await p.connect(user, "laptop") is False
    assert await p.online_devices(user) == ["laptop", "phone"]
    assert await p.disconnect(user, "phone") is False
    assert await p.is_online(user) is True
    assert await p.disconnect(user, "laptop") is True
    assert await p.is_online(user) is False
    assert await p.disconnect(user, "laptop") is False  # already gone: no second transition
    assert rec.presence() == [(str(user), True), (str(user), False)]
    assert {channel for _, channel in rec.events} == {user_channel(user)}
    assert rec.changes == [(user, True), (user, False)]
    assert await p.sweep() == []  # the disconnect already took the user off the due index


async def test_event_payload_and_key_layout(
    client: redis.asyncio.Redis, rec: Recorder, clock: Clock
) -> None:
    p = presence(client, rec, clock)
    user = uuid.uuid4()
    await p.connect(str(user), "phone")
    event, _ = rec.events[0]
    assert event.type == "presence.changed"
    assert Event.from_json(event.to_json()).payload["last_seen"].startswith("20")
    key = presence_key(user)
    assert key == f"presence:{{{user}}}"
    assert 0 < await client.pttl(key) <= (TTL + 60) * 1000
    assert await client.zscore("presence:due", str(user)) == pytest.approx(clock.now + TTL)


async def test_concurrent_connects_make_one_online_transition(
    client: redis.asyncio.Redis, rec: Recorder, clock: Clock
) -> None:
    first, second = presence(client, rec, clock), presence(client, rec, clock)
    users = [uuid.uuid4() for _ in range(25)]
    results = await asyncio.gather(
        *(p.connect(u, d) for u in users for p, d in ((first, "a"), (second, "b")))
    )
    assert sum(results) == len(users)
    assert sorted(rec.presence()) == sorted((str(u), True) for u in users)
    assert sorted(rec.changes) == sorted((u, True) for u in users)


async def test_silent_device_goes_offline_once_with_concurrent_sweepers(
    client: redis.asyncio.Redis, rec: Recorder, clock: Clock
) -> None:
    first, second = presence(client, rec, clock), presence(client, rec, clock)
    users = [uuid.uuid4() for _ in range(20)]
    for user in users:
        await first.connect(user, "phone")
    clock.advance(TTL + 0.01)
    assert not await first.is_online(users[0])
    swept = await asyncio.gather(first.sweep(), second.sweep(), first.sweep())
    assert sorted(u for batch in swept for u in batch) == sorted(users)
    offline = [c for c in rec.changes if not c[1]]
    assert sorted(offline) == sorted((u, False) for u in users)
    assert sum(1 for _, online in rec.presence() if not online) == len(users)
    assert await first.sweep() == []
    assert await client.exists(presence_key(users[0])) == 0


async def test_heartbeat_keeps_user_online(
    client: redis.asyncio.Redis, rec: Recorder, clock: Clock
) -> None:
    p = presence(client, rec, clock)
    user = uuid.uuid4()
    await p.connect(user, "phone")
    for _ in range(4):
        clock.advance(TTL * 0.6)
        assert await p.heartbeat(user, "phone") is False
        assert await p.sweep() == []
    assert await p.is_online(user)
    assert rec.changes == [(user, True)]


async def test_heartbeat_of_unknown_device_counts_as_connect(
    client: redis.asyncio.Redis, rec: Recorder, clock: Clock
) -> None:
    p = presence(client, rec, clock)
    user = uuid.uuid4()
    assert await p.heartbeat(user, "tablet") is True
    assert await p.online_devices(user) == ["tablet"]


async def test_reconnect_before_sweep_is_not_a_second_online(
    client: redis.asyncio.Redis, rec: Recorder, clock: Clock
) -> None:
    """Devices expired but the offline was not announced yet: the user never visibly left."""
    p = presence(client, rec, clock)
    user = uuid.uuid4()
    await p.connect(user, "phone")
    clock.advance(TTL + 0.01)
    assert await p.connect(user, "laptop") is False
    assert await p.online_devices(user) == ["laptop"]
    assert await p.sweep() == []
    assert rec.changes == [(user, True)]


async def test_process_dying_after_reconnect_is_still_swept(
    client: redis.asyncio.Redis, rec: Recorder, clock: Clock
) -> None:
    p = presence(client, rec, clock)
    user = uuid.uuid4()
    await p.connect(user, "phone")
    await p.disconnect(user, "phone")
    clock.advance(0.01)
    await p.connect(user, "phone")  # then the process dies: no heartbeat, no disconnect
    clock.advance(TTL + 0.01)
    assert await p.sweep() == [user]
    assert rec.changes == [(user, True), (user, False), (user, True), (user, False)]


async def test_vanished_key_is_announced_offline_once(
    client: redis.asyncio.Redis, rec: Recorder, clock: Clock
) -> None:
    """No sweeper ran for longer than key_grace, so the user key expired on its own."""
    p = Presence(
        client,
        rec.publish,
        heartbeat_ttl=TTL,
        on_presence_change=rec.on_change,
        clock=clock,
        key_grace=2.0,
    )
    user = uuid.uuid4()
    await p.connect(user, "phone")
    await client.delete(presence_key(user))
    clock.advance(TTL + 0.5)
    assert await p.sweep() == []  # could be another sweeper's fresh claim: not ours yet
    clock.advance(2.0)
    swept = await asyncio.gather(p.sweep(), p.sweep())
    assert [u for batch in swept for u in batch] == [user]
    assert rec.changes == [(user, True), (user, False)]


async def test_real_clock_expiry_and_pubsub(
    client: redis.asyncio.Redis, redis_server: RedisServer
) -> None:
    async def publish(event: Event, channel: str) -> None:
        await client.publish(channel, event.to_json())

    changes: list[tuple[uuid.UUID, bool]] = []

    async def on_change(user_id: uuid.UUID, online: bool) -> None:
        changes.append((user_id, online))

    p = Presence(client, publish, heartbeat_ttl=0.5, on_presence_change=on_change)
    user = uuid.uuid4()
    pubsub = client.pubsub()
    await pubsub.subscribe(user_channel(user))
    try:
        await p.connect(user, "phone")
        await asyncio.sleep(0.6)
        assert not await p.is_online(user)
        assert await p.sweep() == [user]
        received: list[Event] = []
        deadline = time.monotonic() + 5
        # get_message returns None for the subscribe confirmation too, so poll to a deadline.
        while len(received) < 2 and time.monotonic() < deadline:
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.5)
            if message is not None:
                received.append(Event.from_json(message["data"]))
    finally:
        await pubsub.aclose()  # type: ignore[no-untyped-call]  # redis-py leaves it untyped
    assert [e.payload["online"] for e in received] == [True, False]
    assert changes == [(user, True), (user, False)]


async def test_presence_validates_input(
    client: redis.asyncio.Redis, rec: Recorder, clock: Clock
) -> None:
    p = presence(client, rec, clock)
    with pytest.raises(ValidationError):
        await p.connect("not-a-uuid", "phone")
    with pytest.raises(ValidationError):
        await p.connect(uuid.uuid4(), "  ")
    with pytest.raises(ValidationError):
        Presence(client, rec.publish, heartbeat_ttl=0)


# --- typing -----------------------------------------------------------------------------


async def test_start_twice_publishes_once(
    client: redis.asyncio.Redis, rec: Recorder, clock: Clock
) -> None:
    t = typing(client, rec, clock)
    room, alice, bob = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    await t.start(room, alice)
    clock.advance(0.1)
    await t.start(room, alice)
    assert rec.typing() == [[str(alice)]]
    clock.advance(0.1)  # bob's entry expires later, so the listing order is fixed
    await t.start(room, bob)
    assert rec.typing() == [[str(alice)], [str(alice), str(bob)]]
    event, channel = rec.events[-1]
    assert (event.type, event.room_id, channel) == ("typing.changed", room, room_channel(room))
    assert event.payload["expires_in"] == TYPING_TTL
    assert await t.typers(room) == [alice, bob]
    assert 0 < await client.pttl(typing_key(room)) <= (TYPING_TTL + 10) * 1000


async def test_stop_publishes_only_if_present(
    client: redis.asyncio.Redis, rec: Recorder, clock: Clock
) -> None:
    t = typing(client, rec, clock)
    room, alice = uuid.uuid4(), uuid.uuid4()
    await t.stop(room, alice)
    assert rec.events == []
    await t.start(room, alice)
    await t.stop(room, alice)
    assert rec.typing() == [[str(alice)], []]
    assert await t.typers(room) == []


async def test_expired_typers_are_excluded_and_announced_once(
    client: redis.asyncio.Redis, rec: Recorder, clock: Clock
) -> None:
    t = typing(client, rec, clock)
    room, alice, bob = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    await t.start(room, alice)
    clock.advance(0.3)
    await t.start(room, bob)
    clock.advance(0.3)  # alice expired, bob has 0.2 s left
    assert await t.typers(room) == [bob]
    assert await t.typers(room) == [bob]
    assert rec.typing() == [[str(alice)], [str(alice), str(bob)], [str(bob)]]


async def test_sweep_announces_silent_typers_once(
    client: redis.asyncio.Redis, rec: Recorder, clock: Clock
) -> None:
    first, second = typing(client, rec, clock), typing(client, rec, clock)
    room, alice, bob = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    await first.start(room, alice)
    clock.advance(0.3)
    await first.start(room, bob)
    clock.advance(0.3)
    swept = await asyncio.gather(first.sweep(), second.sweep())
    assert [r for batch in swept for r in batch] == [room]
    assert rec.typing()[-1] == [str(bob)]
    clock.advance(0.3)  # bob expires too; the index was re-armed with his expiry
    assert await first.sweep() == [room]
    assert rec.typing()[-1] == []
    assert len(rec.events) == 4
    assert await second.sweep() == []


async def test_typing_real_clock(client: redis.asyncio.Redis, rec: Recorder) -> None:
    t = Typing(client, rec.publish, ttl=TYPING_TTL)
    room, alice = uuid.uuid4(), uuid.uuid4()
    await t.start(room, alice)
    assert await t.typers(room) == [alice]
    await asyncio.sleep(TYPING_TTL + 0.1)
    assert await t.sweep() == [room]
    assert await t.typers(room) == []
    assert rec.typing() == [[str(alice)], []]


# --- outages ----------------------------------------------------------------------------


@pytest.fixture
async def dead_client() -> AsyncIterator[redis.asyncio.Redis]:
    opened = redis.asyncio.from_url(f"redis://127.0.0.1:{free_port()}/0", socket_timeout=1)
    try:
        yield opened
    finally:
        await opened.aclose()


async def test_redis_down_raises_unavailable(
    dead_client: redis.asyncio.Redis, rec: Recorder
) -> None:
    p = Presence(dead_client, rec.publish, heartbeat_ttl=TTL)
    t = Typing(dead_client, rec.publish, ttl=TYPING_TTL)
    user, room = uuid.uuid4(), uuid.uuid4()
    calls = [
        p.connect(user, "phone"),
        p.heartbeat(user, "phone"),
        p.disconnect(user, "phone"),
        p.is_online(user),
        p.online_devices(user),
        p.sweep(),
        t.start(room, user),
        t.stop(room, user),
        t.typers(room),
        t.sweep(),
    ]
    for call in calls:
        with pytest.raises(Unavailable):
            await call
    assert rec.events == []


async def test_sweepers_survive_redis_outage(
    dead_client: redis.asyncio.Redis, rec: Recorder
) -> None:
    p = Presence(dead_client, rec.publish)
    t = Typing(dead_client, rec.publish)
    tasks = [asyncio.create_task(p.run_sweeper(0.01)), asyncio.create_task(t.run_sweeper(0.01))]
    await asyncio.sleep(0.2)
    assert not any(task.done() for task in tasks)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
