"""ChatStore: the one object an application holds.

It wires the PostgreSQL pool, the Redis client, the repositories and the realtime parts.
PostgreSQL is the source of truth: a send (edit, delete, read, membership change) commits
there first; only then do the Redis counters move and the event go out (chatstore.live).
When Redis is down that second half is skipped and logged, and the caller still gets the
committed result: no committed message is ever reported as failed.
"""

from __future__ import annotations

import asyncio
import warnings
from collections.abc import AsyncIterator, Iterable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from uuid import UUID

from redis.asyncio import Redis

from chatstore import validation
from chatstore.config import Settings
from chatstore.db import Connection, Database
from chatstore.errors import Unavailable
from chatstore.live import LiveMessageRepository, LiveRoomRepository, RedisSync
from chatstore.models import CreateMessage, Message
from chatstore.queries import BoundQueries
from chatstore.realtime.connection import open_redis
from chatstore.realtime.events import Event, room_channel, user_channel
from chatstore.realtime.presence import Presence
from chatstore.realtime.pubsub import EventHub, Subscription
from chatstore.realtime.sessions import SessionStore
from chatstore.realtime.tasks import stop_task
from chatstore.realtime.typing import Typing
from chatstore.realtime.unread import UnreadCounters
from chatstore.repositories import UserRepository
from chatstore.schema_version import schema_state


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
        self.unread = UnreadCounters(redis, db)
        self._sync = RedisSync(redis, self.unread)
        self.users = UserRepository(db, settings)
        self.rooms = LiveRoomRepository(db, settings, self._sync)
        self.messages = LiveMessageRepository(db, settings, self._sync)
        self.sessions = SessionStore(redis, settings.session_ttl_seconds)
        self.events = hub
        self.presence = Presence(
            redis,
            self._sync.publish,
            heartbeat_ttl=settings.presence_ttl_seconds,
            on_presence_change=self.users.set_online,
        )
        self.typing = Typing(redis, self._sync.publish, ttl=settings.typing_ttl_seconds)

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
                sweepers = [
                    asyncio.create_task(
                        part.run_sweeper(settings.presence_sweep_seconds),
                        name=f"chatstore-{name}-sweeper",
                    )
                    for name, part in (("presence", store.presence), ("typing", store.typing))
                ]
                try:
                    yield store
                finally:
                    for task in sweepers:
                        await stop_task(task)
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
        """Unread messages per room of the user: from Redis (rebuilt from PostgreSQL when
        lost), or straight from PostgreSQL while Redis is down."""
        user = validation.uuid_value("user_id", user_id)
        await self._sync.heal()
        try:
            return await self.unread.counts(user)
        except Unavailable:
            return {entry.room_id: entry.count for entry in await self.messages.unread_counts(user)}

    def subscribe(
        self, *, rooms: Iterable[UUID | str] = (), users: Iterable[UUID | str] = ()
    ) -> Subscription:
        """Events of these rooms (messages, edits, deletes, typing, receipts) and of these
        users (presence), as an async iterator of Event. Use it as `async with`."""
        channels = [room_channel(validation.uuid_value("rooms", r)) for r in rooms]
        channels += [user_channel(validation.uuid_value("users", u)) for u in users]
        return self.events.subscribe(channels)

    async def publish(self, event: Event, channel: str) -> object:
        """Publish an application event in chatstore's envelope on one of its channels."""
        return await self._sync.publish(event, channel)
