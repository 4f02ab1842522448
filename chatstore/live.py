"""The repositories as ChatStore hands them out: PostgreSQL first, then Redis.

Each write commits in PostgreSQL through the plain repository, appending its change-log
entries in the same transaction. What Redis must hear once it has committed (those entries,
a read receipt or a moved read marker, which are ephemeral and not logged) goes to the
outbox and is sent off the caller's path (chatstore.realtime.outbox); sessions to end are
asked of Redis after the commit within a circuit breaker's budget. Redis trouble never fails
the call: the data is safe in PostgreSQL, listeners fill gaps from the change log, and
session revocations are retried first thing once Redis answers again.

Unread counts are not kept in Redis: PostgreSQL counts them exactly in one statement from
per-room seqs (members.unread_counts), faster than the Redis counters it replaced and
right even when PostgreSQL is written outside chatstore (README, "Unread counts").
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from uuid import UUID

from redis.asyncio import Redis

from chatstore.config import Settings
from chatstore.conversation_models import ReadMarker
from chatstore.db import Database
from chatstore.errors import ChatStoreError
from chatstore.models import Receipt
from chatstore.realtime.breaker import Breaker
from chatstore.realtime.events import Event, room_channel, user_channel
from chatstore.realtime.outbox import Outbox
from chatstore.realtime.pubsub import publish
from chatstore.realtime.sessions import SessionStore
from chatstore.repositories import MessageRepository, UserRepository
from chatstore.repositories.read_markers import ReadMarkerRepository

log = logging.getLogger("chatstore")

Step = Callable[[], Awaitable[object]]


class RedisSync:
    """Runs the Redis half of committed writes within a circuit breaker's budget.

    The breaker (chatstore.realtime.breaker) bounds what that half can add to a write: at
    most `budget` seconds while Redis misbehaves, nothing while the breaker is open."""

    def __init__(self, redis: Redis, breaker: Breaker) -> None:
        self.redis = redis
        self.breaker = breaker
        # Session stores holding revocations (password changed, account deleted) whose
        # Redis copies are not deleted yet: Redis did not answer. Flushed as soon as it does,
        # before anything else (the stores also flush them before their own next call).
        self._unrevoked: set[SessionStore] = set()

    async def publish(self, event: Event, channel: str) -> object:
        return await publish(self.redis, event, channel)

    async def run(self, steps: Iterable[Step]) -> None:
        """Run the steps within the breaker's budget; on Redis trouble (or an open breaker)
        skip the rest and go on: what they carried is in PostgreSQL's change log."""
        if not self.breaker.allow():
            return
        try:
            async with asyncio.timeout(self.breaker.budget):
                await self._heal()
                for step in steps:
                    await step()
        except (ChatStoreError, TimeoutError) as exc:
            log.warning("redis update after commit skipped: %s", str(exc) or "over its time budget")
            self.breaker.failed()
        else:
            self.breaker.succeeded()

    async def revoke_sessions(self, sessions: SessionStore, user: UUID) -> None:
        """End the Redis copies of every session of the user now, or as soon as Redis
        answers again. Their PostgreSQL rows went with the commit, so the fallback refuses
        them already, and `sessions` refuses their Redis copies from this call on."""
        sessions.mark_revoked(user)
        self._unrevoked.add(sessions)
        await self.run([])

    async def retry_forever(self, interval: float) -> None:
        """Retry what Redis missed (session revocations) every `interval` seconds, so a
        process with no writes to carry it catches up as soon as Redis answers too."""
        while True:
            await asyncio.sleep(interval)
            if self._unrevoked:
                await self.run([])

    async def _heal(self) -> None:
        for sessions in list(self._unrevoked):
            await sessions.flush_revoked()
            self._unrevoked.discard(sessions)


async def publish_after_commit(db: Database, outbox: Outbox, channel: str, event: Event) -> None:
    """Put an ephemeral event in the outbox once the caller's transaction commits (at once
    outside one): never for a write that rolled back, never on the caller's path to Redis."""
    notice = (channel, event.to_json())

    async def publish() -> None:
        outbox.put([notice])

    await db.after_commit(publish)


class LiveReadMarkers(ReadMarkerRepository):
    """ReadMarkerRepository whose moves are also published, once committed, on the user's
    own channel, so the user's other devices clear their unread badges: `marker.moved`
    (payload: user_id, last_read_seq, unread_count, unread_mention_count; the envelope's
    room_id and seq) and `marker.all_read` (payload: user_id, moved_count). A call that
    moved nothing publishes nothing: the user's devices heard of that marker when it
    moved."""

    def __init__(self, db: Database, settings: Settings, outbox: Outbox) -> None:
        super().__init__(db, settings)
        self._outbox = outbox

    async def mark_read_up_to(
        self, room_id: UUID | str, user_id: UUID | str, seq: int | None = None
    ) -> ReadMarker:
        marker, announce = await self._move(room_id, user_id, seq)
        if announce:
            event = Event(
                "marker.moved",
                room_id=marker.room_id,
                seq=marker.last_read_seq,
                payload={
                    "user_id": str(marker.user_id),
                    "last_read_seq": marker.last_read_seq,
                    "unread_count": marker.unread_count,
                    "unread_mention_count": marker.unread_mention_count,
                },
            )
            await self._publish(marker.user_id, event)
        return marker

    async def mark_all_read(self, user_id: UUID | str) -> int:
        moved, announce = await self._move_all(user_id)
        if announce:
            user = UUID(str(user_id))  # validated by the call that just succeeded
            payload = {"user_id": str(user), "moved_count": moved}
            await self._publish(user, Event("marker.all_read", payload=payload))
        return moved

    async def _publish(self, user: UUID, event: Event) -> None:
        await publish_after_commit(self._db, self._outbox, user_channel(user), event)


class LiveMessageRepository(MessageRepository):
    """MessageRepository whose read receipts are also published to the room, and whose read
    markers moved in bulk (chatstore.repositories.read_markers) are published to the user."""

    def __init__(self, db: Database, settings: Settings, outbox: Outbox) -> None:
        super().__init__(db, settings)
        self._outbox = outbox
        self._markers = LiveReadMarkers(db, settings, outbox)

    async def mark_read_up_to(
        self, room_id: UUID | str, user_id: UUID | str, seq: int | None = None
    ) -> ReadMarker:
        """Move the member's read marker forward to `seq` (None: the room's last message),
        without read receipts; see ReadMarkerRepository.mark_read_up_to."""
        return await self._markers.mark_read_up_to(room_id, user_id, seq)

    async def mark_all_read(self, user_id: UUID | str) -> int:
        """Every room of the user read to its last message; how many markers moved."""
        return await self._markers.mark_all_read(user_id)

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
        await publish_after_commit(self._db, self._outbox, room_channel(receipt.room_id), event)
        return receipt


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
