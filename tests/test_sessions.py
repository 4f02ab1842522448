"""Sessions in a real throwaway Redis: tokens, sliding expiry, revocation, outages."""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections.abc import AsyncIterator

import pytest
import redis.asyncio

from chatstore import ConfigurationError, Settings, Unavailable, ValidationError
from chatstore.realtime import Session, SessionStore, open_redis
from tests.servers import RedisServer, free_port

DB = 7  # away from db 0, which other tests may use
TTL = 60


def settings(url: str) -> Settings:
    return Settings(database_url="postgresql://unused", redis_url=url)


def as_text(value: bytes | str) -> str:
    """The client decodes responses; this only narrows redis-py's bytes | str typing."""
    return value.decode() if isinstance(value, bytes) else value


@pytest.fixture
async def client(redis_server: RedisServer) -> AsyncIterator[redis.asyncio.Redis]:
    opened = await open_redis(settings(redis_server.url(DB)))
    await opened.flushdb()
    try:
        yield opened
    finally:
        await opened.aclose()


@pytest.fixture
def sessions(client: redis.asyncio.Redis) -> SessionStore:
    return SessionStore(client, TTL)


async def test_create_then_get(sessions: SessionStore) -> None:
    user = uuid.uuid4()
    token, created = await sessions.create(user, {"device": "phone", "n": 2, "ok": True})
    assert re.fullmatch(r"[A-Za-z0-9_-]{43,}", token)
    found = await sessions.get(token)
    assert isinstance(found, Session)
    assert found.user_id == user
    assert found.data == {"device": "phone", "n": 2, "ok": True}
    assert found.created_at == created.created_at
    assert found.expires_at >= created.expires_at


async def test_tokens_are_unique(sessions: SessionStore) -> None:
    user = uuid.uuid4()
    tokens = {(await sessions.create(user))[0] for _ in range(20)}
    assert len(tokens) == 20


async def test_raw_token_is_never_stored(
    sessions: SessionStore, client: redis.asyncio.Redis
) -> None:
    token, _ = await sessions.create(uuid.uuid4(), {"k": "v"})
    stored: list[str] = []
    async for key in client.scan_iter():
        stored.append(as_text(key))
        kind = as_text(await client.type(key))
        if kind == "hash":
            for field, value in (await client.hgetall(key)).items():
                stored += [as_text(field), as_text(value)]
        elif kind == "set":
            stored += [as_text(member) for member in await client.smembers(key)]
        else:
            pytest.fail(f"unexpected key type {kind} for {stored[-1]}")
    assert any(key.startswith("session:{") for key in stored)
    assert all(token not in item for item in stored)


async def test_key_layout_uses_hash_tags(
    sessions: SessionStore, client: redis.asyncio.Redis
) -> None:
    user = uuid.uuid4()
    await sessions.create(user)
    keys = sorted([key async for key in client.scan_iter()])
    assert len(keys) == 2
    assert re.fullmatch(r"session:\{[0-9a-f]{64}\}", keys[0])
    assert keys[1] == f"user:{{{user}}}:sessions"
    assert 0 < await client.ttl(keys[0]) <= TTL
    assert 0 < await client.ttl(keys[1]) <= TTL


async def test_touch_and_revoke(sessions: SessionStore) -> None:
    token, _ = await sessions.create(uuid.uuid4())
    assert await sessions.touch(token) is True
    assert await sessions.revoke(token) is True
    assert await sessions.get(token) is None
    assert await sessions.touch(token) is False
    assert await sessions.revoke(token) is False


async def test_revoke_removes_index_entry(
    sessions: SessionStore, client: redis.asyncio.Redis
) -> None:
    user = uuid.uuid4()
    token, _ = await sessions.create(user)
    await sessions.revoke(token)
    assert await client.scard(f"user:{{{user}}}:sessions") == 0


async def test_revoke_all(sessions: SessionStore) -> None:
    user, other = uuid.uuid4(), uuid.uuid4()
    mine = [(await sessions.create(user))[0] for _ in range(3)]
    theirs, _ = await sessions.create(other)
    await sessions.revoke(mine[0])
    assert await sessions.revoke_all(str(user)) == 2
    assert [await sessions.get(token) for token in mine] == [None, None, None]
    assert await sessions.get(theirs) is not None
    assert await sessions.revoke_all(user) == 0


