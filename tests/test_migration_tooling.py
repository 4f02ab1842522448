"""chatstore.migration_files: the house templates, the linter's refusals, and the
CREATE INDEX CONCURRENTLY recipe run for real through dbmate on the throwaway PostgreSQL.

Migrations here live in tmp folders and are recorded in a table of their own, in databases
named for these tests, so nothing meets the project's migrations or other tests.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
import tomllib
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import psycopg
import pytest
from psycopg import sql

from chatstore import migration_files
from chatstore.errors import AlreadyExists, ValidationError
from chatstore.migration_files import lint_migrations, migration_url, new_migration
from tests.servers import PROJECT, PgServer, dbmate

TABLE = "tooling_migrations"
START = datetime(2030, 1, 1, tzinfo=UTC)
INDEX = "widgets_owner_idx"

# What an engineer types over the blanks of each template.
TABLE_BLANKS = {
    r"<index_name>: <why[^>]*>\.": "primary key: a widget by id.",
    r"^--   \(No index\?.*\n": "",
    r"^-- <the change[^>]*>$": "CREATE TABLE widgets (\n"
    "    id bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY,\n"
    "    owner text NOT NULL\n"
    ");",
    r"^-- <the statements that undo[^>]*>$": "DROP TABLE widgets;",
}
INDEX_BLANKS = {
    r"<index_name>": INDEX,
    r"<why[^>]*>": "the widgets of one owner",
    r"<table_name>": "widgets",
    r"<columns>": "owner",
}


def fill(path: Path, blanks: dict[str, str]) -> Path:
    text = path.read_text()
    for pattern, value in blanks.items():
        text, count = re.subn(pattern, value, text, flags=re.MULTILINE)
        assert count, f"the template has no blank matching {pattern!r}"
    path.write_text(text)
    return path


def widgets_table(directory: Path) -> Path:
    return fill(new_migration(directory, "create_widgets", now=START), TABLE_BLANKS)


def owner_index(directory: Path) -> Path:
    later = START + timedelta(seconds=1)
    path = new_migration(directory, "index_widgets_owner", concurrent_index=True, now=later)
    return fill(path, INDEX_BLANKS)


def run_dbmate(
    url: str, directory: Path, *verb: str, schema: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """dbmate on a tmp folder, reading no .env (the project's names its schema file)."""
    command = [dbmate(), "--url", url, "--env-file", os.devnull, "--migrations-dir"]
    command += [str(directory), "--migrations-table", TABLE]
    command += ["--schema-file", str(schema)] if schema else ["--no-dump-schema"]
    # Bounded: a build that ignored the lock timeout would hang here, not the suite.
    return subprocess.run(
        [*command, *verb], capture_output=True, text=True, check=False, timeout=30
    )


def index_validity(url: str) -> bool | None:
    """Whether the index is valid; None when there is none."""
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT indisvalid FROM pg_index WHERE indexrelid = to_regclass(%s)", [INDEX]
        ).fetchone()
    return None if row is None else bool(row[0])


def test_new_migration_names_the_file_like_dbmate(tmp_path: Path) -> None:
    two_hours_east = datetime(2030, 1, 1, 2, 0, 5, tzinfo=timezone(timedelta(hours=2)))
    path = new_migration(tmp_path / "new", "add_room_topics", now=two_hours_east)
    assert path == tmp_path / "new" / "20300101000005_add_room_topics.sql"
    assert path.read_text().startswith("-- migrate:up\n-- Indexes:\n")
    naive = new_migration(tmp_path / "new", "x2", now=datetime(2030, 1, 1, 0, 0, 6))
    assert naive.name == "20300101000006_x2.sql"


@pytest.mark.parametrize("name", ["", "AddTopics", "add-topics", "add topics", "../escape"])
def test_new_migration_refuses_bad_names(tmp_path: Path, name: str) -> None:
    with pytest.raises(ValidationError) as raised:
        new_migration(tmp_path, name, now=START)
    assert raised.value.field == "name"
    assert list(tmp_path.iterdir()) == []


