"""The development seed loads, loads again without duplicating, and the demo shows it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from typing import Any

import pytest

from chatstore.config import Settings
from chatstore.db import Database
from tests.servers import PROJECT, RedisServer

SEED = PROJECT / "db" / "seeds" / "development.sql"


def load_seed(url: str) -> None:
    psql = shutil.which("psql")
    assert psql, "psql not found"
    subprocess.run(
        [psql, url, "--quiet", "-v", "ON_ERROR_STOP=1", "-f", str(SEED)],
        check=True,
        capture_output=True,
    )


async def summary(url: str) -> dict[str, Any]:
    settings = Settings(database_url=url, redis_url="redis://unused", pg_pool_min=1)
    async with Database.open(settings) as db, db.connection() as conn:
        row: dict[str, Any] = await db.queries.summary.database_summary(conn)
        return row


async def test_seed_loads_every_kind_of_data_and_twice_adds_nothing(database_url: str) -> None:
    load_seed(database_url)
    first = await summary(database_url)
    assert first["users_count"] == 5
    assert first["rooms_count"] == 5
    assert first["messages_count"] == 300
    assert first["edited_messages_count"] > 0
    assert first["revisions_count"] == first["edited_messages_count"]
    assert first["deleted_messages_count"] > 0
    assert first["read_receipts_count"] > 0

    load_seed(database_url)
    assert await summary(database_url) == first


def run_demo(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "chatstore.demo"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def test_demo_prints_what_the_seed_loaded(database_url: str, redis_server: RedisServer) -> None:
    load_seed(database_url)
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_server.url(0),
        "BCRYPT_ROUNDS": "10",
    }
    result = run_demo(env)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "5 users, 5 rooms, 14 memberships" in out
    assert "alice & bob" in out
    # The scripted conversation: every step a user would look for.
    assert "with a wrong password: refused" in out
    assert "asking twice gives one room: True" in out
    assert "<image: harbour.jpg, 182 kB>" in out
    assert "no duplicate: True" in out
    assert "revision 1 was: 'thanks, lookin good'" in out
    assert "(message deleted)" in out
    assert "page 3: [1], [2]" in out
    assert "catches up with: [4], [5], [6]" in out
    assert "receipts of [5]: bob." in out
    assert "1 unread (last seq 6, read up to 4)" in out
    assert "0 unread (last seq 6, read up to 5)" in out
    # Replies, reactions, pins and the room list with its previews.
    assert "count me in  (replying to [5]: 'see you at 6')" in out
    assert "reactions on [5]: 👍 x2 (alice too), :tada: x1" in out
    assert "pinned: [5] 'see you at 6'" in out
    assert "marks the room read: 0 unread" in out
    # A thread under [5] with a mention resolved from the text, and what the mentioned see.
    assert "in the thread of [5]: reply 1 is room seq 8" in out
    assert "follows [5]: unread replies 1, mentions 1" in out
    assert "room list: unread mentions 1" in out
    assert "inbox: 'which pier, @alice." in out
    assert "the room without thread-only replies: [5] (2 replies), [6], [7], [9]" in out
    assert "reads the thread: unread replies 0" in out
    assert "last 'pier 3'" in out
    assert "unread, last 'psst, a secret'" in out
    # Two connected users, live through Redis.
    assert "online=True" in out
    assert "1 typing in #live-" in out
    assert "delivered live: [1] 'are you there?' in " in out
    assert "unread after the send: 1" in out
    assert "unread after reading: 0" in out
    assert "online=False" in out


@pytest.mark.parametrize("missing", ["DATABASE_URL"])
def test_demo_without_configuration_says_what_is_missing(missing: str) -> None:
    result = run_demo({k: v for k, v in os.environ.items() if k != missing})
    assert result.returncode == 1
    assert "DATABASE_URL: must be set" in result.stderr
