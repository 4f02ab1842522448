"""Sessions with their PostgreSQL copy: Redis down (a throwaway Redis these tests stop),
revocation while it is down and after it is back, expiry of the copy, failed creates."""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from chatstore import ChatStore, NotFound, Unavailable, User, ValidationError
from chatstore.realtime import SessionStore
from chatstore.realtime.sessions import READ_COOLDOWN_SECONDS
from tests.conftest import settings_for
from tests.servers import RedisServer

PASSWORD = "correct horse battery"


@pytest.fixture
async def store(database_url: str, own_redis: RedisServer) -> AsyncIterator[ChatStore]:
    async with ChatStore.open(settings_for(database_url, own_redis.url(0))) as opened:
        yield opened


@pytest.fixture
async def alice(store: ChatStore) -> User:
    return await store.users.create(email="alice@example.com", username="alice", password=PASSWORD)


def session_id(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def row_expiry(store: ChatStore, token: str) -> datetime | None:
    """The row's expires_at, read without sliding it (`at` = now: nothing is due)."""
    row = await store.queries.sessions.check_session(
        session_id=session_id(token), at=datetime.now(UTC)
    )
    return None if row is None else row["expires_at"]


async def test_an_existing_session_authenticates_while_redis_is_down(
    store: ChatStore, alice: User, own_redis: RedisServer
) -> None:
    token, created = await store.sessions.create(alice.id, {"device": "phone", "n": 2})
    own_redis.stop()
    try:
        found = await store.sessions.get(token)
        assert await store.sessions.touch(token) is True
        assert await store.sessions.get("not-a-real-token-" + "x" * 30) is None
    finally:
        own_redis.start()
    assert found is not None
    assert found.user_id == alice.id
    assert found.data == {"device": "phone", "n": 2}
    assert found.created_at == created.created_at
    # Back in Redis: still the same session.
    assert await store.sessions.get(token) is not None


async def test_the_row_holds_the_hash_never_the_token(store: ChatStore, alice: User) -> None:
    token, _ = await store.sessions.create(alice.id)
    assert await row_expiry(store, token) is not None
    # Looked up by the token itself, nothing: only its SHA-256 is a key.
    assert (
        await store.queries.sessions.check_session(session_id="0" * 64, at=datetime.now(UTC))
        is None
    )
    with pytest.raises(ValidationError):
        await store.queries.sessions.insert_session(
            session_id=token, user_id=alice.id, payload="{}", at=datetime.now(UTC)
        )


@pytest.mark.parametrize("how", ["logout", "revoke_all", "password", "delete"])
async def test_revocation_while_redis_is_down_is_immediate_and_stays(
    store: ChatStore, alice: User, own_redis: RedisServer, how: str
) -> None:
    bob = await store.users.create(email="bob@example.com", username="bob", password=PASSWORD)
    token, _ = await store.sessions.create(alice.id)
    bobs, _ = await store.sessions.create(bob.id)
    # Another process on the same Redis and database: it never hears of the revocation.
    other = SessionStore(
        store.redis, store.settings.session_ttl_seconds, store.db, verify_seconds=0.2
    )
    own_redis.stop()
    try:
        if how == "logout":
            assert await store.sessions.revoke(token) is True
        elif how == "revoke_all":
            assert await store.sessions.revoke_all(alice.id) == 1
        elif how == "password":
            await store.users.change_password(
                alice.id, current_password=PASSWORD, new_password="a new long secret"
            )
        else:
            await store.users.delete(alice.id)
        assert await store.sessions.get(token) is None  # the fallback: the row is gone
        assert await other.get(token) is None
        assert await store.sessions.get(bobs) is not None  # nobody else's
    finally:
        own_redis.start()
    # The other process first (the Redis copy may still be there), once both its breaker
    # lets it try Redis again and its check against the row is due.
    await asyncio.sleep(READ_COOLDOWN_SECONDS + 0.2)
    assert await other.get(token) is None
    assert await store.sessions.get(token) is None
    assert await store.sessions.get(bobs) is not None
    assert await store.redis.exists(f"session:{{{session_id(token)}}}") == 0
    if how != "delete":  # and a new login works
        again, _ = await store.sessions.create(alice.id)
        assert await store.sessions.get(again) is not None


async def test_a_redis_copy_without_its_row_is_refused_once_checked(
    store: ChatStore, alice: User
) -> None:
    """A revocation that Redis missed in another process (which then crashed)."""
    sessions = SessionStore(store.redis, 3600, store.db, verify_seconds=0.2)
    token, _ = await sessions.create(alice.id)
    assert await store.queries.sessions.delete_session(session_id=session_id(token)) == 1
    assert await sessions.get(token) is not None  # within the bound: Redis's word
    await asyncio.sleep(0.3)
    assert await sessions.get(token) is None
    assert await store.redis.exists(f"session:{{{session_id(token)}}}") == 0


async def test_checks_write_the_row_only_at_half_lifetime(store: ChatStore, alice: User) -> None:
    sessions = SessionStore(store.redis, 8, store.db, verify_seconds=0.1)  # checks every 0.1 s
    token, _ = await sessions.create(alice.id)
    first = await row_expiry(store, token)
    for _ in range(5):
        await asyncio.sleep(0.15)
        assert await sessions.get(token) is not None
    assert await row_expiry(store, token) == first  # checked five times, never written
    await asyncio.sleep(4.5 - 0.75)  # less than half of the 8 s left now
    assert await sessions.get(token) is not None
    moved = await row_expiry(store, token)
    assert first is not None
    assert moved is not None
    assert moved > first


async def test_the_fallback_slides_the_row_and_refuses_it_once_expired(
    store: ChatStore, alice: User, own_redis: RedisServer
) -> None:
    sessions = SessionStore(store.redis, 2, store.db)
    token, _ = await sessions.create(alice.id)
    kept, _ = await sessions.create(alice.id)
    created = time.monotonic()

    async def until(seconds: float) -> None:  # after creation
        await asyncio.sleep(max(0.0, created + seconds - time.monotonic()))

    own_redis.stop()
    try:
        await until(1.2)  # under half the lifetime left: the read slides the row
        assert await sessions.get(kept) is not None
        await until(2.2)
        assert await sessions.get(token) is None  # expired at 2 s
        assert await sessions.get(kept) is not None  # slid at 1.2 s: good until 3.2 s
        await until(4.4)  # even if slid again at 2.2 s, gone by now
        assert await sessions.get(kept) is None
    finally:
        own_redis.start()


async def test_a_failed_create_leaves_nothing(
    store: ChatStore, alice: User, own_redis: RedisServer
) -> None:
    own_redis.stop()
    try:
        with pytest.raises(Unavailable):
            await store.sessions.create(alice.id, {"device": "phone"})
    finally:
        own_redis.start()
    assert await store.queries.sessions.delete_user_sessions(user_id=alice.id) == 0
    assert await store.redis.exists(f"user:{{{alice.id}}}:sessions") == 0


async def test_no_session_for_a_user_that_does_not_exist(store: ChatStore, alice: User) -> None:
    await store.users.delete(alice.id)
    with pytest.raises(NotFound) as caught:
        await store.sessions.create(alice.id)
    assert caught.value.what == "user"
    assert await store.redis.exists(f"user:{{{alice.id}}}:sessions") == 0


async def test_a_copy_from_before_the_table_gets_its_row(store: ChatStore, alice: User) -> None:
    redis_only = SessionStore(store.redis, 3600)
    token, _ = await redis_only.create(alice.id, {"k": "v"})
    await store.redis.hdel(f"session:{{{session_id(token)}}}", "checked")  # as written before
    assert await row_expiry(store, token) is None
    found = await store.sessions.get(token)
    assert found is not None
    assert found.data == {"k": "v"}
    assert await row_expiry(store, token) is not None  # adopted, not logged out
    assert await store.redis.hexists(f"session:{{{session_id(token)}}}", "checked")


async def test_both_servers_down_is_unavailable(
    store: ChatStore, alice: User, own_redis: RedisServer
) -> None:
    """With Redis down, a PostgreSQL failure is the caller's Unavailable, not a None."""
    token, _ = await store.sessions.create(alice.id)
    own_redis.stop()
    try:
        started = time.monotonic()
        await store.db.pool.close()
        with pytest.raises(Unavailable):
            await store.sessions.get(token)
        assert time.monotonic() - started < 30
    finally:
        own_redis.start()