def test_new_migration_never_overwrites(tmp_path: Path) -> None:
    path = new_migration(tmp_path, "add_topics", now=START)
    path.write_text("-- migrate:up\n-- work in progress\n")
    with pytest.raises(AlreadyExists):
        new_migration(tmp_path, "add_topics", now=START)
    # Another name in the same second would share the version, which dbmate keys on.
    with pytest.raises(AlreadyExists, match="version"):
        new_migration(tmp_path, "other", now=START)
    assert path.read_text() == "-- migrate:up\n-- work in progress\n"


def test_the_templates_are_refused_until_filled_then_lint_clean(tmp_path: Path) -> None:
    table = new_migration(tmp_path, "create_widgets", now=START)
    index = new_migration(
        tmp_path, "index_widgets", concurrent_index=True, now=START + timedelta(1)
    )
    problems = lint_migrations(tmp_path)
    assert len(problems) == 2, problems
    assert all("fill in the template's blanks: <index_name>" in p for p in problems), problems
    text = fill(table, TABLE_BLANKS).read_text()
    assert "SET LOCAL lock_timeout = '5s';\nSET LOCAL statement_timeout = '60s';" in text
    fill(index, INDEX_BLANKS)
    assert lint_migrations(tmp_path) == []


def test_the_concurrent_index_recipe_lints_applies_and_rolls_back(
    pg_server: PgServer, tmp_path: Path
) -> None:
    directory = tmp_path / "migrations"
    widgets_table(directory)
    index_text = owner_index(directory).read_text()
    assert index_text.startswith("-- migrate:up transaction:false\n")
    assert "squawk-ignore" not in index_text
    assert lint_migrations(directory) == []

    url = migration_url(pg_server.url("chatstore_tooling_cic"))
    schema = tmp_path / "schema.sql"
    applied = run_dbmate(url, directory, "up", schema=schema)
    assert applied.returncode == 0, applied.stderr
    assert index_validity(url) is True
    # The timeouts travel in `options`, which pg_dump understands too: dbmate's schema dump
    # after `up` (whose errors dbmate swallows) did happen.
    assert f"CREATE INDEX {INDEX} ON public.widgets" in schema.read_text()

    rolled_back = run_dbmate(url, directory, "rollback")
    assert rolled_back.returncode == 0, rolled_back.stderr
    assert index_validity(url) is None
    assert "Applied: 1" in run_dbmate(url, directory, "status").stdout
    assert run_dbmate(url, directory, "drop").returncode == 0


@pytest.mark.timeout(90)
def test_the_lock_timeout_stops_a_blocked_build_and_the_recovery_works(
    pg_server: PgServer, tmp_path: Path
) -> None:
    directory = tmp_path / "migrations"
    widgets_table(directory)
    url = migration_url(pg_server.url("chatstore_tooling_lock"), lock_timeout="1s")
    assert run_dbmate(url, directory, "up").returncode == 0
    owner_index(directory)

    # Someone holds a lock the build needs (a VACUUM, an ALTER TABLE): give up, don't queue.
    with psycopg.connect(url) as holder:
        holder.execute("LOCK TABLE widgets IN SHARE UPDATE EXCLUSIVE MODE")
        started = time.monotonic()
        blocked = run_dbmate(url, directory, "up")
        elapsed = time.monotonic() - started
    assert blocked.returncode != 0
    assert "lock timeout" in blocked.stderr, blocked.stderr
    assert elapsed < 10, f"took {elapsed:.1f}s with a 1s lock timeout"
    assert index_validity(url) is None  # refused before it began: nothing left behind

    # A transaction older than the build outlives the lock timeout while the build waits for
    # it: the build fails after creating the index, which stays behind INVALID.
    with psycopg.connect(url) as old_reader:
        old_reader.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        old_reader.execute("SELECT count(*) FROM widgets").fetchone()
        failed = run_dbmate(url, directory, "up")
    assert "lock timeout" in failed.stderr, failed.stderr
    assert index_validity(url) is False
    assert "Pending: 1" in run_dbmate(url, directory, "status").stdout

    # No IF NOT EXISTS in the recipe, so a plain retry says so instead of recording success.
    retried = run_dbmate(url, directory, "up")
    assert retried.returncode != 0
    assert "already exists" in retried.stderr, retried.stderr
    # The documented recovery: drop the invalid index, migrate again.
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP INDEX CONCURRENTLY IF EXISTS {}").format(sql.Identifier(INDEX)))
    recovered = run_dbmate(url, directory, "up")
    assert recovered.returncode == 0, recovered.stderr
    assert index_validity(url) is True
    assert run_dbmate(url, directory, "drop").returncode == 0


