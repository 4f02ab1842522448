"""Unread counters in Redis, derived from per-room seqs instead of one counter per member.

The seed's layout (`unread:{userId}:{roomId}` -> count) costs one write per member on every
send: 5,000 writes for a message to a 5,000-member room. This is its documented, better
equivalent, mirroring PostgreSQL's own rule (sql/members.sql, unread_counts):

    unread(user, room) = room's last seq - user's read marker
                         - soft-deleted messages after the marker

Layout (one hash tag per key: room-scoped keys tagged by room, user-scoped by user):

    room:{<room_id>}:seqs   sorted set, the room's counter state:
                              "last"  score = the room's last seq, only ever raised (ZADD GT)
                              "<seq>" score = seq, one per soft-deleted message
                              "built" score = 0, written only by a rebuild from PostgreSQL
    unread:{<user_id>}      sorted set, the user's read markers:
                              "<room_id>" score = last read seq, only moved forward (ZADD GT)
                              "built"     score = 0, written only by a rebuild

A send is O(1) whatever the room size: raise the room's "last", move the sender's marker
(so their own message is never unread), refresh two TTLs. A count is one ZRANGE of the
user's markers, then per room a ZMSCORE and a ZCOUNT of deleted seqs above the marker, all
single-key commands in one non-transactional pipeline (cluster-safe).

Why one room key rather than separate seq and deleted keys: the room's last seq and its
deleted seqs live, expire and get evicted together, so a reader can never see one without
the other. "last" is counted by ZCOUNT(marker, +inf) whenever it is above the marker; the
count subtracts it. "built" (score 0) never is, because markers are >= 0 and the range is
exclusive.

Rebuilding: PostgreSQL is the truth, and Redis may lose anything (FLUSHALL, a restart
without persistence, eviction, TTL). A key without its "built" member is treated as lost
and rebuilt: a user's markers from members.unread_counts, a room's state from
unread.room_states. Writes never check existence: ZADD GT creates a key without "built" if
it is gone, so a write racing a rebuild is merged (higher scores win) rather than dropped,
and the rebuild's older numbers cannot overwrite it. A user in no rooms still has a key
holding only "built", so "no rooms" and "lost" differ. A rebuilt room holds only the
deletions after the lowest read marker of any member (older ones can be unread for nobody),
which bounds it.

Every key has a TTL (`ttl_seconds`), refreshed by each write to it, so anything stale heals
by itself: an idle user's markers or an idle room's state expire and are rebuilt on demand.

Errors: every public method raises chatstore's Unavailable when Redis fails. A failed write
leaves Redis missing an update; the caller (which has already committed to PostgreSQL)
calls invalidate_room / invalidate_user once Redis is back, and the next read rebuilds.
Reads fail with Unavailable too, so the caller can fall back to PostgreSQL.

Known limits: a rebuild that reads PostgreSQL just before a member leaves, and writes just
after member_left, puts the room back into that user's markers until the key is
invalidated or expires. Seqs above 2**53 would lose precision as sorted-set scores.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final
from uuid import UUID

import redis.asyncio
from redis.asyncio.client import Pipeline

from chatstore import validation
from chatstore.db import Database
from chatstore.realtime.connection import redis_errors

LAST: Final = "last"
BUILT: Final = "built"
DEFAULT_TTL_SECONDS: Final = 86400
# Sorted-set scores are doubles: integers are exact up to 2**53.
SEQ_MAX: Final = 2**53
# A rebuilt room's deleted seqs go out in ZADDs of this many, so no single command is huge.
ZADD_CHUNK: Final = 1000


def room_key(room_id: UUID) -> str:
    return f"room:{{{room_id}}}:seqs"


def user_key(user_id: UUID) -> str:
    return f"unread:{{{user_id}}}"


def _text(value: bytes | str) -> str:
    """Members come back as bytes or str depending on the client's decode_responses."""
    return value.decode() if isinstance(value, bytes) else value


def _seq(field: str, value: object) -> int:
    return validation.integer(field, value, low=0, high=SEQ_MAX)


def unread_from_state(marker: int, last_seq: int, deleted_seqs: Iterable[int]) -> int:
    """The unread count of a member whose marker is `marker` (PostgreSQL's rule)."""
    deleted_after = sum(1 for seq in deleted_seqs if seq > marker)
    return max(0, last_seq - marker - deleted_after)


