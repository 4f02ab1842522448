"""Redis goes silent (a black hole, not a clean close) or refuses connections.

A TcpProxy (tests/tcp_proxy.py) on loopback sits between chatstore and the session's
throwaway Redis; the publisher that plays "another process" talks to Redis directly.
Stalling the proxy disturbs no other test. Each test prints what it measured.

- The event hub's subscriber notices a dead connection within its health-check bound
  (chatstore.realtime.hub_health) and says so (`hub.connected`), reconnects once Redis is
  reachable and tells its listeners to resync; a stall shorter than the PING interval is
  not mistaken for a death.
- Sends do not slow down while Redis is black-holed or refusing: the breaker bounds the
  Redis half of a committed write.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import statistics
import time
from collections.abc import AsyncIterator, Callable
from typing import cast
from uuid import UUID, uuid4

import pytest
import redis.asyncio
from redis.asyncio.connection import AbstractConnection

from chatstore import ChatStore, CreateMessage, Unavailable
from chatstore.realtime.connection import open_redis
from chatstore.realtime.events import Event, room_channel
from chatstore.realtime.hub_health import (
    HEALTH_CHECK_BOUND_SECONDS,
    HEALTH_CHECK_INTERVAL_SECONDS,
    PING_MESSAGE,
    ConnectionSilent,
    Liveness,
)
from chatstore.realtime.pubsub import EventHub, publish
from chatstore.realtime.subscription import Subscription
from tests.conftest import settings_for
from tests.servers import RedisServer
from tests.tcp_proxy import TcpProxy

# What noticing may take past the bound: the event loop's turns and this file's polling.
SLACK = 0.5
# Reconnecting once Redis answers again: at most one backoff step (2 s) plus a connect.
RECOVERY_LIMIT = 5.0
POLL = 0.02
WAIT = 10.0
UNUSED_DATABASE = "postgresql://unused@127.0.0.1:1/unused"  # the hub tests need no PostgreSQL


def report(capsys: pytest.CaptureFixture[str], line: str) -> None:
    with capsys.disabled():
        print(f"\n{line}")


def proxied_url(server: RedisServer, proxy: TcpProxy) -> str:
    return f"redis://:{server.password}@127.0.0.1:{proxy.port}/0"


async def seconds_until(condition: Callable[[], bool], limit: float) -> float:
    """Seconds until `condition()` holds, polled every POLL s; fails after `limit`."""
    started = time.monotonic()
    for _ in range(int(limit / POLL) + 1):
        if condition():
            return time.monotonic() - started
        await asyncio.sleep(POLL)
    raise AssertionError(f"still not so after {limit} s")


def created(room: UUID, seq: int) -> Event:
    return Event("message.created", room_id=room, seq=seq)


async def next_event(subscription: Subscription) -> Event:
    async with asyncio.timeout(WAIT):
        return await anext(subscription)


async def no_event(subscription: Subscription, within: float = 0.3) -> bool:
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(within):
            await anext(subscription)
        return False
    return True


@pytest.fixture
async def proxy(redis_server: RedisServer) -> AsyncIterator[TcpProxy]:
    async with TcpProxy(upstream_port=redis_server.port) as opened:
        yield opened


@pytest.fixture
async def direct(redis_server: RedisServer) -> AsyncIterator[redis.asyncio.Redis]:
    """Another process's client, straight to Redis: it publishes while the proxy stalls."""
    client = redis.asyncio.from_url(redis_server.url(), decode_responses=True)
    yield client
    await client.aclose()


@pytest.fixture
async def hub(redis_server: RedisServer, proxy: TcpProxy) -> AsyncIterator[EventHub]:
    """A hub on chatstore's own client (its timeouts and retries), through the proxy."""
    client = await open_redis(settings_for(UNUSED_DATABASE, proxied_url(redis_server, proxy)))
    try:
        async with EventHub(client) as opened:
            yield opened
            proxy.resume()  # whatever a test left stalled, closing must not wait on it
    finally:
        await client.aclose()


async def listening(hub: EventHub, direct: redis.asyncio.Redis) -> tuple[UUID, str, Subscription]:
    """A listener on a fresh room's channel that has just received seq 1 (so the hub has
    just heard from Redis: the silence starts now)."""
    room = uuid4()
    channel = room_channel(room)
    subscription = hub.subscribe([channel])
    await subscription.ready()
    assert await publish(direct, created(room, 1), channel) == 1
    assert (await next_event(subscription)).seq == 1
    return room, channel, subscription


