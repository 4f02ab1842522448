"""Presence of many users at once (Presence.snapshot), as a member list or a contact list
shows it: online or not, how many devices, and when each user was last seen.

One pipelined Redis round trip reads every user's presence key (chatstore.realtime.presence:
a sorted set of device ids scored by expiry): the devices whose expiry is still ahead are
online, and the latest expiry less the heartbeat lifetime is the user's last heartbeat.
That key outlives its last device by the presence grace only, so for the users without one
(offline for a while, or never connected) last_seen_at comes from PostgreSQL
(users.last_seen_at, stamped by each online/offline transition), in one query for all of
them, and only when there are any. So: one Redis round trip, plus at most one query.

The last heartbeat is computed with this process's heartbeat lifetime; a device kept alive
by a process configured with another lifetime shows a last_seen_at off by the difference.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Mapping
from datetime import UTC, datetime
from typing import Any, Final
from uuid import UUID

import redis.asyncio

from chatstore import validation
from chatstore.conversation_models import PresenceSnapshot
from chatstore.errors import ValidationError
from chatstore.realtime.connection import redis_errors

# A contact list or a page of members; the pipeline and the query grow with it.
SNAPSHOT_MAX: Final = 1000

# When PostgreSQL last saw each of these users (users it does not know are left out).
LastSeenLookup = Callable[[list[UUID]], Awaitable[Mapping[UUID, datetime | None]]]


async def read_snapshot(
    client: redis.asyncio.Redis,
    user_ids: Collection[UUID | str],
    *,
    key: Callable[[UUID], str],
    now: float,
    ttl: float,
    last_seen: LastSeenLookup | None,
) -> dict[UUID, PresenceSnapshot]:
    """Every user asked for (duplicates once) -> their presence now. ValidationError for
    more than SNAPSHOT_MAX ids or one that is not a UUID; Unavailable when Redis (or, for
    users Redis holds nothing of, PostgreSQL) does not answer."""
    users = validation.uuid_list("user_ids", user_ids)
    if len(users) > SNAPSHOT_MAX:
        raise ValidationError("user_ids", f"must hold at most {SNAPSHOT_MAX} ids")
    if not users:
        return {}
    with redis_errors():
        # Not a transaction: each command reads one user's key (one hash tag), so under
        # Redis Cluster the client splits the batch by node.
        async with client.pipeline(transaction=False) as pipe:
            for user in users:
                # Every device with its expiry; "(+inf" leaves out the online marker.
                pipe.zrangebyscore(key(user), "-inf", "(+inf", withscores=True)
            replies: list[Any] = await pipe.execute()
    expiries = {
        user: [float(score) for _, score in devices]
        for user, devices in zip(users, replies, strict=True)
    }
    seen: dict[UUID, datetime | None] = {
        user: datetime.fromtimestamp(min(max(found) - ttl, now), UTC)
        for user, found in expiries.items()
        if found
    }
    missing = [user for user in users if user not in seen]
    if missing and last_seen is not None:
        recorded = await last_seen(missing)
        seen.update({user: recorded.get(user) for user in missing})
    snapshot = {}
    for user in users:
        live = sum(1 for expiry in expiries[user] if expiry > now)
        snapshot[user] = PresenceSnapshot(
            user_id=user, online=live > 0, devices=live, last_seen_at=seen.get(user)
        )
    return snapshot


__all__ = ["SNAPSHOT_MAX", "LastSeenLookup", "read_snapshot"]
