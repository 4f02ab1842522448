"""The statements under db/checks/, loaded with aiosql, for the schema tests."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiosql
import psycopg
from psycopg import sql
from psycopg.rows import DictRow, dict_row

from chatstore.guardrails import load_queries
from chatstore.guardrails.plans import plan_nodes
from chatstore.resources import packaged_sql_dir
from tests.servers import PROJECT

CHECKS = PROJECT / "db" / "checks"
catalog: Any = aiosql.from_path(CHECKS / "catalog.sql", "apsycopg")
probes: Any = aiosql.from_path(CHECKS / "probes.sql", "apsycopg")
conversations: Any = aiosql.from_path(CHECKS / "conversations.sql", "apsycopg")


@asynccontextmanager
async def connect(url: str) -> AsyncIterator[psycopg.AsyncConnection[DictRow]]:
    """An autocommit connection: each probe statement stands or fails on its own."""
    conn = await psycopg.AsyncConnection.connect(url, autocommit=True, row_factory=dict_row)
    try:
        yield conn
    finally:
        await conn.close()


async def rows(generator: AsyncIterator[dict[str, Any]]) -> list[dict[str, Any]]:
    return [row async for row in generator]


def copy_sql(tmp_path: Path) -> Path:
    """A copy of chatstore's query files in tmp_path/sql, to break on purpose."""
    folder = tmp_path / "sql"
    folder.mkdir()
    for path in packaged_sql_dir().glob("*.sql"):
        shutil.copyfile(path, folder / path.name)
    return folder


def copy_sql_with_the_old_offset_page(tmp_path: Path) -> Path:
    """copy_sql, with page_by_offset as it was: LIMIT ... OFFSET over all the room's
    messages instead of the seq range below last_seq - offset."""
    folder = copy_sql(tmp_path)
    messages = folder / "messages.sql"
    head, block = messages.read_text().split("-- name: page_by_offset", 1)
    block, found, tail = block.partition("-- name:")  # page_by_offset may be the last
    kept = [line for line in block.splitlines(keepends=True) if "r.last_seq - :offset" not in line]
    old = "".join(kept).replace("    LIMIT :limit\n", "    LIMIT :limit OFFSET :offset\n")
    assert old.count("OFFSET :offset") == 1, "page_by_offset changed: update this helper"
    messages.write_text(f"{head}-- name: page_by_offset{old}{found}{tail}")
    return folder


def analyzed_page_reads(
    url: str, folder: Path, key: str, params: Mapping[str, Any], table: str = "messages"
) -> tuple[int, dict[str, Any]]:
    """How many rows of `table` the read-only query `key` of `folder` really read, run under
    EXPLAIN ANALYZE in a read-only transaction (summed over the plan's nodes and loops),
    and the plan, for the failure message.

    Estimates cannot show it: in a LATERAL subquery the planner sees an average room.
    """
    queries, _ = load_queries([folder])
    query = next(q for q in queries if q.key == key)
    statement = sql.SQL("EXPLAIN (ANALYZE, FORMAT JSON) ") + sql.SQL(query.sql)
    with psycopg.connect(url, row_factory=dict_row) as conn:
        conn.read_only = True
        row = conn.execute(statement, {name: params[name] for name in query.parameters}).fetchone()
        conn.rollback()
    assert row is not None
    plan: dict[str, Any] = row["QUERY PLAN"][0]["Plan"]
    read = sum(
        int(node["Actual Rows"]) * int(node["Actual Loops"])
        for node in plan_nodes(plan)
        if node.get("Relation Name") == table
    )
    return read, plan