class _Connection:
    """What Liveness uses of a redis-py connection."""

    is_connected = True

    def __init__(self) -> None:
        self.sent: list[tuple[object, ...]] = []

    async def send_command(self, *args: object, check_health: bool = True) -> None:
        assert not check_health  # a health check would read a reply that is the reader's
        self.sent.append(args)


async def test_liveness_pings_after_silence_and_gives_up_after_the_timeout() -> None:
    now = 100.0  # steps below are exact in binary, so the comparisons are too
    liveness = Liveness(2.0, 3.0, clock=lambda: now)
    conn = _Connection()
    check = functools.partial(liveness.check, cast(AbstractConnection, conn))

    now += 1.5
    await check()
    assert (conn.sent, liveness.wait(10.0), liveness.wait(0.2)) == ([], 0.5, 0.2)
    now += 0.5  # 2 s of silence: PING, then wait for its reply
    await check()
    assert (conn.sent, liveness.wait(10.0)) == ([("PING", PING_MESSAGE)], 3.0)
    now += 2.75
    await check()  # not yet: no second PING, no verdict
    liveness.heard()  # a reply (or any message): alive, the silence starts again
    now += 1.75
    await check()
    assert len(conn.sent) == 1
    now += 0.25
    await check()
    now += 3.0
    with pytest.raises(ConnectionSilent):
        await check()
    assert (len(conn.sent), liveness.pings, liveness.silent, liveness.bound) == (2, 2, 1, 5.0)


async def test_a_black_holed_subscriber_is_noticed_and_recovers_with_a_resync(
    hub: EventHub,
    proxy: TcpProxy,
    direct: redis.asyncio.Redis,
    capsys: pytest.CaptureFixture[str],
) -> None:
    room, channel, subscription = await listening(hub, direct)
    assert hub.connected

    proxy.stall()
    noticed = await seconds_until(lambda: not hub.connected, HEALTH_CHECK_BOUND_SECONDS + SLACK)
    # While down: it says so at once instead of waiting on Redis, and has not reconnected.
    started = time.monotonic()
    with pytest.raises(Unavailable):
        await hub.wait_subscribed([channel])
    refused_in = time.monotonic() - started
    assert (hub.reconnects, hub.health.silent, hub.health.pings) == (0, 1, 1)
    # Lost on the dead connection: only the resync can tell the listener about it.
    await publish(direct, created(room, 2), channel)
    await asyncio.sleep(1.0)  # a reconnect attempt or two into the black hole
    assert not hub.connected

    proxy.resume()
    recovered = await seconds_until(lambda: hub.connected, RECOVERY_LIMIT)
    await hub.wait_subscribed([channel])
    assert await publish(direct, created(room, 3), channel) >= 1
    resync = await next_event(subscription)
    later = await next_event(subscription)

    report(
        capsys,
        f"black-holed subscriber: noticed after {noticed:.2f} s (bound "
        f"{HEALTH_CHECK_BOUND_SECONDS:g} s), wait_subscribed refused in {refused_in * 1000:.1f} "
        f"ms while down; reconnected {recovered:.2f} s after Redis was reachable again "
        f"({hub.reconnects} reconnect, {len(proxy.links)} connections tried in all)",
    )
    assert noticed <= HEALTH_CHECK_BOUND_SECONDS + SLACK
    assert refused_in < 0.1
    assert hub.reconnects == 1
    assert (resync.type, resync.payload) == ("subscription.resync", {"reason": "reconnected"})
    assert (later.type, later.seq) == ("message.created", 3)
    assert await no_event(subscription)


