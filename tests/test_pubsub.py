"""EventHub and publish() against the throwaway Redis.

Channels are global to the server, so every test uses fresh room ids for its channel names.
Every wait is bounded, so a broken hub fails a test instead of hanging the suite.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, cast
from uuid import UUID, uuid4

import pytest
import redis.asyncio

from chatstore.errors import Unavailable
from chatstore.realtime.events import Event, room_channel, user_channel
from chatstore.realtime.pubsub import EventHub, publish
from chatstore.realtime.subscription import Subscription
from tests.servers import RedisServer, free_port

WAIT = 10.0  # seconds; the bound on every wait in this file

ClientFactory = Callable[..., redis.asyncio.Redis]


@pytest.fixture
async def make_client(redis_server: RedisServer) -> AsyncIterator[ClientFactory]:
    """Builds Redis clients (one per simulated server process) and closes them afterwards."""
    clients: list[redis.asyncio.Redis] = []

    def make(**options: Any) -> redis.asyncio.Redis:
        client = redis.asyncio.from_url(redis_server.url(), **options)
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.aclose()


@pytest.fixture
async def hub(make_client: ClientFactory) -> AsyncIterator[EventHub]:
    async with EventHub(make_client(decode_responses=True)) as opened:
        yield opened


@pytest.fixture
def publisher(make_client: ClientFactory) -> redis.asyncio.Redis:
    return make_client(decode_responses=True)


def created(room: UUID, seq: int, text: str = "hi") -> Event:
    return Event(type="message.created", room_id=room, seq=seq, payload={"text": text})


async def next_event(subscription: Subscription, seconds: float = WAIT) -> Event:
    async with asyncio.timeout(seconds):
        return await anext(subscription)


async def no_event(subscription: Subscription, within: float = 0.2) -> bool:
    with contextlib.suppress(TimeoutError):
        await next_event(subscription, within)
        return False
    return True


async def eventually(check: Callable[[], Awaitable[bool]]) -> None:
    """Poll `check` (Redis-side state has no change notification) until true, or fail."""
    polls = 500
    for _ in range(polls):
        if await check():
            return
        await asyncio.sleep(WAIT / polls)
    raise AssertionError(f"{check.__name__} still false after {WAIT} s")


async def shard_subscribers(client: redis.asyncio.Redis, channel: str) -> int:
    reply = await client.pubsub_shardnumsub(channel)
    return dict(reply).get(channel, 0)


async def test_two_hubs_on_two_clients_see_each_others_events(
    make_client: ClientFactory,
) -> None:
    # Two server processes: each has its own client and hub (one decoding, one raw bytes).
    client_a = make_client(decode_responses=True)
    client_b = make_client(decode_responses=False)
    room = uuid4()
    channel = room_channel(room)
    async with (
        EventHub(client_a) as hub_a,
        EventHub(client_b) as hub_b,
        hub_a.subscribe([channel]) as sub_a,
        hub_b.subscribe([channel]) as sub_b,
    ):
        assert await publish(client_a, created(room, 1, "from a"), channel) == 2
        assert await publish(client_b, created(room, 2, "from b"), channel) == 2
        for subscription in (sub_a, sub_b):
            first, second = await next_event(subscription), await next_event(subscription)
            assert (first.payload["text"], second.payload["text"]) == ("from a", "from b")
            assert (first.room_id, first.seq, first.type) == (room, 1, "message.created")


async def test_event_round_trips_unchanged(hub: EventHub, publisher: redis.asyncio.Redis) -> None:
    user = uuid4()
    channel = user_channel(user)
    event = Event(type="presence.changed", payload={"user_id": str(user), "online": True})
    async with hub.subscribe([channel]) as subscription:
        await publish(publisher, event, channel)
        assert await next_event(subscription) == event


async def test_unsubscribe_stops_delivery_and_releases_the_channel(
    hub: EventHub, publisher: redis.asyncio.Redis
) -> None:
    room = uuid4()
    channel = room_channel(room)
    first = hub.subscribe([channel])
    second = hub.subscribe([channel])
    await first.ready()
    await second.ready()
    assert await shard_subscribers(publisher, channel) == 1  # one connection for both

    first.close()
    assert await publish(publisher, created(room, 1), channel) == 1
    assert (await next_event(second)).seq == 1
    with pytest.raises(StopAsyncIteration):
        await next_event(first)  # a closed subscription ends instead of waiting forever

    second.close()

    async def released() -> bool:
        return await shard_subscribers(publisher, channel) == 0

    await eventually(released)
    assert await publish(publisher, created(room, 2), channel) == 0
    assert channel not in hub.channels


async def test_resubscribing_right_after_the_last_listener_left_still_delivers(
    hub: EventHub, publisher: redis.asyncio.Redis
) -> None:
    # SUNSUBSCRIBE and SSUBSCRIBE for one channel in flight together: the late confirmation
    # of the first SSUBSCRIBE must not pass for the second one.
    room = uuid4()
    channel = room_channel(room)
    for seq in range(1, 21):
        async with hub.subscribe([channel]) as subscription:
            assert await publish(publisher, created(room, seq), channel) == 1
            assert (await next_event(subscription)).seq == seq


async def test_ten_thousand_listeners_share_one_redis_connection(
    make_client: ClientFactory, publisher: redis.asyncio.Redis
) -> None:
    name = f"hub-{uuid4().hex[:12]}"
    rooms = [uuid4() for _ in range(2_000)]
    channels = [room_channel(room) for room in rooms]
    async with EventHub(make_client(decode_responses=True, client_name=name)) as hub:
        started = time.perf_counter()
        subscriptions = [hub.subscribe([channels[i % len(channels)]]) for i in range(10_000)]
        async with asyncio.timeout(WAIT):
            await asyncio.gather(*(s.ready() for s in subscriptions))
        subscribe_seconds = time.perf_counter() - started
        assert hub.listener_count == 10_000

        connections = [c for c in await publisher.client_list() if c.get("name") == name]
        assert len(connections) == 1
        assert int(connections[0]["ssub"]) == len(channels)

        # Channel 0 has listeners 0, 2000, 4000, ...: all five get the event, once.
        assert await publish(publisher, created(rooms[0], 1), channels[0]) == 1
        for subscription in subscriptions[:: len(channels)]:
            assert (await next_event(subscription)).room_id == rooms[0]
        assert await no_event(subscriptions[1])
        assert subscribe_seconds < WAIT

        for subscription in subscriptions:
            subscription.close()

        async def released() -> bool:
            connections = [c for c in await publisher.client_list() if c.get("name") == name]
            return int(connections[0]["ssub"]) == 0

        await eventually(released)


@pytest.mark.parametrize("decode", [True, False])
async def test_malformed_messages_are_dropped_and_counted(
    make_client: ClientFactory, publisher: redis.asyncio.Redis, decode: bool
) -> None:
    room = uuid4()
    channel = room_channel(room)
    async with (
        EventHub(make_client(decode_responses=decode)) as hub,
        hub.subscribe([channel]) as subscription,
    ):
        for junk in ("not json", "[1, 2]", '{"v": 99, "type": "x"}', '{"v": 1}', b"\xff\xfe"):
            await publisher.spublish(channel, junk)
        await publish(publisher, created(room, 1), channel)
        assert (await next_event(subscription)).seq == 1
        assert hub.malformed == 5


async def test_a_seq_gap_yields_resync_before_the_event(
    hub: EventHub, publisher: redis.asyncio.Redis
) -> None:
    room, other_room = uuid4(), uuid4()
    channel = room_channel(room)
    other = room_channel(other_room)
    async with hub.subscribe([channel, other]) as subscription:
        sent = [
            created(room, 1),
            created(other_room, 7),  # rooms are tracked separately
            Event(type="message.edited", room_id=room, seq=1),  # carries an old seq: no gap
            created(room, 2),
            Event(type="message.deleted", room_id=room, seq=9),  # does not advance the seq
            created(room, 3),
            created(room, 6),  # 4 and 5 were missed
            created(room, 7),
        ]
        for event in sent:
            await publish(publisher, event, room_channel(cast(UUID, event.room_id)))

        got = [await next_event(subscription) for _ in range(len(sent) + 1)]
        gap = Event(
            type="subscription.resync",
            payload={"reason": "gap", "room_id": str(room), "after_seq": 3},
            at=got[6].at,
        )
        assert got == [*sent[:6], gap, *sent[6:]]


async def test_a_slow_listener_overflows_into_a_resync_without_slowing_others(
    make_client: ClientFactory, publisher: redis.asyncio.Redis
) -> None:
    room = uuid4()
    channel = room_channel(room)
    async with (
        EventHub(make_client(decode_responses=True), queue_size=5) as hub,
        hub.subscribe([channel]) as slow,
        hub.subscribe([channel]) as fast,
    ):
        for seq in range(1, 21):
            await publish(publisher, created(room, seq), channel)
            assert (await next_event(fast)).seq == seq  # never held up by `slow`

        resync = await next_event(slow)
        assert (resync.type, resync.payload) == ("subscription.resync", {"reason": "overflow"})
        assert slow.dropped == 15
        # After the resync the listener is back on the live stream; the old backlog is
        # covered by its catch-up, so it is not replayed.
        await publish(publisher, created(room, 21), channel)
        assert (await next_event(slow)).seq == 21


async def test_hub_close_ends_every_subscription(make_client: ClientFactory) -> None:
    hub = EventHub(make_client(decode_responses=True))
    await hub.start()
    subscription = hub.subscribe([room_channel(uuid4())])
    await subscription.ready()
    waiter = asyncio.create_task(next_event(subscription))
    await asyncio.sleep(0)
    await hub.close()
    with pytest.raises(StopAsyncIteration):
        await waiter


async def test_publish_to_unreachable_redis_raises_unavailable() -> None:
    client = redis.asyncio.from_url(f"redis://127.0.0.1:{free_port()}/0")
    try:
        with pytest.raises(Unavailable):
            await publish(client, created(uuid4(), 1), room_channel(uuid4()))
    finally:
        await client.aclose()


async def test_hub_survives_a_redis_restart_and_says_resync(
    redis_server: RedisServer, hub: EventHub, publisher: redis.asyncio.Redis
) -> None:
    room = uuid4()
    channel = room_channel(room)
    async with hub.subscribe([channel]) as subscription:
        assert await publish(publisher, created(room, 1), channel) == 1
        assert (await next_event(subscription)).seq == 1

        redis_server.stop()
        try:
            await asyncio.sleep(0.3)  # let the hub notice and start retrying
        finally:
            redis_server.start()  # always: the rest of the session shares this server

        # Until the hub has re-subscribed, a publish reaches nobody (or fails while Redis
        # is still loading); keep trying until one lands.
        async with asyncio.timeout(WAIT):
            while True:
                with contextlib.suppress(Unavailable):
                    if await publish(publisher, created(room, 2), channel) == 1:
                        break
                await asyncio.sleep(0.05)

        resync = await next_event(subscription)
        assert (resync.type, resync.payload) == ("subscription.resync", {"reason": "reconnected"})
        event = await next_event(subscription)
        assert (event.type, event.seq) == ("message.created", 2)
        assert hub.reconnects >= 1
        assert await no_event(subscription)  # exactly one resync for the one reconnect
