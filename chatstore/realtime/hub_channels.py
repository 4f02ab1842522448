"""The event hub's listeners by channel (chatstore.realtime.pubsub): handing each message
to the listeners of its channel, and keeping the SSUBSCRIBEs on the hub's one Redis
connection in step with what they want.

Apart from the hub, which owns the connection (connecting, reading, the health check,
reconnecting), because this is bookkeeping with rules of its own: a channel is SSUBSCRIBEd
once however many listeners want it, the commands go out in batches, and a channel counts as
subscribed (its future resolves) only once Redis has confirmed an SSUBSCRIBE still in force
on the current connection. `HubChannels` sends commands on the connection it is given and
never reads from it: replies belong to the hub's reader, which hands each message back
through `deliver` and each `ssubscribe` confirmation through `confirm`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable

from redis.asyncio.connection import AbstractConnection
from redis.exceptions import ConnectionError as RedisConnectionError

from chatstore.errors import Unavailable
from chatstore.realtime.events import Event
from chatstore.realtime.subscription import Listener

# Bounds how long subscribing waits for Redis to confirm before reporting Unavailable.
SUBSCRIBE_TIMEOUT_SECONDS = 5.0
# Channels per SSUBSCRIBE/SUNSUBSCRIBE: a burst of 10,000 subscribers costs a few commands,
# none of them huge. (Under Redis Cluster one command must stay within one slot; a cluster
# hub would group by slot and hold one connection per shard.)
COMMAND_BATCH = 1000


class HubChannels:
    """The hub's listeners, by channel, and each channel's standing with Redis."""

    def __init__(self) -> None:
        self.listeners: set[Listener] = set()
        self._by_channel: dict[str, set[Listener]] = {}
        # Subscription bookkeeping against Redis, on the current connection:
        self._sent: set[str] = set()  # SSUBSCRIBEd (and not SUNSUBSCRIBEd since)
        self._dirty: set[str] = set()  # wanted state may differ from _sent
        self._inflight: dict[str, int] = {}  # SSUBSCRIBE confirmations still expected
        self._confirmed: dict[str, asyncio.Future[None]] = {}  # wanted, not yet confirmed
        self._lock = asyncio.Lock()

    @property
    def wanted(self) -> frozenset[str]:
        """Channels with at least one listener."""
        return frozenset(self._by_channel)

    def add(self, listener: Listener) -> None:
        self.listeners.add(listener)
        for channel in listener.channels:
            listeners = self._by_channel.get(channel)
            if listeners is None:
                listeners = self._by_channel[channel] = set()
                self._dirty.add(channel)
                if channel not in self._sent or self._inflight.get(channel):
                    self._confirmed[channel] = asyncio.get_running_loop().create_future()
            listeners.add(listener)

    def remove(self, listener: Listener) -> None:
        self.listeners.discard(listener)
        for channel in listener.channels:
            listeners = self._by_channel.get(channel)
            if listeners is None:
                continue
            listeners.discard(listener)
            if not listeners:
                del self._by_channel[channel]
                self._dirty.add(channel)
                future = self._confirmed.pop(channel, None)
                if future is not None:
                    future.cancel()

    def end_all(self) -> None:
        """The hub is closing: end every listener and forget them all."""
        for listener in list(self.listeners):
            listener._end()
        self.listeners.clear()
        self._by_channel.clear()
        for future in self._confirmed.values():
            future.cancel()
        self._confirmed.clear()

    def deliver(self, channel: str, data: str | bytes) -> bool:
        """Hand a message to its channel's listeners; False if it is not our envelope."""
        listeners = self._by_channel.get(channel)
        if not listeners:
            return True  # the last listener left while the message was on its way
        try:
            event = Event.from_json(data)  # once per message, not per listener
        except (ValueError, KeyError, TypeError):
            return False
        for listener in listeners:
            listener._deliver(event)
        return True

    def broadcast(self, event: Event) -> None:
        for listener in self.listeners:
            listener._deliver(event)

    async def wait(self, channels: Iterable[str]) -> None:
        """Wait until Redis confirmed these channels; Unavailable if not in time."""
        pending = [self._confirmed[c] for c in channels if c in self._confirmed]
        if not pending:
            return
        # asyncio.wait, not wait_for: a timeout must not cancel futures others share.
        _, not_done = await asyncio.wait(pending, timeout=SUBSCRIBE_TIMEOUT_SECONDS)
        if not_done:
            raise Unavailable("Redis did not confirm the subscription in time")

    async def sync(self, usable: Callable[[], AbstractConnection | None]) -> None:
        """Send SSUBSCRIBE/SUNSUBSCRIBE for channels whose wanted state changed.
        `usable`: the hub's connection if it is up, else None."""
        async with self._lock:
            # Asked under the lock. Never sent while disconnected: sending would make
            # redis-py reconnect in this task, running the reconnect hook, which waits for
            # this very lock. Nor mid-handshake (connected, not yet up): the reply would be
            # taken for AUTH's.
            conn = usable()
            if conn is None or not self._dirty:
                return
            dirty, self._dirty = self._dirty, set()
            add = [c for c in dirty if c in self._by_channel and c not in self._sent]
            drop = [c for c in dirty if c not in self._by_channel and c in self._sent]
            try:
                await self._send(conn, "SSUBSCRIBE", add)
                await self._send(conn, "SUNSUBSCRIBE", drop)
            except BaseException:
                self._dirty |= dirty
                raise

    async def resubscribe(self, conn: AbstractConnection) -> None:
        """A new socket holds no subscriptions: send every wanted channel on it."""
        async with self._lock:
            self._sent.clear()
            self._inflight.clear()  # confirmations from the old socket will never come
            self._dirty = set(self._by_channel)
            for channel in self._dirty:
                if channel not in self._confirmed:
                    self._confirmed[channel] = asyncio.get_running_loop().create_future()
            dirty, self._dirty = self._dirty, set()
            channels = list(dirty)
            try:
                await self._send(conn, "SSUBSCRIBE", channels)
            except BaseException:
                self._dirty |= dirty
                raise

    async def _send(self, conn: AbstractConnection, command: str, channels: list[str]) -> None:
        subscribing = command == "SSUBSCRIBE"
        for start in range(0, len(channels), COMMAND_BATCH):
            batch = channels[start : start + COMMAND_BATCH]
            # Rechecked per batch: if the reader dropped the socket meanwhile, sending would
            # reconnect from here (see sync).
            if not conn.is_connected:
                raise RedisConnectionError("event hub connection is down")
            # Booked before sending: the reader may see the confirmation before the send
            # returns, and must find the channel already counted.
            self._book(batch, subscribing, undo=False)
            try:
                # check_health=False: a health check would read a reply on this connection,
                # whose replies belong to the reader.
                await conn.send_command(command, *batch, check_health=False)
            except BaseException:
                self._book(batch, subscribing, undo=True)
                raise

    def _book(self, batch: list[str], subscribing: bool, *, undo: bool) -> None:
        if subscribing != undo:
            self._sent.update(batch)
        else:
            self._sent.difference_update(batch)
        if subscribing:
            step = -1 if undo else 1
            for channel in batch:
                self._inflight[channel] = self._inflight.get(channel, 0) + step

    def confirm(self, channel: str) -> None:
        """Redis confirmed an SSUBSCRIBE of `channel` (the reader saw `ssubscribe`)."""
        remaining = self._inflight.get(channel, 0) - 1
        if remaining > 0:
            self._inflight[channel] = remaining
            return
        self._inflight.pop(channel, None)
        if channel not in self._sent:
            return  # confirms an SSUBSCRIBE that a SUNSUBSCRIBE has already undone
        future = self._confirmed.pop(channel, None)
        if future is not None and not future.done():
            future.set_result(None)