async def test_a_connection_silenced_for_good_is_replaced_within_the_bound(
    hub: EventHub,
    proxy: TcpProxy,
    direct: redis.asyncio.Redis,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # The old path stays dead (a NAT entry or a load balancer's flow gone), new connections
    # pass: the hub must get off the dead socket by itself, nothing will ever close it.
    room, channel, subscription = await listening(hub, direct)
    silenced = proxy.stall_open()
    assert len(silenced) == 1
    noticed = await seconds_until(lambda: not hub.connected, HEALTH_CHECK_BOUND_SECONDS + SLACK)
    replaced = await seconds_until(lambda: hub.connected, RECOVERY_LIMIT)
    await hub.wait_subscribed([channel])
    assert await publish(direct, created(room, 2), channel) >= 1
    resync, later = await next_event(subscription), await next_event(subscription)

    report(
        capsys,
        f"subscriber connection silenced for good: noticed after {noticed:.2f} s, on a new "
        f"connection {replaced:.2f} s later",
    )
    assert hub.reconnects == 1
    assert [link for link in proxy.open_links if link not in silenced], "a new connection"
    assert (resync.type, resync.payload) == ("subscription.resync", {"reason": "reconnected"})
    assert (later.type, later.seq) == ("message.created", 2)


async def test_a_stall_shorter_than_the_ping_interval_is_not_a_reconnect(
    hub: EventHub, proxy: TcpProxy, direct: redis.asyncio.Redis
) -> None:
    room, channel, subscription = await listening(hub, direct)
    proxy.stall()
    # Published into the stall: held by the path, delivered late but delivered.
    assert await publish(direct, created(room, 2), channel) == 1
    await asyncio.sleep(HEALTH_CHECK_INTERVAL_SECONDS / 2)
    proxy.resume()
    event = await next_event(subscription)
    assert (event.type, event.seq) == ("message.created", 2)
    assert hub.connected
    assert (hub.reconnects, hub.health.silent) == (0, 0)
    assert await no_event(subscription)


# --- sends while Redis is black-holed or refusing -------------------------------------------

SENDS = 60  # per phase
# Sends start at most this often, so a phase (1.5 s) outlasts the breaker's cooldown (1 s)
# and its trials, which do pay the Redis half's budget, are counted in.
PACE = 0.025


@pytest.fixture
async def store_through_proxy(
    database_url: str, redis_server: RedisServer, proxy: TcpProxy
) -> AsyncIterator[ChatStore]:
    settings = settings_for(database_url, proxied_url(redis_server, proxy))
    async with ChatStore.open(settings) as opened:
        yield opened
        proxy.resume()


@pytest.mark.timeout(60)
async def test_sends_are_as_fast_with_redis_black_holed_or_refusing(
    store_through_proxy: ChatStore, proxy: TcpProxy, capsys: pytest.CaptureFixture[str]
) -> None:
    store = store_through_proxy
    breaker = store._sync.breaker
    alice = await store.users.create(
        email="alice@example.com", username="alice", password="correct horse battery"
    )
    room = await store.rooms.create(name="general", kind="public", created_by=alice.id)

    async def send_times(label: str) -> tuple[list[float], int]:
        """Send latencies, and how often the breaker tripped meanwhile."""
        trips = breaker.trips
        times = []
        for n in range(SENDS):
            started = time.perf_counter()
            await store.send_message(CreateMessage(room.id, alice.id, f"{label} {n}"))
            times.append(time.perf_counter() - started)
            await asyncio.sleep(max(0.0, PACE - times[-1]))
        return times, breaker.trips - trips

    await send_times("warm-up")
    up, _ = await send_times("up")
    proxy.stall()
    stalled, stalled_trips = await send_times("stalled")
    proxy.resume()
    # Back to a closed breaker before the next phase, so it starts by finding Redis gone
    # (the outbox's last trial in the stalled phase may have opened it just as it ended).
    settings = store.settings
    await asyncio.sleep(settings.redis_breaker_seconds + settings.redis_write_budget_seconds + 0.2)
    await store.send_message(CreateMessage(room.id, alice.id, "Redis is back"))
    for _ in range(100):  # the outbox's trial publish, off the sender's path, closes it
        if not breaker.is_open:
            break
        await asyncio.sleep(0.01)
    assert not breaker.is_open
    await proxy.close()  # nothing listens on its port any more: connections are refused
    refusing, refusing_trips = await send_times("refusing")

    budget = store.settings.redis_write_budget_seconds
    phases = {"up": up, "black-holed": stalled, "refusing": refusing}
    medians = {name: statistics.median(times) for name, times in phases.items()}
    figures = ", ".join(
        f"{name} {medians[name] * 1000:.2f} / {max(times) * 1000:.1f} ms"
        for name, times in phases.items()
    )
    report(
        capsys,
        f"send latency, median / max of {SENDS}: {figures}; breaker trips while black-holed "
        f"{stalled_trips}, while refusing {refusing_trips}; Redis halves skipped "
        f"{breaker.skipped}",
    )
    for name in ("black-holed", "refusing"):
        assert medians[name] <= 1.5 * medians["up"] + 0.005, (name, medians)
    # A send pays at most the Redis half's budget (the breaker's trials); the rest skip it.
    assert max(stalled + refusing) < budget + 0.5
    assert stalled_trips >= 1
    assert refusing_trips >= 1
