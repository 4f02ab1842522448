"""Settings come from the environment with clear errors; the pool reports failures plainly."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from chatstore.config import Settings
from chatstore.db import Database, connection_kwargs
from chatstore.errors import ConfigurationError, Unavailable
from tests.servers import PgServer, free_port

URL = "postgresql://u@127.0.0.1:1/db"
REDIS = "redis://127.0.0.1:1/0"
BASE = {"DATABASE_URL": URL, "REDIS_URL": REDIS}


def test_defaults() -> None:
    settings = Settings.from_env(BASE)
    assert settings.bcrypt_rounds == 12
    assert settings.redis_pool_max == 50
    assert settings.sql_paths == ()
    assert settings.pg_pool_max == 20
    assert settings.pg_prepare_threshold == 5
    # Above the 5 s statement timeout: the server cancels a slow statement first.
    assert settings.pg_call_timeout_seconds == 6.0
    assert settings.pg_call_timeout_seconds * 1000 > settings.pg_statement_timeout_ms


@pytest.mark.parametrize(
    ("env", "field", "rule"),
    [
        ({"REDIS_URL": REDIS}, "DATABASE_URL", "must be set"),
        # No silent default: an unset REDIS_URL must not mean "whatever listens on 6379".
        ({"DATABASE_URL": URL}, "REDIS_URL", "must be set"),
        ({**BASE, "BCRYPT_ROUNDS": "9"}, "BCRYPT_ROUNDS", "between 10 and 16"),
        ({**BASE, "BCRYPT_ROUNDS": "twelve"}, "BCRYPT_ROUNDS", "whole number"),
        (
            {**BASE, "CHATSTORE_PG_POOL_MIN": "5", "CHATSTORE_PG_POOL_MAX": "2"},
            "CHATSTORE_PG_POOL_MAX",
            "at least",
        ),
        ({**BASE, "CHATSTORE_PG_POOL_TIMEOUT": "0"}, "CHATSTORE_PG_POOL_TIMEOUT", ""),
        ({**BASE, "CHATSTORE_REDIS_POOL_MAX": "0"}, "CHATSTORE_REDIS_POOL_MAX", "between"),
        ({**BASE, "CHATSTORE_SQL_PATH": "/no/such/folder"}, "CHATSTORE_SQL_PATH", "not a folder"),
        (
            {**BASE, "CHATSTORE_PG_CALL_TIMEOUT_SECONDS": "0"},
            "CHATSTORE_PG_CALL_TIMEOUT_SECONDS",
            "between 0.1 and 3600",
        ),
        (
            {**BASE, "CHATSTORE_PG_CALL_TIMEOUT_SECONDS": "nan"},
            "CHATSTORE_PG_CALL_TIMEOUT_SECONDS",
            "between",
        ),
        (
            {**BASE, "CHATSTORE_PG_CALL_TIMEOUT_SECONDS": "6s"},
            "CHATSTORE_PG_CALL_TIMEOUT_SECONDS",
            "a number",
        ),
    ],
)
def test_bad_settings_name_the_variable_and_the_rule(
    env: dict[str, str], field: str, rule: str
) -> None:
    with pytest.raises(ConfigurationError) as caught:
        Settings.from_env(env)
    assert caught.value.setting == field
    assert rule in str(caught.value)


def test_settings_built_in_code_refuse_a_weak_bcrypt_cost() -> None:
    with pytest.raises(ConfigurationError, match="bcrypt_rounds"):
        Settings(database_url=URL, redis_url=REDIS, bcrypt_rounds=9)


def test_the_call_timeout_is_read_and_must_be_positive() -> None:
    settings = Settings.from_env({**BASE, "CHATSTORE_PG_CALL_TIMEOUT_SECONDS": "2.5"})
    assert settings.pg_call_timeout_seconds == 2.5
    for bad in (0.0, -1.0, float("nan")):
        with pytest.raises(ConfigurationError, match="pg_call_timeout_seconds"):
            Settings(database_url=URL, redis_url=REDIS, pg_call_timeout_seconds=bad)


def test_connections_get_keepalives_and_a_connect_timeout() -> None:
    kwargs = connection_kwargs(Settings(database_url=URL, redis_url=REDIS, pg_pool_timeout=7.2))
    assert kwargs["keepalives"] == 1
    assert kwargs["tcp_user_timeout"] > 0
    # Whole seconds, at least the pool's wait (and never under psycopg's floor of 2).
    assert kwargs["connect_timeout"] == 8
    short = Settings(database_url=URL, redis_url=REDIS, pg_pool_timeout=0.5)
    assert connection_kwargs(short)["connect_timeout"] == 2


def test_sql_path_lists_folders(tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir()
    second.mkdir()
    settings = Settings.from_env({**BASE, "CHATSTORE_SQL_PATH": f"{first}{os.pathsep}{second}"})
    assert settings.sql_paths == (first, second)


def test_prepared_statements_can_be_turned_off_for_pgbouncer() -> None:
    settings = Settings.from_env({**BASE, "CHATSTORE_PG_PREPARE_THRESHOLD": "none"})
    assert settings.pg_prepare_threshold is None


async def test_unknown_database_is_a_configuration_error_not_a_hang(pg_server: PgServer) -> None:
    settings = Settings(
        database_url=pg_server.url("no_such_database"), redis_url=REDIS, pg_pool_timeout=2
    )
    with pytest.raises(ConfigurationError) as caught:
        async with Database.open(settings):
            pass
    assert "no_such_database" in str(caught.value)


async def test_nothing_listening_is_unavailable() -> None:
    url = f"postgresql://chatstore@127.0.0.1:{free_port()}/chatstore"
    with pytest.raises(Unavailable):
        async with Database.open(Settings(database_url=url, redis_url=REDIS, pg_pool_timeout=1)):
            pass
