"""A "due" index: one global sorted set of things to revisit once their score (a time) passes.

Presence and typing keep one each (`presence:due`, `typing:due`) so a periodic sweep finds
users whose devices stopped heartbeating and rooms whose typers went quiet, without SCANning.
The index is its own key with its own hash tag; no command here touches any other key, so it
stays valid on Redis Cluster.
"""

from __future__ import annotations

from typing import Any, Literal, cast

import redis.asyncio

from chatstore.realtime.connection import redis_errors

# Compare-and-delete on ONE key: remove the member only while its score is still at most
# ARGV[2]. A plain ZREM after a check could delete an entry someone refreshed in between.
_REMOVE_IF_AT_MOST = """
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if score and tonumber(score) <= tonumber(ARGV[2]) then
    return redis.call('ZREM', KEYS[1], ARGV[1])
end
return 0
"""

BATCH = 500  # bounds one sweep's work; the rest stay due and are taken by the next sweep


def text_of(value: object) -> str:
    """A reply as text, whether or not the client was opened with decode_responses."""
    return value.decode() if isinstance(value, bytes) else str(value)


def score_arg(value: float) -> str:
    """A float as Redis reads it back exactly (repr round-trips)."""
    return repr(float(value))


class DueIndex:
    def __init__(self, redis_client: redis.asyncio.Redis, key: str) -> None:
        self._redis = redis_client
        self.key = key
        self._remove_if_at_most = redis_client.register_script(_REMOVE_IF_AT_MOST)

    async def put(self, member: str, when: float, mode: Literal["GT", "LT"]) -> None:
        """Add the member, or move its score only in the given direction (GT later, LT sooner)."""
        with redis_errors():
            await self._redis.zadd(self.key, {member: when}, gt=mode == "GT", lt=mode == "LT")

    async def due(self, now: float) -> list[tuple[str, float]]:
        """Members whose time has come, oldest first, at most BATCH of them."""
        with redis_errors():
            rows: Any = await self._redis.zrangebyscore(
                self.key, "-inf", score_arg(now), start=0, num=BATCH, withscores=True
            )
        return [(text_of(member), float(score)) for member, score in cast(list[Any], rows)]

    async def remove_if_at_most(self, member: str, threshold: float) -> bool:
        """Remove the member if its score is still <= threshold; True if this call removed it."""
        with redis_errors():
            removed = await self._remove_if_at_most(
                keys=[self.key], args=[member, score_arg(threshold)]
            )
        return bool(removed)
