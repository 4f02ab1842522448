"""Fixtures: one throwaway PostgreSQL and Redis per test session, a fresh database per test."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Iterator

import pytest
from pytest_postgresql.janitor import DatabaseJanitor

from chatstore import ChatStore, Settings
from tests.servers import PG_USER, TEMPLATE_DB, PgServer, RedisServer, start_postgres, start_redis

_database_numbers = itertools.count(1)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    server = start_postgres()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    server = start_redis()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture(scope="module")
def own_redis() -> Iterator[RedisServer]:
    """A Redis of the module's own, which its tests may stop, kill and restart without
    disturbing the session's shared one."""
    server = start_redis()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def database_url(pg_server: PgServer) -> Iterator[str]:
    """A fresh, migrated database for one test, cloned from the template (milliseconds)."""
    name = f"chatstore_test_{next(_database_numbers)}"
    janitor = DatabaseJanitor(
        user=PG_USER,
        host="127.0.0.1",
        port=pg_server.port,
        dbname=name,
        template_dbname=TEMPLATE_DB,
    )
    with janitor:
        yield pg_server.url(name)


def settings_for(database_url: str, redis_url: str) -> Settings:
    """Settings for a test: the lowest bcrypt cost chatstore allows, a small pool, short
    realtime lifetimes so expiry shows within a test."""
    return Settings(
        database_url=database_url,
        redis_url=redis_url,
        bcrypt_rounds=10,
        pg_pool_min=1,
        pg_pool_max=10,
        presence_ttl_seconds=1.0,
        presence_sweep_seconds=0.2,
        typing_ttl_seconds=0.5,
        # A short poll, so the delivery bound for lost publishes shows within a test.
        stream_poll_seconds=0.2,
    )


@pytest.fixture
async def store(database_url: str, redis_server: RedisServer) -> AsyncIterator[ChatStore]:
    """A ChatStore on a fresh database and the session's Redis (db 0; ids are random, so
    tests do not see each other's keys)."""
    async with ChatStore.open(settings_for(database_url, redis_server.url(0))) as opened:
        yield opened
