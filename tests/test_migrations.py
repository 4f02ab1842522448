"""Migrations go up, down to nothing and up again; db/schema.sql matches what they produce."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from tests.dbchecks import catalog, connect, rows
from tests.servers import PROJECT, PgServer, dbmate, migrate

MIGRATIONS = sorted((PROJECT / "db" / "migrations").glob("*.sql"))
# pg_dump names its own version in the header; a patch release must not count as drift.
VERSION_LINE = re.compile(r"^-- Dumped (from database|by pg_dump) version .*$", re.MULTILINE)


def dump_schema(url: str, target: Path) -> str:
    subprocess.run(
        [dbmate(), "--url", url, "--schema-file", str(target), "dump"],
        check=True,
        capture_output=True,
    )
    return VERSION_LINE.sub("", target.read_text())


def test_every_migration_has_up_and_down_sections() -> None:
    assert MIGRATIONS, "no migrations found"
    for path in MIGRATIONS:
        text = path.read_text()
        assert re.match(r"^\d{14}_[a-z0-9_]+\.sql$", path.name), path.name
        assert text.startswith("-- migrate:up"), path.name
        assert "-- migrate:down" in text, path.name
        down = text.split("-- migrate:down", 1)[1]
        assert down.strip(), f"{path.name} has an empty migrate:down"


def test_schema_file_matches_the_migrations(database_url: str, tmp_path: Path) -> None:
    committed = VERSION_LINE.sub("", (PROJECT / "db" / "schema.sql").read_text())
    produced = dump_schema(database_url, tmp_path / "schema.sql")
    assert produced == committed, (
        "db/schema.sql is out of date: run `just db-up migrate` and commit db/schema.sql"
    )


async def test_migrations_go_down_to_nothing_and_up_again(
    pg_server: PgServer, tmp_path: Path
) -> None:
    url = pg_server.url("chatstore_roundtrip")
    migrate(url, "up")
    first = dump_schema(url, tmp_path / "first.sql")
    for remaining in range(len(MIGRATIONS), 0, -1):
        status = migrate(url, "status").stdout
        assert f"Applied: {remaining}" in status
        migrate(url, "rollback")
    assert "Applied: 0" in migrate(url, "status").stdout
    async with connect(url) as conn:
        assert [r["table_name"] for r in await rows(catalog.public_tables(conn))] == [
            "schema_migrations"
        ]
    migrate(url, "up")
    assert dump_schema(url, tmp_path / "again.sql") == first
    migrate(url, "drop")
