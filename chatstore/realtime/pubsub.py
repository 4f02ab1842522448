"""Publishing events, and one shared Redis subscriber per process for all local listeners.

Sharded pub/sub (SPUBLISH/SSUBSCRIBE) for room and user channels alike: standalone Redis 7
accepts it as it is, and under Redis Cluster it is the kind that routes by the channel's hash
tag and re-subscribes by itself after a failover (see docs/architecture.md, "Growing past
one machine").
A message SPUBLISHed reaches only SSUBSCRIBErs, so publisher and hub must agree: both are here.

`EventHub` holds ONE subscriber connection, whatever the number of listeners: a channel is
SSUBSCRIBEd when its first local listener arrives and SUNSUBSCRIBEd when its last one leaves.
A background reader parses each message once and hands it to each listener's bounded queue
with `put_nowait`, so a slow listener never slows the others (the listeners by channel, and
the subscription bookkeeping against Redis: chatstore.realtime.hub_channels). A listener is
told to catch up ("messages after seq N") with a `subscription.resync` event whenever it
may have missed something: after a reconnect, after its queue overflowed, or when a room's
seq jumped.

A dead subscriber connection is noticed within 5 s (HEALTH_CHECK_BOUND_SECONDS), even one
that died silently: the reader PINGs its own connection after 2 s of silence and drops it
when 3 s more pass with nothing arriving (chatstore.realtime.hub_health); it then reconnects
with backoff and every listener gets a resync. `hub.connected` says False meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable
from types import TracebackType
from typing import Any, Self

from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.asyncio.connection import AbstractConnection
from redis.exceptions import RedisError

from chatstore import validation
from chatstore.errors import ChatStoreError, Unavailable
from chatstore.realtime.connection import redis_errors
from chatstore.realtime.events import Event, encoded
from chatstore.realtime.hub_channels import HubChannels
from chatstore.realtime.hub_health import (
    HEALTH_CHECK_INTERVAL_SECONDS,
    HEALTH_CHECK_TIMEOUT_SECONDS,
    Liveness,
)
from chatstore.realtime.subscription import Listener, Subscription, resync_event
from chatstore.realtime.tasks import stop_task

log = logging.getLogger(__name__)

QUEUE_SIZE = 1000  # per listener; a listener this far behind is better off catching up
# The longest single read; the reader wakes sooner when a health check is due.
READ_POLL_SECONDS = 1.0
RECONNECT_BACKOFF_MIN_SECONDS = 0.1
RECONNECT_BACKOFF_MAX_SECONDS = 2.0
# Far above chatstore's own names (`room:{<uuid>}`); a longer one is not a channel name.
CHANNEL_MAX = 1000


async def publish(redis: Redis, event: Event, channel: str) -> int:
    """SPUBLISH the event's JSON; returns how many subscriber connections received it.

    Raises ValidationError for something that is not an Event, one that does not encode as
    JSON, or a channel that is not text Redis can carry; Unavailable when Redis cannot be
    reached (ConfigurationError for refused credentials), never a raw redis-py exception.
    """
    data = encoded(event)
    name = validation.text("channel", channel, max_chars=CHANNEL_MAX)
    with redis_errors():
        receivers = await redis.spublish(name, data)
    return int(receivers)


def _text(value: str | bytes) -> str:
    # Channel names arrive as bytes or str depending on the client's decode_responses.
    return value if isinstance(value, str) else value.decode()


class EventHub:
    """All of a process's listeners on one Redis subscriber connection.

    `async with EventHub(redis) as hub:` (or `await hub.start()` / `await hub.close()`).
    `redis` is the process's client; the hub takes one connection from its pool. A dead
    connection is noticed within `health_interval + health_timeout` seconds
    (HEALTH_CHECK_BOUND_SECONDS, 5 s, at the defaults; see chatstore.realtime.hub_health).
    """

    def __init__(
        self,
        redis: Redis,
        *,
        queue_size: int = QUEUE_SIZE,
        health_interval: float = HEALTH_CHECK_INTERVAL_SECONDS,
        health_timeout: float = HEALTH_CHECK_TIMEOUT_SECONDS,
    ) -> None:
        self._redis = redis
        self._queue_size = queue_size
        self.health = Liveness(health_interval, health_timeout)
        # False from the moment the reader gives a connection up until a new one has
        # finished its handshake: redis-py calls a half-made connection connected already.
        self._up = False
        self._pubsub: PubSub | None = None
        self._reader: asyncio.Task[None] | None = None
        self._writer: asyncio.Task[None] | None = None
        self._channels = HubChannels()
        self._wake_writer = asyncio.Event()
        self._reconnected = False
        self.malformed = 0  # payloads dropped because they were not our envelope
        self.reconnects = 0

    # --- lifecycle ---------------------------------------------------------------------

    async def start(self) -> None:
        if self._pubsub is not None:
            return
        pubsub = self._redis.pubsub()
        # redis-py leaves PubSub.connect and aclose unannotated, hence the ignores.
        try:
            with redis_errors():
                await pubsub.connect()  # type: ignore[no-untyped-call]
        except ChatStoreError:
            await pubsub.aclose()  # type: ignore[no-untyped-call]
            raise
        assert pubsub.connection is not None
        # Registered after the first connect, so it fires on reconnects only. redis-py
        # reconnects inside its own retries too; this hook sees those as well.
        pubsub.connection.register_connect_callback(self._on_reconnect)
        self._pubsub = pubsub
        self._up = True
        self.health.heard()
        self._reader = asyncio.create_task(self._read_loop(), name="chatstore-eventhub-reader")
        self._writer = asyncio.create_task(self._write_loop(), name="chatstore-eventhub-writer")
        self._wake_writer.set()  # listeners added before start()

    async def close(self) -> None:
        for task in (self._reader, self._writer):
            if task is not None:
                await stop_task(task)
        self._reader = self._writer = None
        self._up = False
        self._channels.end_all()
        if self._pubsub is not None:
            pubsub, self._pubsub = self._pubsub, None
            if pubsub.connection is not None:
                pubsub.connection.deregister_connect_callback(self._on_reconnect)
            with contextlib.suppress(RedisError, OSError):
                await pubsub.aclose()  # type: ignore[no-untyped-call]

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # --- listeners ---------------------------------------------------------------------

    def subscribe(self, channels: Iterable[str]) -> Subscription:
        """A new listener on these channels; `async with` it (or `await sub.ready()`)."""
        subscription = Subscription(self, frozenset(channels), self._queue_size)
        self.attach(subscription)
        return subscription

    def attach(self, listener: Listener) -> None:
        """Add any listener (a Subscription, or chatstore's per-room feed) on its channels.
        `await hub.wait_subscribed(listener.channels)` waits for Redis to confirm them."""
        self._channels.add(listener)
        self._wake_writer.set()

    def detach(self, listener: Listener) -> None:
        """Remove a listener; a channel nobody listens to any more is unsubscribed."""
        self._remove(listener)

    def _remove(self, subscription: Listener) -> None:
        self._channels.remove(subscription)
        self._wake_writer.set()

    async def wait_subscribed(self, channels: Iterable[str]) -> None:
        """Wait until Redis confirmed these channels; Unavailable if not in time, and at
        once while the hub is disconnected (it subscribes them when Redis is back)."""
        if not self.connected:
            raise Unavailable("the event hub is not connected to Redis")
        await self._wait_subscribed(channels)

    async def _wait_subscribed(self, channels: Iterable[str]) -> None:
        await self._channels.wait(channels)

    # --- keeping Redis in step with the listeners ----------------------------------------

    async def _write_loop(self) -> None:
        while True:
            await self._wake_writer.wait()
            self._wake_writer.clear()
            try:
                await self._channels.sync(self._usable_connection)
            except (RedisError, OSError) as error:
                # The reader sees the same broken connection and reconnects; the reconnect
                # hook then re-sends every wanted channel.
                log.debug("event hub could not update subscriptions: %s", error)

    async def _on_reconnect(self, conn: AbstractConnection) -> None:
        """redis-py's connect hook: a new socket holds no subscriptions; send them all."""
        self._reconnected = True
        self.reconnects += 1
        self._up = True
        self.health.heard()  # a fresh connection gets a full interval before its first PING
        await self._channels.resubscribe(conn)

    def _connection(self) -> AbstractConnection | None:
        return None if self._pubsub is None else self._pubsub.connection

    def _usable_connection(self) -> AbstractConnection | None:
        return self._connection() if self.connected else None

    # --- reading -----------------------------------------------------------------------

    async def _read_loop(self) -> None:
        assert self._pubsub is not None
        pubsub = self._pubsub
        delay = RECONNECT_BACKOFF_MIN_SECONDS
        while True:
            try:
                assert pubsub.connection is not None
                await self.health.check(pubsub.connection)
                message = await pubsub.get_message(timeout=self.health.wait(READ_POLL_SECONDS))
            except UnicodeDecodeError:
                # A payload that is not UTF-8, on a client with decode_responses=True. The
                # parser has consumed that reply and stays in step: one malformed message.
                self.health.heard()
                self.malformed += 1
                continue
            except Exception as error:
                # Broad on purpose: whatever breaks the read (connection, timeout, a parser
                # surprise), the reader must outlive it. A fresh socket is the cure for all.
                log.warning("event hub lost Redis, retrying in %.1f s: %r", delay, error)
                await self._drop_connection()
                await asyncio.sleep(delay)
                delay = min(delay * 2, RECONNECT_BACKOFF_MAX_SECONDS)
                continue
            delay = RECONNECT_BACKOFF_MIN_SECONDS
            if message is not None:
                self.health.heard()
            try:
                if self._reconnected:
                    # Before anything read from the new socket, so the notice comes first.
                    self._reconnected = False
                    self._channels.broadcast(resync_event("reconnected"))
                if message is not None:
                    self._handle(message)
            except Exception:
                # A bug in dispatch must not silence every listener of the process.
                log.exception("event hub failed to dispatch a message")

    async def _drop_connection(self) -> None:
        # Closed explicitly so the next read reconnects instead of reading a dead socket
        # again (redis-py leaves it open when its own retries are used up or disabled).
        self._up = False
        conn = self._connection()
        if conn is not None:
            with contextlib.suppress(RedisError, OSError):
                await conn.disconnect(nowait=True)

    def _handle(self, message: dict[str, Any]) -> None:
        kind = message["type"]
        if kind == "smessage":
            channel = _text(message["channel"])
            if not self._channels.deliver(channel, message["data"]):
                self.malformed += 1
                log.debug("event hub dropped a malformed message on %s", channel)
        elif kind == "ssubscribe":
            self._channels.confirm(_text(message["channel"]))

    # --- introspection -----------------------------------------------------------------

    @property
    def channels(self) -> frozenset[str]:
        """Channels with at least one local listener."""
        return self._channels.wanted

    @property
    def listener_count(self) -> int:
        return len(self._channels.listeners)

    @property
    def connected(self) -> bool:
        """Whether the subscriber connection is up: False within `health.bound` seconds of
        it dying (HEALTH_CHECK_BOUND_SECONDS at the defaults), True again once the hub has
        reconnected and re-sent its subscriptions."""
        conn = self._connection()
        return self._up and conn is not None and conn.is_connected
