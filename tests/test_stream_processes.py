"""Three application processes, five rooms, fifty connected clients: every client ends with
exactly its rooms' change log, in order, without duplicates or gaps, through concurrent
senders in every process, retried sends, edits and deletes, publishes dropped on purpose
and a Redis restart in the middle of it all. Each process is a real `python` process with
its own ChatStore (tests/stream_worker.py)."""

from __future__ import annotations

import asyncio
import json
import os
import random
import sys
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from chatstore import ChatStore, User
from tests.conftest import settings_for
from tests.servers import PROJECT, RedisServer

PROCESSES, ROOMS, USERS, CLIENTS, SENDERS = 3, 5, 20, 50, 3
MESSAGES_PER_SENDER = 60
STEP_TIMEOUT = 90.0
pytestmark = pytest.mark.timeout(300)


async def make_plan(store: ChatStore) -> tuple[dict[str, Any], dict[str, set[UUID]]]:
    rng = random.Random(7)
    people: list[User] = [
        await store.users.create(
            email=f"u{n}@example.com", username=f"user{n}", password="a long enough password"
        )
        for n in range(USERS + SENDERS * PROCESSES)
    ]
    owner = people[0]
    rooms = [
        await store.rooms.create(name=f"room {n}", kind="public", created_by=owner.id)
        for n in range(ROOMS)
    ]
    members: dict[str, set[UUID]] = {str(u.id): set() for u in people}
    members[str(owner.id)] = {r.id for r in rooms}
    senders = people[USERS:]
    for user in people[1:USERS]:
        for room in rng.sample(rooms, rng.randint(1, 3)):
            await store.rooms.add_member(room.id, user.id)
            members[str(user.id)].add(room.id)
    for user in senders:
        for room in rooms:
            await store.rooms.add_member(room.id, user.id)
            members[str(user.id)].add(room.id)
    listeners = [str(u.id) for u in people[:USERS]]
    clients = [listeners[n % USERS] for n in range(CLIENTS)]  # some users on two devices
    plan = {
        "rooms": [str(r.id) for r in rooms],
        "clients": [clients[w::PROCESSES] for w in range(PROCESSES)],
        "senders": [
            [str(u.id) for u in senders[w * SENDERS : (w + 1) * SENDERS]] for w in range(PROCESSES)
        ],
        "messages_per_sender": MESSAGES_PER_SENDER,
        "drop_rate": 0.1,
        "reports": "",
    }
    return plan, members


async def line(process: asyncio.subprocess.Process) -> str:
    assert process.stdout is not None
    raw = await asyncio.wait_for(process.stdout.readline(), STEP_TIMEOUT)
    if not raw:
        raise AssertionError(f"a worker ended early (exit {await process.wait()})")
    return raw.decode().strip()


async def tell(processes: list[asyncio.subprocess.Process], word: str) -> None:
    for process in processes:
        assert process.stdin is not None
        process.stdin.write(f"{word}\n".encode())
        await process.stdin.drain()


async def test_fifty_clients_in_three_processes_get_exactly_their_rooms_logs(
    database_url: str, own_redis: RedisServer, tmp_path: Path
) -> None:
    settings = settings_for(database_url, own_redis.url(0))
    async with ChatStore.open(settings) as store:
        plan, members = await make_plan(store)
    plan["reports"] = str(tmp_path)
    plan_file = tmp_path / "plan.json"
    plan_file.write_text(json.dumps(plan))
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": own_redis.url(0),
        "BCRYPT_ROUNDS": "10",
        "CHATSTORE_STREAM_POLL_SECONDS": "0.2",
    }
    processes = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.stream_worker",
            str(plan_file),
            str(worker),
            cwd=PROJECT,
            env=env,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        for worker in range(PROCESSES)
    ]
    try:
        assert [await line(p) for p in processes] == ["ready"] * PROCESSES
        await tell(processes, "go")
        await asyncio.sleep(0.5)
        own_redis.stop()  # mid-run: publishes fail, subscribers lose their connection
        await asyncio.sleep(1.0)
        own_redis.start()
        assert [await line(p) for p in processes] == ["sent"] * PROCESSES
        await tell(processes, "finish")
        assert [await line(p) for p in processes] == ["done"] * PROCESSES
        reports = [json.loads((tmp_path / f"{w}.json").read_text()) for w in range(PROCESSES)]
        assert [await asyncio.wait_for(p.wait(), STEP_TIMEOUT) for p in processes] == [0] * 3
    finally:
        for process in processes:
            if process.returncode is None:
                process.kill()
                await process.wait()

    async with ChatStore.open(settings) as store:
        logs = {room: await store.log.after(UUID(room), 0, limit=100_000) for room in plan["rooms"]}
        joined = {
            user: await store.log.memberships(UUID(user))
            for user in {c for cs in plan["clients"] for c in cs}
        }
    for report in reports:
        for key, received in report["received"].items():
            user = key.split("#")[0]
            for room, entries in logs.items():
                membership = joined[user].get(UUID(room))
                expected = (
                    []
                    if membership is None
                    else [
                        [room, e.event_seq, e.type]
                        for e in entries
                        if e.event_seq >= membership.joined_event_seq
                    ]
                )
                got = [r for r in received if r[0] == room]
                assert got == expected, f"client {key} in room {room}"
            assert {r[0] for r in received} <= {str(r) for r in members[user]}
    for worker, report in enumerate(reports):
        print(
            f"process {worker}: {report['counts']}, publishes dropped "
            f"{report['dropped_publishes']}, feed {report['feed']}, stream log reads "
            f"{report['stream_log_reads']}, hub reconnects {report['hub_reconnects']}"
        )
    assert sum(r["counts"]["retries"] for r in reports) > 0
    assert sum(r["dropped_publishes"] for r in reports) > 0
