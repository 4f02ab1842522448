"""ChatStore: the one object an application holds.

It wires the PostgreSQL pool, the Redis client, the repositories and the realtime parts.
PostgreSQL is the source of truth: a send (edit, delete, read, membership change) commits
there first; only then do the Redis counters move and the event go out (chatstore.live).
When Redis is down that second half is skipped and logged, and the caller still gets the
committed result: no committed message is ever reported as failed.
"""

from __future__ import annotations

import asyncio
import logging
import warnings
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from redis.asyncio import Redis

from chatstore import validation
from chatstore.config import Settings
from chatstore.db import Connection, Database
from chatstore.errors import ChatStoreError, ValidationError
from chatstore.live import (
    LiveMessageRepository,
    LiveUserRepository,
    RedisSync,
)
from chatstore.live_threads import LiveThreads
from chatstore.models import CreateMessage, LogEntry, Message
from chatstore.queries import BoundQueries
from chatstore.realtime.breaker import Breaker
from chatstore.realtime.connection import open_redis
from chatstore.realtime.events import Event, room_channel
from chatstore.realtime.feed import RoomFeed
from chatstore.realtime.outbox import Outbox
from chatstore.realtime.presence import Presence
from chatstore.realtime.presence import device_id as presence_device_id
from chatstore.realtime.publishing import entry_messages
from chatstore.realtime.pubsub import EventHub
from chatstore.realtime.sessions import SessionStore
from chatstore.realtime.stream import ClientStream
from chatstore.realtime.tasks import stop_task
from chatstore.realtime.typing import MemberTyping
from chatstore.repositories import EventLogRepository
from chatstore.repositories.mentions import MentionRepository
from chatstore.repositories.pins import PinRepository
from chatstore.repositories.reactions import ReactionRepository
from chatstore.repositories.room_directory import StoreRoomRepository
from chatstore.schema_version import schema_state

# Presence followed by default: the users who share a room with the connecting one.
FOLLOW_LIMIT = 1000
PRUNE_EVERY_SECONDS = 600.0
PRUNE_BATCH = 10_000
log = logging.getLogger("chatstore")


def _mapping(field: str, value: object) -> Mapping[Any, Any]:
    if not isinstance(value, Mapping):
        raise ValidationError(field, "must be a mapping of room id to event_seq")
    return value


class SchemaNewerWarning(UserWarning):
    """The database has migrations this chatstore does not know: a newer version applied
    them (as in a rolling deploy). chatstore still opens; upgrade it to match."""


