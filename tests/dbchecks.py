"""The statements under db/checks/, loaded with aiosql, for the schema tests."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiosql
import psycopg
from psycopg.rows import DictRow, dict_row

from chatstore.resources import packaged_sql_dir
from tests.servers import PROJECT

CHECKS = PROJECT / "db" / "checks"
catalog: Any = aiosql.from_path(CHECKS / "catalog.sql", "apsycopg")
probes: Any = aiosql.from_path(CHECKS / "probes.sql", "apsycopg")


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
