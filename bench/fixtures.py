"""What the workloads aim at, read from the loaded dataset (queries in bench/fixtures.sql).

Reading it back, rather than recomputing it from the generator, keeps the workloads right
for whatever dataset the run found (a reused one included).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

import aiosql
import psycopg
from psycopg.rows import dict_row

queries: Any = aiosql.from_path(Path(__file__).with_name("fixtures.sql"), "apsycopg")
MAX_TASKS = 64  # the most concurrent tasks any workload runs
PEER_SLOTS = 3  # chatstore, raw, SQLAlchemy: each marks messages read as its own users
NEWEST = 10_000  # messages the mark-read workload walks through


@dataclass(frozen=True)
class Fixtures:
    server: dict[str, str]
    hot_room: UUID  # the room with a fifth of all messages, also the biggest
    hot_members: int
    hot_last_seq: int
    direct_room: UUID
    direct_users: tuple[UUID, UUID]
    readers: list[UUID]  # members of the hot room, who read its history
    probes: list[UUID]  # users in exactly `probe_rooms` rooms
    users: list[UUID]
    usernames: list[str]
    markers: list[UUID]  # members of the hot room (not readers) who mark messages read
    newest: list[UUID]  # the hot room's newest messages, oldest first


async def _rows(generator: Any) -> list[dict[str, Any]]:
    return [row async for row in generator]


async def load_fixtures(url: str, probe_rooms: int) -> Fixtures:
    async with await psycopg.AsyncConnection.connect(
        url, autocommit=True, row_factory=dict_row
    ) as conn:
        server = dict(await queries.server_facts(conn))
        hot = await queries.hot_room(conn)
        direct = await queries.direct_room(conn)
        wanted = MAX_TASKS * (1 + PEER_SLOTS)
        members = await _rows(queries.room_members(conn, room_id=hot["id"], limit=wanted))
        probes = await _rows(queries.users_in_rooms(conn, room_count=probe_rooms, limit=MAX_TASKS))
        users = await _rows(queries.some_users(conn, limit=1000))
        newest = await _rows(queries.newest_messages(conn, room_id=hot["id"], limit=NEWEST))
    member_ids = [row["user_id"] for row in members]
    if not probes or len(member_ids) < 2:
        raise RuntimeError("the dataset lacks the users the workloads need")
    return Fixtures(
        server={k: str(v) for k, v in server.items()},
        hot_room=hot["id"],
        hot_members=int(hot["members"]),
        hot_last_seq=int(hot["last_seq"]),
        direct_room=direct["id"],
        direct_users=(direct["direct_user_low"], direct["direct_user_high"]),
        readers=member_ids[:MAX_TASKS],
        probes=[row["user_id"] for row in probes],
        users=[row["id"] for row in users],
        usernames=[row["username"] for row in users],
        # With a small room (the quick dataset), readers and markers may share users.
        markers=member_ids[MAX_TASKS:] or member_ids,
        newest=[row["id"] for row in newest],
    )
