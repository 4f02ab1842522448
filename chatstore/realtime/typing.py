"""Who is typing in a room; each entry expires on its own a few seconds after the last keystroke.

Layout:
    typing:{<room_id>}  sorted set: member = user id, score = expiry (unix seconds);
                        PEXPIRE a little after the latest expiry, so it vanishes by itself
    typing:due          sorted set: member = room id, score = the room's earliest expiry;
                        lets sweep() announce typers who went quiet without calling stop()

Every change is one MULTI on the one room key (Redis Cluster safe). Expired entries are
removed by whichever call prunes them first (start, stop, typers or sweep), and the count that
ZREMRANGEBYSCORE returns is atomic, so exactly one caller sees it and publishes. Even without
a sweeper, events carry `expires_in`, so clients drop stale typers themselves.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, cast

import redis.asyncio

from chatstore import validation
from chatstore.errors import ValidationError
from chatstore.realtime.connection import redis_errors
from chatstore.realtime.due import DueIndex, score_arg, text_of
from chatstore.realtime.events import Event, room_channel

log = logging.getLogger(__name__)

Publish = Callable[[Event, str], Awaitable[object]]

DUE_KEY = "typing:due"
# The key outlives its latest entry by this much, so a sweep running a little late still finds
# the expired entries and announces them; after that, losing the key loses nothing of value.
KEY_GRACE_SECONDS = 10.0


def typing_key(room_id: uuid.UUID) -> str:
    return f"typing:{{{room_id}}}"


def _positive(field: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise ValidationError(field, "must be a positive number of seconds")
    return float(value)


def _user_ids(members: list[Any]) -> list[uuid.UUID]:
    found: list[uuid.UUID] = []
    for member in members:
        try:
            found.append(uuid.UUID(text_of(member)))
        except ValueError:
            continue  # not written by us; never shown as a typer
    return found


class Typing:
    """Typing indicators per room. Redis outages raise Unavailable from every public method."""

    def __init__(
        self,
        redis_client: redis.asyncio.Redis,
        publish: Publish,
        *,
        ttl: float = 5.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._redis = redis_client
        self._publish = publish
        self._ttl = _positive("ttl", ttl)
        self._clock = clock
        self._due = DueIndex(redis_client, DUE_KEY)

    async def start(self, room_id: uuid.UUID | str, user_id: uuid.UUID | str) -> None:
        """The user is typing (call on keystrokes); publishes only when the typers changed."""
        room = validation.uuid_value("room_id", room_id)
        user = validation.uuid_value("user_id", user_id)
        now = self._clock()
        expiry = now + self._ttl
        key = typing_key(room)
        key_ms = math.ceil((self._ttl + KEY_GRACE_SECONDS) * 1000)
        pipe = self._redis.pipeline(transaction=True)
        pipe.zremrangebyscore(key, "-inf", score_arg(now))
        pipe.zadd(key, {str(user): expiry}, gt=True)  # a refresh never shortens an entry
        pipe.zrangebyscore(key, f"({score_arg(now)}", "+inf")
        # NX arms a fresh key, GT only ever extends: no call shortens another typer's lifetime.
        pipe.pexpire(key, key_ms, nx=True)
        pipe.pexpire(key, key_ms, gt=True)
        with redis_errors():
            pruned, added, typers, *_ = await pipe.execute()
        # LT: the index holds the room's EARLIEST expiry, when the next typer may go quiet.
        await self._due.put(str(room), expiry, "LT")
        if pruned or added:
            await self._announce(room, typers)

    async def stop(self, room_id: uuid.UUID | str, user_id: uuid.UUID | str) -> None:
        """The user stopped typing (sent, cleared the box); publishes if they were listed."""
        room = validation.uuid_value("room_id", room_id)
        user = validation.uuid_value("user_id", user_id)
        now = self._clock()
        key = typing_key(room)
        pipe = self._redis.pipeline(transaction=True)
        pipe.zremrangebyscore(key, "-inf", score_arg(now))
        pipe.zrem(key, str(user))
        pipe.zrangebyscore(key, f"({score_arg(now)}", "+inf")
        with redis_errors():
            pruned, removed, typers = await pipe.execute()
        if pruned or removed:
            await self._announce(room, typers)

    async def typers(self, room_id: uuid.UUID | str) -> list[uuid.UUID]:
        """Who is typing now, oldest keystroke first; expired entries are pruned (and, being
        a change nobody announced yet, published)."""
        room = validation.uuid_value("room_id", room_id)
        pruned, live = await self._prune(room, self._clock())
        typers = [member for member, _ in live]
        if pruned:
            await self._announce(room, typers)
        return _user_ids(typers)

    async def sweep(self) -> list[uuid.UUID]:
        """Announce typers who went quiet without stop(); the rooms whose typers changed.

        Safe to run from several processes at once: the prune count picks one announcer.
        """
        now = self._clock()
        changed: list[uuid.UUID] = []
        for member, due_at in await self._due.due(now):
            # Drop the index entry FIRST: a start() racing with this sweep then either re-adds
            # it afterwards or is already visible in the room key, which re-adds it below.
            await self._due.remove_if_at_most(member, due_at)
            try:
                room = uuid.UUID(member)
            except ValueError:
                continue
            if await self._sweep_room(room, now):
                changed.append(room)
        return changed

    async def run_sweeper(self, interval: float) -> None:
        """sweep() every `interval` seconds until cancelled; errors are logged, never fatal."""
        pause = _positive("interval", interval)
        while True:
            try:
                await self.sweep()
            except Exception:
                log.exception("typing sweep failed; retrying in %s s", pause)
            await asyncio.sleep(pause)

    async def _sweep_room(self, room: uuid.UUID, now: float) -> bool:
        pruned, remaining = await self._prune(room, now)
        if remaining:
            await self._due.put(str(room), min(score for _, score in remaining), "LT")
        if pruned:
            await self._announce(room, [member for member, _ in remaining])
        return bool(pruned)

    async def _prune(self, room: uuid.UUID, now: float) -> tuple[int, list[tuple[str, float]]]:
        """Remove expired entries; (how many THIS call removed, live (member, expiry) pairs)."""
        key = typing_key(room)
        pipe = self._redis.pipeline(transaction=True)
        pipe.zremrangebyscore(key, "-inf", score_arg(now))
        pipe.zrangebyscore(key, f"({score_arg(now)}", "+inf", withscores=True)
        with redis_errors():
            pruned, rows = await pipe.execute()
        live = [(text_of(member), float(score)) for member, score in cast(list[Any], rows)]
        return int(pruned), live

    async def _announce(self, room: uuid.UUID, typers: list[Any]) -> None:
        event = Event(
            type="typing.changed",
            room_id=room,
            payload={
                "typing": [str(user) for user in _user_ids(typers)],
                "expires_in": self._ttl,
            },
        )
        await self._publish(event, room_channel(room))


class MemberTyping(Typing):
    """Typing that only members of the room may announce: `is_member(room, user)` is asked
    first (one PostgreSQL read) and PermissionDenied raised for anyone else."""

    def __init__(
        self,
        redis_client: redis.asyncio.Redis,
        publish: Publish,
        require_member: Callable[[uuid.UUID, uuid.UUID], Awaitable[object]],
        *,
        ttl: float = 5.0,
    ) -> None:
        super().__init__(redis_client, publish, ttl=ttl)
        self._require_member = require_member

    async def start(self, room_id: uuid.UUID | str, user_id: uuid.UUID | str) -> None:
        room = validation.uuid_value("room_id", room_id)
        user = validation.uuid_value("user_id", user_id)
        await self._require_member(room, user)
        await super().start(room, user)

    async def stop(self, room_id: uuid.UUID | str, user_id: uuid.UUID | str) -> None:
        room = validation.uuid_value("room_id", room_id)
        user = validation.uuid_value("user_id", user_id)
        await self._require_member(room, user)
        await super().stop(room, user)
