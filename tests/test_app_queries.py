"""An application's own query files run on chatstore's pool and inside its transactions."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pytest

from chatstore import ChatStore, ConfigurationError, CreateMessage
from chatstore.dbmate import MigrationTarget, run_dbmate
from chatstore.guardrails import assert_sql_ok, assert_static_ok
from tests.conftest import settings_for
from tests.servers import PROJECT, RedisServer

APP = PROJECT / "tests" / "app_example"


class Rollback(Exception):
    """Raised inside a transaction to roll it back."""


@pytest.fixture
def app_database_url(database_url: str) -> str:
    """A fresh database with chatstore's migrations and then the example application's,
    recorded in a table of their own."""
    app_migrations = MigrationTarget(
        database_url, directory=APP / "db" / "migrations", table="app_migrations"
    )
    assert run_dbmate(app_migrations, "up") == 0
    return database_url


async def test_app_writes_commit_or_roll_back_with_chatstore_writes(
    app_database_url: str, redis_server: RedisServer
) -> None:
    database_url = app_database_url
    settings = dataclasses.replace(
        settings_for(database_url, redis_server.url(0)), sql_paths=(APP / "sql",)
    )
    async with ChatStore.open(settings) as store:
        owner = await store.users.create(
            email="o@example.com", username="owner", password="pw-owner-1"
        )
        room = await store.rooms.create(name="plans", kind="public", created_by=owner.id)

        async def write_then_fail() -> None:
            async with store.transaction():
                await store.queries.app.set_topic(room_id=room.id, topic="draft")
                await store.send_message(
                    CreateMessage(room_id=room.id, sender_id=owner.id, content="draft topic")
                )
                raise Rollback

        with pytest.raises(Rollback):
            await write_then_fail()
        assert (await store.queries.app.list_public_rooms(limit=5))[0]["topic"] is None
        assert (await store.rooms.get(room.id)).last_seq == 0
        async with store.transaction():
            assert await store.queries.app.set_topic(room_id=room.id, topic="final") == 1
            await store.send_message(
                CreateMessage(room_id=room.id, sender_id=owner.id, content="final topic")
            )
        assert (await store.queries.app.list_public_rooms(limit=5))[0]["topic"] == "final"
        assert (await store.rooms.get(room.id)).last_seq == 1


async def test_a_query_file_named_like_chatstores_is_refused(
    database_url: str, redis_server: RedisServer, tmp_path: Path
) -> None:
    shutil.copy(APP / "sql" / "app.sql", tmp_path / "users.sql")
    settings = dataclasses.replace(
        settings_for(database_url, redis_server.url(0)), sql_paths=(tmp_path,)
    )
    with pytest.raises(ConfigurationError, match=r"users\.sql has the same name"):
        async with ChatStore.open(settings):
            pass


def test_the_guardrails_check_an_application_folder(app_database_url: str) -> None:
    database_url = app_database_url
    assert_static_ok([APP / "sql"])
    assert_sql_ok(
        database_url,
        [APP / "sql"],
        samples={"topic": "news"},
        reads={"app.list_public_rooms": {"id", "name", "topic"}},
        require_all=True,
    )
    with pytest.raises(AssertionError, match="headline"):
        assert_sql_ok(
            database_url,
            [APP / "sql"],
            samples={"topic": "news"},
            reads={"app.list_public_rooms": {"id", "name", "headline"}},
        )
