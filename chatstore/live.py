"""The repositories as ChatStore hands them out: PostgreSQL first, then Redis.

Each write commits in PostgreSQL through the plain repository, appending its change-log
entries in the same transaction (the store publishes those once committed). Then the Redis
half runs: unread counters move, and read receipts (ephemeral, not logged) are published.
Redis trouble never fails the call: the data is safe, only a counter update or a receipt
notice is lost, and the counters it touched are dropped once Redis answers again, so they
are rebuilt from PostgreSQL.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from uuid import UUID

from redis.asyncio import Redis

from chatstore.config import Settings
from chatstore.db import Database
from chatstore.errors import ChatStoreError
from chatstore.models import CreateMessage, Member, Message, Receipt, Role, Room, RoomKind
from chatstore.realtime.breaker import Breaker
from chatstore.realtime.events import Event, room_channel
from chatstore.realtime.pubsub import publish
from chatstore.realtime.sessions import SessionStore
from chatstore.realtime.unread import UnreadCounters
from chatstore.repositories import MessageRepository, RoomRepository, UserRepository

log = logging.getLogger("chatstore")

Step = Callable[[], Awaitable[object]]


class RedisSync:
    """Runs the Redis half of committed writes, and heals counters after Redis was down.

    A circuit breaker (chatstore.realtime.breaker) bounds what that half can add to a write:
    at most `budget` seconds while Redis misbehaves, nothing while the breaker is open."""

    def __init__(self, redis: Redis, unread: UnreadCounters, breaker: Breaker) -> None:
        self.redis = redis
        self.unread = unread
        self.breaker = breaker
        self._stale_rooms: set[UUID] = set()
        self._stale_users: set[UUID] = set()
        # Users whose sessions must end (password changed, account deleted) but Redis did
        # not answer when asked: revoked as soon as it does, before anything else.
        self._unrevoked: dict[UUID, SessionStore] = {}

    async def publish(self, event: Event, channel: str) -> object:
        return await publish(self.redis, event, channel)

    async def run(
        self, steps: Iterable[Step], *, rooms: Iterable[UUID] = (), users: Iterable[UUID] = ()
    ) -> None:
        """Run the steps within the breaker's budget; on Redis trouble (or an open breaker)
        skip the rest, mark the counters they would have moved stale, and go on."""
        if not self.breaker.allow():
            self._stale_rooms.update(rooms)
            self._stale_users.update(users)
            return
        try:
            async with asyncio.timeout(self.breaker.budget):
                await self._heal()
                for step in steps:
                    await step()
        except (ChatStoreError, TimeoutError) as exc:
            log.warning("redis update after commit skipped: %s", str(exc) or "over its time budget")
            self.breaker.failed()
            self._stale_rooms.update(rooms)
            self._stale_users.update(users)
        else:
            self.breaker.succeeded()

    async def heal(self) -> None:
        """Drop counters that missed writes, once Redis answers, so they are rebuilt."""
        if not self.breaker.allow():
            return
        try:
            async with asyncio.timeout(self.breaker.budget):
                await self._heal()
        except (ChatStoreError, TimeoutError):
            self.breaker.failed()  # still down; a later write or read tries again
        else:
            self.breaker.succeeded()

    async def revoke_sessions(self, sessions: SessionStore, user: UUID) -> None:
        """End every session of the user now, or as soon as Redis answers again."""
        self._unrevoked[user] = sessions
        await self.run([])

    async def _heal(self) -> None:
        for user, sessions in list(self._unrevoked.items()):
            await sessions.revoke_all(user)
            del self._unrevoked[user]
        for room in list(self._stale_rooms):
            await self.unread.invalidate_room(room)
            self._stale_rooms.discard(room)
        for user in list(self._stale_users):
            await self.unread.invalidate_user(user)
            self._stale_users.discard(user)


class LiveMessageRepository(MessageRepository):
    """MessageRepository whose writes also move counters and publish events."""

    def __init__(self, db: Database, settings: Settings, sync: RedisSync) -> None:
        super().__init__(db, settings)
        self._sync = sync

    async def create(self, message: CreateMessage) -> Message:
        sent = await super().create(message)
        await self._db.after_commit(
            lambda: self._sync.run(
                [
                    lambda: (
                        self._sync.unread.message_sent(sent.room_id, sent.seq, sent.sender_id)
                        if sent.sender_id is not None
                        else self._sync.unread.invalidate_room(sent.room_id)
                    ),
                ],
                rooms=[sent.room_id],
                users=[] if sent.sender_id is None else [sent.sender_id],
            )
        )
        return sent

    async def delete(self, message_id: UUID | str, *, acting_user_id: UUID | str) -> Message:
        deleted = await super().delete(message_id, acting_user_id=acting_user_id)
        await self._db.after_commit(
            lambda: self._sync.run(
                [lambda: self._sync.unread.message_deleted(deleted.room_id, deleted.seq)],
                rooms=[deleted.room_id],
            )
        )
        return deleted

    async def mark_as_read(self, message_id: UUID | str, user_id: UUID | str) -> Receipt:
        receipt, seq = await self._mark_read(message_id, user_id)
        event = Event(
            "receipt.read",
            room_id=receipt.room_id,
            seq=seq,
            payload={
                "message_id": str(receipt.message_id),
                "user_id": str(receipt.user_id),
                "read_at": receipt.read_at.isoformat(),
            },
        )
        await self._db.after_commit(
            lambda: self._sync.run(
                [
                    lambda: self._sync.unread.marked_read(receipt.room_id, receipt.user_id, seq),
                    lambda: self._sync.publish(event, room_channel(receipt.room_id)),
                ],
                users=[receipt.user_id],
            )
        )
        return receipt


class LiveRoomRepository(RoomRepository):
    """RoomRepository whose membership changes also update the unread counters."""

    def __init__(self, db: Database, settings: Settings, sync: RedisSync) -> None:
        super().__init__(db, settings)
        self._sync = sync

    async def _after(
        self, steps: list[Step], *, users: Iterable[UUID] = (), rooms: Iterable[UUID] = ()
    ) -> None:
        await self._db.after_commit(
            lambda: self._sync.run(steps, users=list(users), rooms=list(rooms))
        )

    async def create(
        self,
        *,
        name: str,
        kind: RoomKind,
        created_by: UUID | str,
        description: str | None = None,
    ) -> Room:
        room = await super().create(
            name=name, kind=kind, created_by=created_by, description=description
        )
        owner = UUID(str(created_by))
        await self._after(
            [lambda: self._sync.unread.member_joined(room.id, owner, 0)], users=[owner]
        )
        return room

    async def get_or_create_direct(self, user_a: UUID | str, user_b: UUID | str) -> Room:
        room = await super().get_or_create_direct(user_a, user_b)
        pair = [UUID(str(user_a)), UUID(str(user_b))]
        # Marker 0 for a new room; for an existing one the forward-only write changes nothing.
        first, second = pair
        await self._after(
            [
                lambda: self._sync.unread.member_joined(room.id, first, 0),
                lambda: self._sync.unread.member_joined(room.id, second, 0),
            ],
            users=pair,
        )
        return room

    async def add_member(
        self,
        room_id: UUID | str,
        user_id: UUID | str,
        *,
        role: Role = "member",
        acting_user_id: UUID | str | None = None,
    ) -> Member:
        member = await super().add_member(
            room_id, user_id, role=role, acting_user_id=acting_user_id
        )
        await self._after(
            [
                lambda: self._sync.unread.member_joined(
                    member.room_id, member.user_id, member.last_read_seq
                )
            ],
            users=[member.user_id],
        )
        return member

    async def remove_member(
        self,
        room_id: UUID | str,
        user_id: UUID | str,
        *,
        acting_user_id: UUID | str | None = None,
    ) -> None:
        await super().remove_member(room_id, user_id, acting_user_id=acting_user_id)
        user = UUID(str(user_id))
        await self._after([lambda: self._sync.unread.member_left(room_id, user)], users=[user])

    async def delete(self, room_id: UUID | str, *, acting_user_id: UUID | str) -> None:
        await super().delete(room_id, acting_user_id=acting_user_id)
        room = UUID(str(room_id))
        # Members' marker sets still name the room; counting leaves out rooms PostgreSQL
        # no longer has once the room's own state is gone.
        await self._after([lambda: self._sync.unread.invalidate_room(room)], rooms=[room])


class LiveUserRepository(UserRepository):
    """UserRepository whose password changes and deletions also end every session of the
    user, once the change has committed."""

    def __init__(
        self, db: Database, settings: Settings, sync: RedisSync, sessions: SessionStore
    ) -> None:
        super().__init__(db, settings)
        self._sync = sync
        self._sessions = sessions

    async def change_password(
        self, user_id: UUID | str, *, current_password: str, new_password: str
    ) -> None:
        await super().change_password(
            user_id, current_password=current_password, new_password=new_password
        )
        await self._end_sessions(user_id)

    async def delete(self, user_id: UUID | str) -> None:
        await super().delete(user_id)
        await self._end_sessions(user_id)

    async def _end_sessions(self, user_id: UUID | str) -> None:
        user = UUID(str(user_id))  # validated by the call that just succeeded
        await self._db.after_commit(lambda: self._sync.revoke_sessions(self._sessions, user))