def test_migration_url_settings_reach_every_migration(pg_server: PgServer, tmp_path: Path) -> None:
    probe = "CREATE TABLE {0} AS SELECT current_setting('lock_timeout') AS lock_timeout, "
    probe += "current_setting('statement_timeout') AS statement_timeout;"
    (tmp_path / "1_in_transaction.sql").write_text(
        f"-- migrate:up\n{probe.format('seen_in')}\n-- migrate:down\nDROP TABLE seen_in;\n"
    )
    (tmp_path / "2_no_transaction.sql").write_text(
        f"-- migrate:up transaction:false\n{probe.format('seen_out')}\n"
        "-- migrate:down\nDROP TABLE seen_out;\n"
    )
    plain = pg_server.url("chatstore_tooling_settings")
    assert run_dbmate(plain, tmp_path, "create").returncode == 0
    with psycopg.connect(plain, autocommit=True) as conn:
        # Defaults a DBA may have set for the database: the URL's settings must win.
        conn.execute("ALTER DATABASE chatstore_tooling_settings SET statement_timeout = '30s'")
        conn.execute("ALTER DATABASE chatstore_tooling_settings SET lock_timeout = '1min'")
    applied = run_dbmate(migration_url(plain), tmp_path, "up")
    assert applied.returncode == 0, applied.stderr
    with psycopg.connect(plain) as conn:
        for table in ("seen_in", "seen_out"):
            query = sql.SQL("SELECT lock_timeout, statement_timeout FROM {}")
            row = conn.execute(query.format(sql.Identifier(table))).fetchone()
            assert row == ("5s", "0"), table
    assert run_dbmate(plain, tmp_path, "drop").returncode == 0


def test_migration_url_keeps_the_rest_of_the_url() -> None:
    url = migration_url(
        "postgres://app:s3cret@db:5432/chat?sslmode=require&options=-c%20search_path%3Dchat"
        "&lock_timeout=1min",
        lock_timeout="10s",
    )
    parts = urlsplit(url)
    assert parts.netloc == "app:s3cret@db:5432"
    assert parts.path == "/chat"
    query = parse_qs(parts.query)
    assert query["sslmode"] == ["require"]
    # A plain lock_timeout parameter would override `options` and break pg_dump: it goes.
    assert "lock_timeout" not in query
    assert query["options"] == [
        "-c\tsearch_path=chat\t-c\tlock_timeout=10s\t-c\tstatement_timeout=0"
    ]


def test_migration_url_refuses_bad_input_without_echoing_the_password() -> None:
    with pytest.raises(ValidationError) as raised:
        migration_url("mysql://app:s3cret@db/chat")
    assert raised.value.field == "url"
    assert "s3cret" not in str(raised.value)
    with pytest.raises(ValidationError) as raised:
        migration_url("postgres://app:s3cret@db/chat", lock_timeout="5 s")
    assert raised.value.field == "lock_timeout"


