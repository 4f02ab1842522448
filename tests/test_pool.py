"""Connections always go back to the pool: after successes, errors and failed transactions."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from chatstore import (
    ChatStore,
    ChatStoreError,
    CreateMessage,
    NotFound,
    PermissionDenied,
    ValidationError,
)
from tests.dbchecks import connect, probes, rows


class Boom(Exception):
    """An application error raised inside a transaction."""


def checked_out(store: ChatStore) -> int:
    stats = store.db.pool.get_stats()
    return stats["pool_size"] - stats["pool_available"]


async def test_no_connection_leaks_after_errors(store: ChatStore) -> None:
    alice = await store.users.create(
        email="alice@example.com", username="alice", password="correct horse battery"
    )
    mallory = await store.users.create(
        email="mallory@example.com", username="mallory", password="not a member at all"
    )
    room = await store.rooms.create(name="general", kind="public", created_by=alice.id)

    async def send_then_fail() -> None:
        async with store.transaction():
            await store.messages.create(
                CreateMessage(room_id=room.id, sender_id=alice.id, content="rolled back")
            )
            raise Boom

    async def failing_calls() -> None:
        with pytest.raises(NotFound):
            await store.users.get(uuid.uuid4())
        with pytest.raises(ValidationError):
            await store.users.get("not-a-uuid")
        with pytest.raises(PermissionDenied):
            await store.messages.create(
                CreateMessage(room_id=room.id, sender_id=mallory.id, content="let me in")
            )
        with pytest.raises(Boom):
            await send_then_fail()
        with pytest.raises(ChatStoreError):
            async with store.transaction():
                await store.users.create(
                    email="ALICE@example.com", username="alice2", password="correct horse 2"
                )

    # More concurrent failures than the pool has connections: a leak would exhaust it.
    pool_max = store.settings.pg_pool_max
    await asyncio.gather(*(failing_calls() for _ in range(pool_max * 2)))

    assert checked_out(store) == 0
    page = await store.messages.page_before(room.id, user_id=alice.id)
    assert page.messages == ()
    # And the pool still serves a full set of concurrent callers.
    users = await asyncio.gather(*(store.users.get(alice.id) for _ in range(pool_max * 3)))
    assert {user.id for user in users} == {alice.id}
    assert checked_out(store) == 0


async def test_idle_connections_killed_behind_the_pools_back_are_replaced(
    store: ChatStore, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("chatstore.pg_connection.CHECK_AFTER_IDLE_SECONDS", 0.1)
    alice = await store.users.create(
        email="alice@example.com", username="alice", password="correct horse battery"
    )
    await asyncio.gather(*(store.users.get(alice.id) for _ in range(5)))
    async with connect(database_url) as conn:
        killed = await rows(probes.terminate_other_backends(conn))
    assert killed, "the pool's connections were open"
    await asyncio.sleep(0.2)  # idle past the threshold: checked before reuse, then replaced
    users = await asyncio.gather(*(store.users.get(alice.id) for _ in range(10)))
    assert {user.id for user in users} == {alice.id}