def unread_from_redis(
    marker: int, last: float | None, built: float | None, above_marker: int
) -> int | None:
    """The count from a room key's scores, or None when the key must be rebuilt.

    `above_marker` is ZCOUNT(marker, +inf): the deleted seqs above the marker plus "last"
    itself when the room's last seq is above the marker.
    """
    if last is None or built is None:
        return None
    last_seq = int(last)
    if last_seq <= marker:
        return 0
    deleted_after = above_marker - 1
    if deleted_after < 0:
        # "last" was seen yet not counted: the key vanished between the two commands.
        return None
    # A delete can be reported before the send of the same seq: never below zero.
    return max(0, last_seq - marker - deleted_after)


class UnreadCounters:
    """Exact unread counts kept in Redis, rebuilt from PostgreSQL when Redis loses them."""

    def __init__(
        self,
        redis: redis.asyncio.Redis,
        db: Database,
        *,
        ttl_seconds: int = DEFAULT_TTL_SECONDS,
    ) -> None:
        self._redis = redis
        self._db = db
        self._ttl = validation.integer("ttl_seconds", ttl_seconds, low=1, high=2**31)

    # -- writes: call each after the matching PostgreSQL change has committed ---------------

    async def message_sent(self, room_id: UUID | str, seq: int, sender_id: UUID | str) -> None:
        """A message got `seq` in the room: raise the room's last seq and the sender's marker."""
        room = validation.uuid_value("room_id", room_id)
        sender = validation.uuid_value("sender_id", sender_id)
        new_seq = _seq("seq", seq)
        pipe = self._pipeline()
        self._raise(pipe, room_key(room), {LAST: new_seq})
        self._raise(pipe, user_key(sender), {str(room): new_seq})
        await self._execute(pipe)

    async def message_deleted(self, room_id: UUID | str, seq: int) -> None:
        """The message with `seq` was soft-deleted: it stops counting as unread."""
        room = validation.uuid_value("room_id", room_id)
        deleted = _seq("seq", seq)
        pipe = self._pipeline()
        self._raise(pipe, room_key(room), {str(deleted): deleted})
        await self._execute(pipe)

    async def marked_read(self, room_id: UUID | str, user_id: UUID | str, seq: int) -> None:
        """The user read up to `seq`; the marker never moves backward."""
        await self._set_marker(room_id, user_id, _seq("seq", seq))

    async def member_joined(
        self, room_id: UUID | str, user_id: UUID | str, last_read_seq: int
    ) -> None:
        """The user joined the room with this read marker (PostgreSQL's, from add_member)."""
        await self._set_marker(room_id, user_id, _seq("last_read_seq", last_read_seq))

    async def member_left(self, room_id: UUID | str, user_id: UUID | str) -> None:
        """The user left the room: it drops out of their counts."""
        room = validation.uuid_value("room_id", room_id)
        user = validation.uuid_value("user_id", user_id)
        with redis_errors():
            await self._redis.zrem(user_key(user), str(room))

    async def invalidate_room(self, room_id: UUID | str) -> None:
        """Forget the room's state, so the next read rebuilds it from PostgreSQL."""
        room = validation.uuid_value("room_id", room_id)
        with redis_errors():
            await self._redis.delete(room_key(room))

    async def invalidate_user(self, user_id: UUID | str) -> None:
        """Forget the user's markers, so the next read rebuilds them from PostgreSQL."""
        user = validation.uuid_value("user_id", user_id)
        with redis_errors():
            await self._redis.delete(user_key(user))

    # -- reads ---------------------------------------------------------------------------------

    async def counts(self, user_id: UUID | str) -> dict[UUID, int]:
        """Unread counts of every room the user belongs to."""
        user = validation.uuid_value("user_id", user_id)
        markers = await self._markers(user)
        if markers is None:
            return await self._rebuild_user(user)
        return await self._counts_for(markers)

    async def count(self, user_id: UUID | str, room_id: UUID | str) -> int:
        """The user's unread count in one room; 0 when they are not a member."""
        user = validation.uuid_value("user_id", user_id)
        room = validation.uuid_value("room_id", room_id)
        with redis_errors():
            marker, built = await self._redis.zmscore(user_key(user), [str(room), BUILT])
        if built is None:
            return (await self._rebuild_user(user)).get(room, 0)
        if marker is None:
            return 0
        return (await self._counts_for({room: int(marker)})).get(room, 0)

    # -- helpers -------------------------------------------------------------------------------

    def _pipeline(self) -> Pipeline:
        # No MULTI: the keys of one call carry different hash tags.
        return self._redis.pipeline(transaction=False)

    async def _execute(self, pipe: Pipeline) -> list[Any]:
        with redis_errors():
            return await pipe.execute()

    def _raise(self, pipe: Pipeline, key: str, scores: Mapping[str, int]) -> None:
        """Queue a forward-only ZADD (new members are still added) and a TTL refresh."""
        pipe.zadd(key, dict(scores), gt=True)
        pipe.expire(key, self._ttl)

    async def _set_marker(self, room_id: UUID | str, user_id: UUID | str, seq: int) -> None:
        room = validation.uuid_value("room_id", room_id)
        user = validation.uuid_value("user_id", user_id)
        pipe = self._pipeline()
        self._raise(pipe, user_key(user), {str(room): seq})
        await self._execute(pipe)

    async def _markers(self, user: UUID) -> dict[UUID, int] | None:
        """The user's read markers by room, or None when the key was lost."""
        with redis_errors():
            # (member, score) pairs: tuples over RESP2, two-item lists over RESP3.
            entries: Any = await self._redis.zrange(user_key(user), 0, -1, withscores=True)
        members = {_text(member): int(score) for member, score in entries}
        if members.pop(BUILT, None) is None:
            return None
        return {UUID(member): marker for member, marker in members.items()}

    async def _counts_for(self, markers: Mapping[UUID, int]) -> dict[UUID, int]:
        """Counts from the rooms' Redis state, rebuilding the rooms that lost it."""
        pipe = self._pipeline()
        for room, marker in markers.items():
            key = room_key(room)
            pipe.zmscore(key, [LAST, BUILT])
            pipe.zcount(key, f"({marker}", "+inf")
        results = await self._execute(pipe)
        counts: dict[UUID, int] = {}
        lost: dict[UUID, int] = {}
        for index, (room, marker) in enumerate(markers.items()):
            last, built = results[2 * index]
            count = unread_from_redis(marker, last, built, int(results[2 * index + 1]))
            if count is None:
                lost[room] = marker
            else:
                counts[room] = count
        if lost:
            counts.update(await self._rebuild_rooms(lost))
        # The markers' order; a room missing from PostgreSQL (deleted) is left out.
        return {room: counts[room] for room in markers if room in counts}

    async def _rebuild_user(self, user: UUID) -> dict[UUID, int]:
        """Reload the user's markers from PostgreSQL; PostgreSQL's counts are returned as is."""
        async with self._db.connection() as conn:
            rows = [row async for row in self._db.queries.members.unread_counts(conn, user_id=user)]
        scores = {BUILT: 0, **{str(row["room_id"]): int(row["last_read_seq"]) for row in rows}}
        pipe = self._pipeline()
        self._raise(pipe, user_key(user), scores)
        await self._execute(pipe)
        return {row["room_id"]: int(row["unread_count"]) for row in rows}

    async def _rebuild_rooms(self, markers: Mapping[UUID, int]) -> dict[UUID, int]:
        """Reload the rooms' state from PostgreSQL; the counts for these markers."""
        async with self._db.connection() as conn:
            rows = [
                row
                async for row in self._db.queries.unread.room_states(conn, room_ids=list(markers))
            ]
        pipe = self._pipeline()
        counts: dict[UUID, int] = {}
        for row in rows:
            room: UUID = row["room_id"]
            last_seq = int(row["last_seq"])
            deleted = [int(seq) for seq in row["deleted_seqs"]]
            self._queue_room_state(pipe, room, last_seq, deleted)
            counts[room] = unread_from_state(markers[room], last_seq, deleted)
        await self._execute(pipe)
        return counts

    def _queue_room_state(
        self, pipe: Pipeline, room: UUID, last_seq: int, deleted: list[int]
    ) -> None:
        key = room_key(room)
        # Deleted seqs first and "built" last: a reader only trusts the key once complete.
        for start in range(0, len(deleted), ZADD_CHUNK):
            pipe.zadd(key, {str(seq): seq for seq in deleted[start : start + ZADD_CHUNK]})
        self._raise(pipe, key, {LAST: last_seq, BUILT: 0})
