"""Many concurrent Redis-backed calls share a bounded pool: callers wait for a connection
instead of failing (redis-py's default pool raises "Too many connections" at its cap)."""

from __future__ import annotations

import asyncio
import uuid

from chatstore import ChatStore
from tests.dbchecks import connect, probes

CALLS = 500
# Sessions need real users (each has a row in PostgreSQL too); bcrypt is beside the point.
HASH = "$2b$10$" + "x" * 53


async def test_500_concurrent_session_and_presence_calls_all_succeed(
    store: ChatStore, database_url: str
) -> None:
    assert store.settings.redis_pool_max < CALLS  # the pool really is the bottleneck
    user_ids = [uuid.uuid4() for _ in range(CALLS)]
    async with connect(database_url) as conn:
        for n, user_id in enumerate(user_ids):
            await probes.insert_user(
                conn, id=user_id, email=f"u{n}@example.com", username=f"u{n}", password_hash=HASH
            )
    tokens = await asyncio.gather(
        *(store.sessions.create(user_id, {"n": n}) for n, user_id in enumerate(user_ids))
    )
    sessions = await asyncio.gather(*(store.sessions.get(token) for token, _ in tokens))
    assert [s.user_id if s else None for s in sessions] == user_ids
    online = await asyncio.gather(*(store.presence.is_online(u) for u in user_ids))
    assert online == [False] * CALLS
    # Other tests' stores are closed by now: what Redis sees connected is this store's pool.
    clients = await store.redis.client_list()
    assert len(clients) <= store.settings.redis_pool_max + 1
