"""The statements under db/checks/, loaded with aiosql, for the schema tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiosql
import psycopg
from psycopg.rows import DictRow, dict_row

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
