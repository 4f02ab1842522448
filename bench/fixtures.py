"""What the workloads aim at, read from the loaded dataset (queries in bench/fixtures.sql).

Reading it back, rather than recomputing it from the generator, keeps the workloads right
for whatever dataset the run found (a reused one included). The dataset has no threads,
reactions or quotes, so the run database gets some first (prepare_conversations): a page of
the hot room decorated with all three, and one thread in the hot room and one in the direct
room that every member follows.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

import aiosql
import psycopg
from psycopg.rows import dict_row

from bench.peers import PAGE

queries: Any = aiosql.from_path(Path(__file__).with_name("fixtures.sql"), "apsycopg")
MAX_TASKS = 64  # the most concurrent tasks any workload runs
PEER_SLOTS = 3  # chatstore, raw, SQLAlchemy: each marks messages read as its own users
NEWEST = 10_000  # messages the mark-read workload walks through
# The decorated page's depth (messages back from the hot room's newest): no other workload
# reads it (the keyset and offset depths, catch-up and the open load's pages are elsewhere).
RICH_DEPTH = 300


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
    rich_before_seq: int  # the hot room's page with reactions, quotes and threads: before this
    hot_thread: UUID  # a thread root in the hot room, followed by every member
    hot_followers: int
    direct_thread: UUID  # a thread root in the direct room, followed by both its users
    direct_followers: int


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
        rich_top = int(hot["last_seq"]) - RICH_DEPTH
        async with conn.transaction():
            threads = await _prepare_conversations(conn, hot["id"], direct, rich_top)
        await queries.analyze_conversations(conn)
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
        rich_before_seq=rich_top + 1,
        hot_thread=threads[0]["root_id"],
        hot_followers=int(threads[0]["followers"]),
        direct_thread=threads[1]["root_id"],
        direct_followers=int(threads[1]["followers"]),
    )


async def _prepare_conversations(
    conn: Any, hot_room: UUID, direct: dict[str, Any], rich_top: int
) -> list[dict[str, Any]]:
    """Decorate the hot room's page that ends at seq rich_top, then start one thread in each
    room (the hot room's below that page), every member following; the two threads."""
    page = {"room_id": hot_room, "low_seq": rich_top - PAGE + 1, "high_seq": rich_top}
    if rich_top < PAGE or not (await queries.thread_the_page(conn, **page))["threads"]:
        raise RuntimeError("the hot room is too small for the decorated page")
    await queries.react_to_page(conn, **page)
    threads = [
        await queries.follow_thread(conn, room_id=hot_room, top_seq=rich_top - PAGE),
        await queries.follow_thread(conn, room_id=direct["id"], top_seq=direct["last_seq"]),
    ]
    if any(thread is None or thread["root_id"] is None for thread in threads):
        raise RuntimeError("no message to start a thread at")
    return threads