@pytest.mark.parametrize(
    "token", [None, 42, "", "x" * 201, "abc\x00def", "\ud800", "not-a-real-token"]
)
async def test_garbage_token_is_no_session(sessions: SessionStore, token: object) -> None:
    assert await sessions.get(token) is None
    assert await sessions.touch(token) is False
    assert await sessions.revoke(token) is False


@pytest.mark.parametrize(
    ("user_id", "data", "field"),
    [
        ("nope", None, "user_id"),
        (uuid.uuid4(), ["x"], "data"),
        (uuid.uuid4(), {"k": [1]}, "data"),
        (uuid.uuid4(), {"k": float("nan")}, "data"),
        (uuid.uuid4(), {"": 1}, "data"),
        (uuid.uuid4(), {"k": "x" * 5000}, "data"),
    ],
)
async def test_create_rejects_bad_input(
    sessions: SessionStore, client: redis.asyncio.Redis, user_id: object, data: object, field: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        await sessions.create(user_id, data)  # type: ignore[arg-type]
    assert caught.value.field == field
    assert await client.dbsize() == 0


async def test_session_expires_by_ttl(client: redis.asyncio.Redis) -> None:
    short = SessionStore(client, 1)
    token, _ = await short.create(uuid.uuid4())
    await asyncio.sleep(1.3)
    assert await short.get(token) is None


async def test_get_slides_expiry(client: redis.asyncio.Redis) -> None:
    short = SessionStore(client, 2)
    token, created = await short.create(uuid.uuid4())
    found: Session | None = None
    for _ in range(3):  # 3 x 0.8 s outlives the 2 s TTL only if each get extends it
        await asyncio.sleep(0.8)
        found = await short.get(token)
        assert found is not None
    assert found is not None
    assert found.expires_at > created.expires_at
    await asyncio.sleep(2.3)
    assert await short.get(token) is None


async def test_wrong_password_is_configuration_error(redis_server: RedisServer) -> None:
    url = f"redis://:wrong-password@127.0.0.1:{redis_server.port}/{DB}"
    started = time.monotonic()
    with pytest.raises(ConfigurationError) as caught:
        await open_redis(settings(url))
    assert time.monotonic() - started < 5
    assert caught.value.setting == "REDIS_URL"
    assert "wrong-password" not in str(caught.value)


async def test_missing_password_is_configuration_error(redis_server: RedisServer) -> None:
    with pytest.raises(ConfigurationError):
        await open_redis(settings(f"redis://127.0.0.1:{redis_server.port}/{DB}"))


async def test_malformed_url_is_configuration_error() -> None:
    with pytest.raises(ConfigurationError):
        await open_redis(settings("http://:secret@127.0.0.1:1/0"))


async def test_nothing_listening_is_unavailable() -> None:
    started = time.monotonic()
    with pytest.raises(Unavailable):
        await open_redis(settings(f"redis://127.0.0.1:{free_port()}/0"))
    assert time.monotonic() - started < 10


async def test_sessions_survive_restart(redis_server: RedisServer) -> None:
    first = await open_redis(settings(redis_server.url(DB)))
    try:
        await first.flushdb()
        token, created = await SessionStore(first, TTL).create(uuid.uuid4(), {"a": 1})
    finally:
        await first.aclose()
    try:
        # SIGTERM: Redis rewrites/fsyncs the append-only file before exiting.
        redis_server.stop()
    finally:
        redis_server.start()
    second = await open_redis(settings(redis_server.url(DB)))
    try:
        found = await SessionStore(second, TTL).get(token)
        assert found is not None
        assert found.user_id == created.user_id
        assert found.data == {"a": 1}
    finally:
        await second.aclose()


async def test_outage_raises_unavailable(redis_server: RedisServer) -> None:
    client = await open_redis(settings(redis_server.url(DB)))
    store = SessionStore(client, TTL)
    try:
        redis_server.stop()
        try:
            with pytest.raises(Unavailable):
                await store.create(uuid.uuid4())
            with pytest.raises(Unavailable):
                await store.get("x" * 43)
        finally:
            redis_server.start()
        # The same client recovers once Redis is back.
        token, _ = await store.create(uuid.uuid4())
        assert await store.get(token) is not None
    finally:
        await client.aclose()
