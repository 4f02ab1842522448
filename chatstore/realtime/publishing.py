"""Publishing committed change-log entries on their rooms' channels.

One pipelined round trip for all the entries of a commit. An entry about a user's own
membership (`member.*`) is also sent on that user's channel, as a hint that their streams
should re-read their rooms at once rather than at the next poll. A failed publish loses
nothing: the entries are in PostgreSQL, and every process's feed fills from there.
"""

from __future__ import annotations

from collections.abc import Sequence

from redis.asyncio import Redis

from chatstore.models import LogEntry
from chatstore.realtime.connection import redis_errors
from chatstore.realtime.events import entry_event, room_channel, user_channel


async def publish_entries(redis: Redis, entries: Sequence[LogEntry]) -> None:
    if not entries:
        return
    with redis_errors():
        # Not a transaction: each SPUBLISH names one channel (one hash tag), so under Redis
        # Cluster the client can route each to its own node.
        async with redis.pipeline(transaction=False) as pipe:
            for entry in entries:
                data = entry_event(entry).to_json()
                pipe.spublish(room_channel(entry.room_id), data)
                subject = entry.payload.get("user_id") if entry.type.startswith("member.") else None
                if isinstance(subject, str):
                    pipe.spublish(user_channel(subject), data)
            await pipe.execute()
