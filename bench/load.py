"""Building the dataset database (or reusing a built one) and the per-run copy of it.

The dataset lives in the database `bench_dataset` of the benchmark's cluster. Once it is
loaded and checked, `dataset.json` beside the cluster records the dataset's key (spec,
generator version, migrations); a later run whose key matches reuses it as it is. Each run
measures on `bench_run`, a fresh copy (CREATE DATABASE ... TEMPLATE), so the writes of one
run (sends, receipts) never change what the next run starts from.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import aiosql
import psycopg
from psycopg.rows import dict_row
from pytest_postgresql.janitor import DatabaseJanitor

from bench.dataset import Dataset, DatasetSpec
from bench.messages import message_rows
from bench.progress import log, tracked
from bench.servers import BenchPostgres
from tests.servers import PG_USER, PROJECT, migrate

DATASET_DB = "bench_dataset"
RUN_DB = "bench_run"
MARKER = "dataset.json"
statements: Any = aiosql.from_path(Path(__file__).with_name("dataset.sql"), "psycopg")


@dataclass
class DatasetInfo:
    key: str
    spec: dict[str, Any]
    counts: dict[str, int]
    load_seconds: float
    reused: bool = False
    log: str = "room_events left empty; rooms.last_event_seq and joined_event_seq are 0"
    extra: dict[str, Any] = field(default_factory=dict)


def migration_versions() -> list[str]:
    return sorted(p.name for p in (PROJECT / "db" / "migrations").glob("*.sql"))


def ensure_dataset(pg: BenchPostgres, spec: DatasetSpec) -> DatasetInfo:
    """The dataset in `bench_dataset`, built unless the cluster already holds this one."""
    key = spec.key(migration_versions())
    marker = pg.base / MARKER
    if marker.exists():
        recorded = json.loads(marker.read_text())
        if recorded.get("key") == key:
            info = DatasetInfo(**recorded)
            info.reused = True
            log(f"dataset {key}: reusing the one loaded in {pg.base}")
            return info
        marker.unlink()
    log(f"dataset {key}: building {spec.messages:,} messages in {pg.base}")
    url = pg.url(DATASET_DB)
    migrate(url, "drop")  # whatever a stale or interrupted build left behind
    migrate(url)
    started = time.monotonic()
    counts = _load(url, Dataset(spec))
    info = DatasetInfo(
        key=key, spec=asdict(spec), counts=counts, load_seconds=time.monotonic() - started
    )
    marker.write_text(json.dumps(asdict(info), indent=2))
    log(f"dataset {key}: loaded and checked in {info.load_seconds:.1f} s")
    return info


def _copy(conn: psycopg.Connection[Any], sql: str, rows: Iterable[tuple[Any, ...]]) -> None:
    with conn.cursor() as cur, cur.copy(sql) as copy:
        for row in rows:
            copy.write_row(row)


def _load(url: str, data: Dataset) -> dict[str, int]:
    spec = data.spec
    memberships = sum(len(m) for m in data.members)
    revisions: list[tuple[Any, ...]] = []
    with psycopg.connect(url, row_factory=dict_row) as conn:
        statements.skip_triggers(conn)
        _copy(conn, statements.copy_users.sql, tracked(data.user_rows(), "users", spec.users))
        _copy(conn, statements.copy_rooms.sql, tracked(data.room_rows(), "rooms", spec.rooms))
        members = tracked(data.member_rows(), "members", memberships)
        _copy(conn, statements.copy_members.sql, members)
        messages = tracked(message_rows(data, revisions), "messages", spec.messages)
        _copy(conn, statements.copy_messages.sql, messages)
        edits = tracked(revisions, "revisions", len(revisions))
        _copy(conn, statements.copy_revisions.sql, edits)
        # At most one receipt per membership (none for a member who read nothing).
        receipts = tracked(data.receipt_rows(), "receipts", memberships)
        _copy(conn, statements.copy_receipts.sql, receipts)
        broken = statements.broken_rooms(conn)["broken_rooms"]
        orphans = statements.orphans(conn)["orphan_rows"]
        if broken or orphans:
            conn.rollback()
            raise RuntimeError(f"generated dataset is inconsistent: {broken=} {orphans=}")
        counts: dict[str, int] = dict(statements.table_counts(conn))
    log("  analyzing ...")
    with psycopg.connect(url, autocommit=True) as conn:
        statements.vacuum_analyze(conn)
    return counts


def fresh_run_database(pg: BenchPostgres) -> str:
    """A new `bench_run` copied from the dataset (any previous one dropped first)."""
    janitor = _janitor(pg, template=True)
    janitor.drop()
    started = time.monotonic()
    janitor.init()
    log(f"run database copied from the dataset in {time.monotonic() - started:.1f} s")
    return pg.url(RUN_DB)


def drop_run_database(pg: BenchPostgres) -> None:
    _janitor(pg, template=False).drop()


def _janitor(pg: BenchPostgres, *, template: bool) -> DatabaseJanitor:
    return DatabaseJanitor(
        user=PG_USER,
        host="127.0.0.1",
        port=pg.port,
        dbname=RUN_DB,
        template_dbname=DATASET_DB if template else None,
    )
