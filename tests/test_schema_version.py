"""ChatStore.open refuses a database missing any packaged migration, names the versions and
says what to run; a database migrated by a newer chatstore opens with a warning."""

from __future__ import annotations

import itertools

import pytest

from chatstore import ChatStore, ConfigurationError
from chatstore.resources import migration_versions, packaged_migrations_dir
from chatstore.store import SchemaNewerWarning
from tests.conftest import settings_for
from tests.dbchecks import connect, probes
from tests.servers import PgServer, RedisServer, migrate

_names = itertools.count(1)
PACKAGED = migration_versions(packaged_migrations_dir())


def fresh_url(pg_server: PgServer) -> str:
    url = pg_server.url(f"chatstore_version_{next(_names)}")
    migrate(url, "create")
    return url


def test_the_package_carries_every_migration_of_the_repository() -> None:
    assert len(PACKAGED) >= 8
    assert sorted(PACKAGED) == PACKAGED


async def test_an_unmigrated_database_is_refused_with_what_to_run(
    pg_server: PgServer, redis_server: RedisServer
) -> None:
    url = fresh_url(pg_server)
    with pytest.raises(ConfigurationError) as caught:
        async with ChatStore.open(settings_for(url, redis_server.url(0))):
            pass
    message = str(caught.value)
    assert "chatstore migrate" in message
    assert all(version in message for version in PACKAGED)


async def test_a_database_one_migration_behind_names_that_migration(
    pg_server: PgServer, redis_server: RedisServer
) -> None:
    url = fresh_url(pg_server)
    migrate(url, "up")
    migrate(url, "rollback")
    with pytest.raises(ConfigurationError) as caught:
        async with ChatStore.open(settings_for(url, redis_server.url(0))):
            pass
    message = str(caught.value)
    assert f"1 migration(s) not applied: {PACKAGED[-1]}" in message
    assert PACKAGED[-2] not in message


async def test_a_newer_schema_opens_with_a_warning(
    database_url: str, redis_server: RedisServer
) -> None:
    async with connect(database_url) as conn:
        await probes.record_migration(conn, version="29991231235959")
    with pytest.warns(SchemaNewerWarning, match="29991231235959"):
        async with ChatStore.open(settings_for(database_url, redis_server.url(0))) as store:
            applied = await store.queries.migrations.applied_migrations()
    assert [row["version"] for row in applied] == [*PACKAGED, "29991231235959"]
