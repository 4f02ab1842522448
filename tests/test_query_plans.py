"""With a few hundred thousand messages loaded, the hot queries use indexes, never a
sequential scan of messages."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import aiosql
import bcrypt
import pytest
from psycopg import sql

from chatstore.db import load_queries
from tests.dbchecks import CHECKS, connect, probes
from tests.servers import PgServer, migrate

bulk: Any = aiosql.from_path(CHECKS / "bulk.sql", "apsycopg")
ROOMS, PER_ROOM = 100, 3000


def plan_nodes(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield node
    for child in node.get("Plans", []):
        yield from plan_nodes(child)


@pytest.fixture(scope="module")
async def loaded(pg_server: PgServer) -> dict[str, Any]:
    """One database with ROOMS x PER_ROOM messages, shared by this module's read-only tests."""
    url = pg_server.url("chatstore_plans")
    migrate(url, "up")
    user_id = uuid.uuid4()
    password_hash = bcrypt.hashpw(b"plan checks", bcrypt.gensalt(10)).decode()
    async with connect(url) as conn:
        await probes.insert_user(
            conn, id=user_id, email="bulk@example.com", username="bulk", password_hash=password_hash
        )
        await bulk.bulk_load_rooms(conn, user_id=user_id, rooms=ROOMS, per_room=PER_ROOM)
        await bulk.analyze_tables(conn)
        rooms = [row async for row in load_queries().members.unread_counts(conn, user_id=user_id)]
    return {"url": url, "user_id": user_id, "room_id": rooms[0]["room_id"]}


HOT_QUERIES = [
    ("messages", "page_before", {"before_seq": PER_ROOM // 2, "limit": 51}),
    ("messages", "page_after", {"after_seq": PER_ROOM // 3, "limit": 51}),
    ("messages", "page_by_offset", {"limit": 51, "offset": 100}),
    ("members", "unread_counts", {}),
    ("rooms", "rooms_of_user", {}),
]


@pytest.mark.parametrize(
    ("file", "name", "extra"), HOT_QUERIES, ids=[f"{f}.{n}" for f, n, _ in HOT_QUERIES]
)
async def test_hot_query_does_not_scan_messages(
    loaded: dict[str, Any], file: str, name: str, extra: dict[str, Any]
) -> None:
    function = getattr(getattr(load_queries(), file), name)
    known = {"room_id": loaded["room_id"], "user_id": loaded["user_id"], **extra}
    params = {p: known[p] for p in function.parameters}
    statement = sql.SQL("EXPLAIN (FORMAT JSON) ") + sql.SQL(function.sql)
    async with connect(loaded["url"]) as conn:
        cursor = await conn.execute(statement, params)
        row = await cursor.fetchone()
    assert row is not None
    plan = row["QUERY PLAN"][0]["Plan"]
    scans = [
        node["Node Type"] for node in plan_nodes(plan) if node.get("Relation Name") == "messages"
    ]
    assert scans, "the plan does not read messages at all"
    assert "Seq Scan" not in scans, plan


async def test_the_dataset_is_big_enough_to_matter(loaded: dict[str, Any]) -> None:
    async with connect(loaded["url"]) as conn:
        rows = [
            row
            async for row in load_queries().members.unread_counts(conn, user_id=loaded["user_id"])
        ]
    assert len(rows) == ROOMS
    assert sum(row["last_seq"] for row in rows) == ROOMS * PER_ROOM
    # Every 50th message is soft-deleted and the marker sits halfway: exact arithmetic.
    expected_unread = PER_ROOM - PER_ROOM // 2 - (PER_ROOM // 50 - (PER_ROOM // 2) // 50)
    assert {row["unread_count"] for row in rows} == {expected_unread}
