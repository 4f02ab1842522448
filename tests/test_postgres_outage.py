"""PostgreSQL stops and comes back mid-test: callers see Unavailable during the outage, the
pool recovers by itself, and every acknowledged write is still there."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest

from chatstore import ChatStore, CreateMessage, Settings, Unavailable
from tests.servers import TEMPLATE_DB, PgServer, RedisServer, start_postgres


@pytest.fixture(scope="module")
def own_pg_server() -> Iterator[PgServer]:
    """A server of this module's own, so stopping it cannot disturb other tests."""
    server = start_postgres()
    try:
        yield server
    finally:
        server.close()


async def eventually(call: object, seconds: float = 30.0) -> None:
    """Retry a zero-argument coroutine function until it stops raising Unavailable."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            await call()  # type: ignore[operator]
            return
        except Unavailable:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)


async def test_outage_raises_unavailable_then_the_pool_recovers(
    own_pg_server: PgServer, redis_server: RedisServer
) -> None:
    settings = Settings(
        database_url=own_pg_server.url(TEMPLATE_DB),
        redis_url=redis_server.url(0),
        bcrypt_rounds=10,
        pg_pool_min=2,
        pg_pool_max=4,
        pg_pool_timeout=2.0,
    )
    async with ChatStore.open(settings) as store:
        alice = await store.users.create(
            email="alice@example.com", username="alice", password="correct horse battery"
        )
        room = await store.rooms.create(name="general", kind="public", created_by=alice.id)
        acknowledged = [
            await store.messages.create(
                CreateMessage(room_id=room.id, sender_id=alice.id, content=f"before {n}")
            )
            for n in range(5)
        ]

        own_pg_server.stop()
        try:
            with pytest.raises(Unavailable):
                await store.messages.create(
                    CreateMessage(room_id=room.id, sender_id=alice.id, content="during")
                )
            with pytest.raises(Unavailable):
                await store.users.get(alice.id)
        finally:
            own_pg_server.start()

        # No reconnect call from us: the pool replaces the dead connections by itself.
        await eventually(lambda: store.users.get(alice.id))
        after = await store.messages.create(
            CreateMessage(room_id=room.id, sender_id=alice.id, content="after")
        )
        history = await store.messages.catch_up(room.id, user_id=alice.id, after_seq=0)

    contents = [m.content for m in history]
    assert [m.id for m in history[: len(acknowledged)]] == [m.id for m in acknowledged]
    assert contents[-1] == "after"
    assert "during" not in contents
    # Seqs stay gap-free across the outage: the failed send consumed nothing.
    assert [m.seq for m in history] == list(range(1, len(history) + 1))
    assert after.seq == len(acknowledged) + 1