class ChatStore:
    """Open it with `async with ChatStore.open():` (settings from the environment)."""

    def __init__(self, db: Database, redis: Redis, hub: EventHub, settings: Settings) -> None:
        self.settings = settings
        self.db = db
        self.redis = redis
        # chatstore's queries and the application's own (Settings.sql_paths), each callable
        # without a connection: `await store.queries.<file>.<query>(**params)`.
        self.queries = BoundQueries(db)
        # One breaker for all of the Redis half of writes: the outbox's publishes and the
        # session revocations RedisSync retries.
        breaker = Breaker(
            budget=settings.redis_write_budget_seconds, cooldown=settings.redis_breaker_seconds
        )
        self._sync = RedisSync(redis, breaker)
        self.outbox = Outbox(redis, breaker)
        self.sessions = SessionStore(redis, settings.session_ttl_seconds, db)
        self.users = LiveUserRepository(db, settings, self._sync, self.sessions)
        # Rooms and membership, plus the public room directory (public_rooms).
        self.rooms = StoreRoomRepository(db, settings)
        self.messages = LiveMessageRepository(db, settings, self.outbox)
        # Reactions and pins append their entries to the room's log like messages do; the
        # entries reach the outbox through db.log_publisher once committed.
        self.reactions = ReactionRepository(db, settings)
        self.pins = PinRepository(db, settings)
        # Mentions resolved in text, and each user's inbox of them (reads only).
        self.mentions = MentionRepository(db, settings)
        # Thread pages, follows (logged like reactions) and thread read markers (published
        # to the user's own channel, as room markers are).
        self.threads = LiveThreads(db, settings, self.outbox)
        self.events = hub
        self.presence = Presence(
            redis,
            self._sync.publish,
            heartbeat_ttl=settings.presence_ttl_seconds,
            on_presence_change=self.users.set_online,
            last_seen=self._last_seen,
        )
        self.typing = MemberTyping(
            redis, self._sync.publish, self.rooms.require_member, ttl=settings.typing_ttl_seconds
        )
        # The room change log, and this process's ordered feed of it (see docs/architecture.md).
        self.log = EventLogRepository(db, settings)
        self.feed = RoomFeed(
            hub,
            self.log,
            gap_wait=settings.stream_gap_wait_seconds,
            poll_interval=settings.stream_poll_seconds,
        )
        db.log_publisher = self._publish_entries

    @classmethod
    @asynccontextmanager
    async def open(cls, settings: Settings | None = None) -> AsyncIterator[ChatStore]:
        """Settings default to the environment (see the README's table). A wrong password
        for either server, or a database missing any of this chatstore's migrations, fails
        here with ConfigurationError; an unreachable server with Unavailable."""
        settings = settings or Settings.from_env()
        async with Database.open(settings) as db:
            state = await schema_state(db)
            state.require_current()
            if state.unknown:
                warnings.warn(
                    f"chatstore: the database schema is {state.describe()}",
                    SchemaNewerWarning,
                    stacklevel=3,
                )
            redis = await open_redis(settings)
            hub = EventHub(redis)
            try:
                await hub.start()
                store = cls(db, redis, hub, settings)
                store.outbox.start()
                await store.feed.start()
                sweepers = [
                    asyncio.create_task(
                        part.run_sweeper(settings.presence_sweep_seconds),
                        name=f"chatstore-{name}-sweeper",
                    )
                    for name, part in (("presence", store.presence), ("typing", store.typing))
                ]
                sweepers.append(
                    asyncio.create_task(store._prune_log(), name="chatstore-log-pruner")
                )
                sweepers.append(
                    asyncio.create_task(
                        store._sync.retry_forever(settings.redis_breaker_seconds),
                        name="chatstore-redis-retry",
                    )
                )
                try:
                    yield store
                finally:
                    db.log_publisher = None
                    for task in sweepers:
                        await stop_task(task)
                    await store.outbox.close()  # what committed writes left to publish
                    await store.feed.close()
            finally:
                await hub.close()
                await redis.aclose()

    def transaction(self) -> AbstractAsyncContextManager[Connection]:
        """`async with store.transaction():` makes the calls inside commit or roll back
        together; their events go out after the commit (and not at all on rollback)."""
        return self.db.transaction()

    async def send_message(self, message: CreateMessage) -> Message:
        """Send end to end: commit in PostgreSQL, then counters and the published event."""
        return await self.messages.create(message)

    async def unread_counts(self, user_id: UUID | str) -> dict[UUID, int]:
        """Unread messages per room of the user, counted exactly by PostgreSQL in one
        statement (messages from others after the read marker, deletions left out)."""
        return await self.messages.unread_count_map(user_id)

    async def mark_all_read(self, user_id: UUID | str) -> int:
        """Every room of the user read up to its last message, in one statement (no read
        receipts); how many read markers moved. The user's devices hear `marker.all_read`."""
        return await self.messages.mark_all_read(user_id)

    def connect(
        self,
        user_id: UUID | str,
        device_id: str,
        *,
        cursors: Mapping[UUID, int] | Mapping[str, int] | None = None,
        follow: Iterable[UUID | str] | None = None,
    ) -> AbstractAsyncContextManager[ClientStream]:
        """One connected client, as a WebSocket handler holds it:

            async with store.connect(user.id, "phone-1", cursors=saved) as stream:
                send(stream.snapshot_rooms, stream.snapshot_online)
                async for event in stream: ...

        Yields every change-log entry of the user's rooms after `cursors` (room id ->
        event_seq; a room without one starts now), exactly once and in order per room,
        following joins and removals live; plus typing in those rooms and presence of the
        users in `follow` (default: up to 1,000 users who share a room with this one).
        `stream.cursors` says where to resume. The device is online while connected.
        """
        return self._connect(user_id, device_id, cursors, follow)

    @asynccontextmanager
    async def _connect(
        self,
        user_id: UUID | str,
        device_id: str,
        cursors: Mapping[UUID, int] | Mapping[str, int] | None,
        follow: Iterable[UUID | str] | None,
    ) -> AsyncIterator[ClientStream]:
        user = validation.uuid_value("user_id", user_id)
        device = presence_device_id(device_id)
        # None only: an empty string or 0 given as cursors is a mistake, not "no cursors".
        positions = {
            validation.uuid_value("cursors", room): validation.seq("cursors", seq)
            for room, seq in _mapping("cursors", {} if cursors is None else cursors).items()
        }
        if follow is None:
            rows = await self.queries.presence.co_members(user_id=user, limit=FOLLOW_LIMIT)
            followed = [row["user_id"] for row in rows]
        else:
            followed = validation.uuid_list("follow", follow)
        stream = ClientStream(
            user_id=user,
            device_id=device,
            cursors=positions,
            follow=followed,
            feed=self.feed,
            hub=self.events,
            event_log=self.log,
            presence=self.presence,
            rooms=self.rooms,
        )
        async with stream:
            yield stream

    async def append_event(
        self, room_id: UUID | str, type: str, payload: Mapping[str, Any], *, actor_id: UUID | str
    ) -> LogEntry:
        """An application's own reliable event on the room's stream (a change-log entry,
        delivered with the same guarantee as messages). `type` is a dotted lowercase name
        outside chatstore's own prefixes, e.g. `app.poll_closed`."""
        return await self.log.append(room_id, type, payload, actor_id=actor_id)

    async def publish_ephemeral(
        self, room_id: UUID | str, type: str, payload: Mapping[str, Any], *, user_id: UUID | str
    ) -> None:
        """An application's own ephemeral event in a room (no log entry: lost if nobody is
        listening or Redis is down), from a member of the room."""
        room = validation.uuid_value("room_id", room_id)
        sender = validation.uuid_value("user_id", user_id)
        kind = validation.event_type("type", type)
        body = validation.json_object("payload", payload)
        await self.rooms.require_member(room, sender)
        event = Event(type=kind, room_id=room, payload={**body, "user_id": str(sender)})
        await self._sync.publish(event, room_channel(room))

    async def _last_seen(self, user_ids: list[UUID]) -> dict[UUID, datetime | None]:
        rows = await self.queries.presence.last_seen_many(user_ids=user_ids)
        return {row["user_id"]: row["last_seen_at"] for row in rows}

    async def _publish_entries(self, entries: Sequence[LogEntry]) -> None:
        self.outbox.put(entry_messages(entries))

    async def _prune_log(self) -> None:
        retention = timedelta(hours=self.settings.log_retention_hours)
        while True:
            removed = 0
            try:
                removed = await self.log.prune(retention, PRUNE_BATCH)
            except ChatStoreError as error:
                log.warning("pruning the change log failed: %s", error)
            # A full batch means more is due: carry on shortly, in bounded steps.
            await asyncio.sleep(1.0 if removed >= PRUNE_BATCH else PRUNE_EVERY_SECONDS)
