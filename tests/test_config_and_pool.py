"""Settings come from the environment with clear errors; the pool reports failures plainly."""

from __future__ import annotations

import pytest

from chatstore.config import Settings
from chatstore.db import Database
from chatstore.errors import ConfigurationError, Unavailable, ValidationError
from tests.servers import PgServer, free_port

URL = "postgresql://u@127.0.0.1:1/db"


def test_defaults() -> None:
    settings = Settings.from_env({"DATABASE_URL": URL})
    assert settings.bcrypt_rounds == 12
    assert settings.pg_pool_max == 20
    assert settings.pg_prepare_threshold == 5


@pytest.mark.parametrize(
    ("env", "field", "rule"),
    [
        ({}, "DATABASE_URL", "must be set"),
        ({"DATABASE_URL": URL, "BCRYPT_ROUNDS": "9"}, "BCRYPT_ROUNDS", "between 10 and 16"),
        ({"DATABASE_URL": URL, "BCRYPT_ROUNDS": "twelve"}, "BCRYPT_ROUNDS", "whole number"),
        (
            {"DATABASE_URL": URL, "CHATSTORE_PG_POOL_MIN": "5", "CHATSTORE_PG_POOL_MAX": "2"},
            "CHATSTORE_PG_POOL_MAX",
            "at least",
        ),
        ({"DATABASE_URL": URL, "CHATSTORE_PG_POOL_TIMEOUT": "0"}, "CHATSTORE_PG_POOL_TIMEOUT", ""),
    ],
)
def test_bad_settings_name_the_variable_and_the_rule(
    env: dict[str, str], field: str, rule: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        Settings.from_env(env)
    assert caught.value.field == field
    assert rule in caught.value.rule


def test_prepared_statements_can_be_turned_off_for_pgbouncer() -> None:
    settings = Settings.from_env({"DATABASE_URL": URL, "CHATSTORE_PG_PREPARE_THRESHOLD": "none"})
    assert settings.pg_prepare_threshold is None


async def test_unknown_database_is_a_configuration_error_not_a_hang(pg_server: PgServer) -> None:
    settings = Settings(database_url=pg_server.url("no_such_database"), pg_pool_timeout=2)
    with pytest.raises(ConfigurationError) as caught:
        async with Database.open(settings):
            pass
    assert "no_such_database" in str(caught.value)


async def test_nothing_listening_is_unavailable() -> None:
    url = f"postgresql://chatstore@127.0.0.1:{free_port()}/chatstore"
    with pytest.raises(Unavailable):
        async with Database.open(Settings(database_url=url, pg_pool_timeout=1)):
            pass