CIC = f"CREATE INDEX CONCURRENTLY {INDEX} ON widgets (owner);"
NO_TX = "-- migrate:up transaction:false\n"
NO_TX_DOWN = f"-- migrate:down transaction:false\nDROP INDEX CONCURRENTLY IF EXISTS {INDEX};\n"
SETS = "SET LOCAL lock_timeout = '5s';\nSET LOCAL statement_timeout = '60s';\n"
NOTE = "ALTER TABLE widgets ADD COLUMN note text;\n"
NOTE_DOWN = "-- migrate:down\nALTER TABLE widgets DROP COLUMN note;\n"
# A migration the linter must refuse, and what its message says.
REFUSED = {
    "two-statements": (
        f"{NO_TX}SET lock_timeout = '5s';\n{CIC}\n{NO_TX_DOWN}",
        "must hold exactly one statement (it has 2)",
    ),
    "no-timeouts": (f"-- migrate:up\n{NOTE}{NOTE_DOWN}", "start the migrate:up section with SET"),
    "timeouts-too-late": (f"-- migrate:up\n{NOTE}{SETS}{NOTE_DOWN}", "before any other statement"),
    "session-not-local": (
        f"-- migrate:up\n{SETS.replace('LOCAL ', '')}{NOTE}{NOTE_DOWN}",
        "SET LOCAL lock_timeout",
    ),
    "if-not-exists": (
        NO_TX + CIC.replace("CONCURRENTLY", "CONCURRENTLY IF NOT EXISTS") + "\n" + NO_TX_DOWN,
        "no IF NOT EXISTS on a concurrent index build",
    ),
    "needless-no-transaction": (NO_TX + NOTE + NOTE_DOWN, "drop `transaction:false`"),
    "down-in-transaction": (
        NO_TX + CIC + "\n" + NO_TX_DOWN.replace(" transaction:false", ""),
        "the migrate:down section runs in a transaction, where PostgreSQL refuses",
    ),
    "empty-down": (f"{NO_TX}{CIC}\n-- migrate:down\n\n", "section must undo the up section"),
    "up-not-first": (f"\n-- migrate:up\n{SETS}{NOTE}{NOTE_DOWN}", "the first line must be"),
}


@pytest.mark.parametrize(("text", "expected"), REFUSED.values(), ids=REFUSED.keys())
def test_the_linter_refuses(tmp_path: Path, text: str, expected: str) -> None:
    widgets_table(tmp_path)
    (tmp_path / "20300101000001_x.sql").write_text(text)
    problems = lint_migrations(tmp_path)
    assert any(expected in p and "20300101000001_x.sql" in p for p in problems), problems


def test_two_statements_without_a_transaction_fail_as_the_linter_says(
    pg_server: PgServer, tmp_path: Path
) -> None:
    widgets_table(tmp_path)
    (tmp_path / "20300101000001_x.sql").write_text(REFUSED["two-statements"][0])
    assert len(lint_migrations(tmp_path)) == 1
    # dbmate sends both as one string, which PostgreSQL runs as an implicit transaction.
    url = migration_url(pg_server.url("chatstore_tooling_two"))
    failed = run_dbmate(url, tmp_path, "up")
    assert "cannot run inside a transaction block" in failed.stderr, failed.stderr
    assert run_dbmate(url, tmp_path, "drop").returncode == 0


def test_the_project_migrations_lint_clean() -> None:
    assert lint_migrations(PROJECT / "db" / "migrations") == []


def test_the_packaged_squawk_settings_match_the_repository() -> None:
    packaged = PROJECT / "chatstore" / "migration_templates" / "squawk.toml"
    repository = PROJECT / ".squawk.toml"
    assert tomllib.loads(packaged.read_text()) == tomllib.loads(repository.read_text())


def test_an_installed_copy_lints_with_the_packaged_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Installed, the module sits in site-packages with no .squawk.toml above it.
    monkeypatch.setattr(migration_files, "__file__", str(tmp_path / "chatstore" / "x.py"))
    assert lint_migrations(PROJECT / "db" / "migrations") == []
