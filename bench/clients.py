"""Many connected clients with think time: chatstore as a chat server's clients use it.

Each simulated client is one asyncio task (a few KB) for a user of its own. A sample of
them log in with their password while the others are already acting: `users.authenticate`
(bcrypt at the dataset's cost, in a worker thread) then `sessions.create`, at a fixed
rate, so the password hashing competes for the CPU with everything else, as a morning's
logins would. Logging all 10,000 in would take 40 minutes of CPU at cost 12 (about 240 ms
each: 20 minutes on two cores, bcrypt's figure rather than chatstore's), so the rest get
their sessions created directly (`sessions.create`, a PostgreSQL row and a Redis hash: what
a login costs besides the hash) before the clock starts. Each client then acts: an
exponential think time, then an operation from the load's mix on its own user and rooms
(the first one after checking its session once, as on connecting), until the time is up.
N clients thinking T seconds on average offer about N / T operations per second, arriving
as a Poisson process. The login figure is how many logins per second the process completed
while serving the others: the rate a connect storm could be absorbed at, bcrypt bound.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass
from functools import partial
from typing import Any
from uuid import UUID

from psycopg.rows import dict_row

from bench.arrivals import Call, OpenSample, lag_ticker, timed
from bench.dataset import PASSWORD
from bench.loadmix import DEPTHS, MIX
from bench.loadplan import LoadPlan
from bench.peers import ChatstorePeer, RawPeer
from bench.workloads import CATCH_UP_BEHIND
from chatstore import ChatStore

SETUP_CONCURRENCY = 20  # sessions created at once before the clock starts (the pool's size)

USERS_SQL = "SELECT u.id, u.username FROM users AS u ORDER BY u.id ASC LIMIT %(limit)s"
MEMBERSHIPS_SQL = """
SELECT ru.user_id, ru.room_id FROM room_users AS ru WHERE ru.user_id = ANY(%(users)s)
"""
# Each room's newest seq and newest message: where a client's page, catch-up and mark read aim.
ROOMS_SQL = """
SELECT r.id, r.last_seq, newest.id AS newest_id
FROM rooms AS r
LEFT JOIN LATERAL (
    SELECT m.id FROM messages AS m WHERE m.room_id = r.id ORDER BY m.seq DESC LIMIT 1
) AS newest ON true
WHERE r.id = ANY(%(rooms)s)
"""


@dataclass(frozen=True)
class Room:
    id: UUID
    last_seq: int
    newest: UUID | None


@dataclass(frozen=True)
class User:
    id: UUID
    username: str
    rooms: tuple[Room, ...]


async def load_users(raw: RawPeer, count: int) -> list[User]:
    async with raw.pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(USERS_SQL, {"limit": count})
        users = await cur.fetchall()
        ids = [row["id"] for row in users]
        await cur.execute(MEMBERSHIPS_SQL, {"users": ids})
        memberships = await cur.fetchall()
        await cur.execute(ROOMS_SQL, {"rooms": list({row["room_id"] for row in memberships})})
        found = await cur.fetchall()
    rooms = {r["id"]: Room(r["id"], int(r["last_seq"]), r["newest_id"]) for r in found}
    joined: dict[UUID, list[Room]] = {}
    for row in memberships:
        joined.setdefault(row["user_id"], []).append(rooms[row["room_id"]])
    return [User(row["id"], row["username"], tuple(joined.get(row["id"], ()))) for row in users]


def choose(
    peer: ChatstorePeer, user: User, others: list[User], rng: random.Random
) -> tuple[str, Call]:
    """An operation from the mix, on this client's own user and rooms."""
    name = rng.choices(list(MIX), weights=list(MIX.values()))[0]
    if name == "get_user" or not user.rooms:
        return "get_user", partial(peer.get_user, rng.choice(others).id)
    room = rng.choice(user.rooms)
    if name == "history_page":
        before = max(1, room.last_seq + 1 - rng.choice(DEPTHS))
        return name, partial(peer.page_before, room.id, user.id, before)
    if name == "mark_read" and room.newest is not None:
        return name, partial(peer.mark_read, room.newest, user.id)
    if name in ("send", "send_big"):
        return "send", partial(peer.send, room.id, user.id, "hello from a connected client")
    if name == "catch_up":
        after = max(0, room.last_seq - CATCH_UP_BEHIND)
        return name, partial(peer.catch_up, room.id, user.id, after)
    if name == "unread_counts":
        return name, partial(peer.unread_counts, user.id)
    return "room_list", partial(peer.room_list, user.id)


async def _sessions(store: ChatStore, users: list[User]) -> tuple[list[str], float]:
    """A session for each user, created directly; and how long that took."""
    started = time.perf_counter()
    gate = asyncio.Semaphore(SETUP_CONCURRENCY)

    async def one(user: User) -> str:
        async with gate:
            token, _ = await store.sessions.create(user.id)
            return token

    tokens = await asyncio.gather(*(one(user) for user in users))
    return list(tokens), time.perf_counter() - started


async def connected_clients(store: ChatStore, raw: RawPeer, plan: LoadPlan) -> dict[str, Any]:
    """plan.clients clients (plan.logins of them logging in meanwhile) acting with think
    time for plan.clients_seconds: latency per operation, logins, the loop's lag."""
    users = await load_users(raw, plan.clients)
    if not users:
        return {"skipped": "no users"}
    peer = ChatstorePeer(store)
    rng = random.Random(9)  # noqa: S311 - reproducible draws, not secrets
    logins = min(plan.logins, len(users))
    tokens, setup_seconds = await _sessions(store, users[logins:])
    sample = OpenSample(offered_seconds=plan.clients_seconds)
    login_done: list[float] = []
    loop = asyncio.get_running_loop()
    start = loop.time()
    end = start + plan.clients_seconds

    async def act(user: User, token: str | None, login_at: float) -> None:
        if token is None:  # this one logs in with its password: bcrypt included
            await asyncio.sleep(max(0.0, login_at - loop.time()))
            scheduled = loop.time()
            try:
                found = await store.users.authenticate(user.username, PASSWORD)
                token, _ = await store.sessions.create(found.id)
            except Exception as error:
                sample.failed("login", error)
                return
            sample.latencies.setdefault("login", []).append(loop.time() - scheduled)
            login_done.append(loop.time())
        connected = False
        while True:
            # The first wake-up is exponential too (memoryless): operations arrive at
            # clients / think_seconds from the first second, not in a storm at the start.
            await asyncio.sleep(rng.expovariate(1.0 / plan.think_seconds))
            if loop.time() >= end:
                return
            if not connected:  # connecting: the session is checked once
                await timed(sample, "session_check", partial(_check, store, token), loop.time())
                connected = True
            name, call = choose(peer, user, users, rng)
            sample.arrivals += 1
            await timed(sample, name, call, loop.time())

    ticker = asyncio.create_task(lag_ticker(sample.loop_lag))
    clients = [
        act(user, None, start + index / plan.login_rate)
        for index, user in enumerate(users[:logins])
    ]
    clients += [act(user, token, start) for user, token in zip(users[logins:], tokens, strict=True)]
    cut_off = False
    try:
        # A bound on the whole part: an overloaded machine yields figures marked cut off
        # (the clients still in a call are cancelled) rather than a run that never ends.
        async with asyncio.timeout(plan.clients_seconds + logins / plan.login_rate + 60):
            await asyncio.gather(*clients)
    except TimeoutError:
        cut_off = True
    finally:
        ticker.cancel()
        await asyncio.gather(ticker, return_exceptions=True)
    sample.seconds = loop.time() - start
    summary = sample.summary()
    login_span = (max(login_done) - start) if login_done else 0.0
    return {
        **summary,  # first: its offered_rate (started / window) is started_rate here
        "clients": len(users),
        "cut_off": cut_off,
        "think_seconds": plan.think_seconds,
        "seconds": plan.clients_seconds,
        "offered_rate": round(len(users) / plan.think_seconds, 1),
        "started_rate": round(sample.arrivals / plan.clients_seconds, 1),
        "logins": logins,
        "login_rate_offered": plan.login_rate,
        "logins_per_second": round(len(login_done) / login_span, 2) if login_span else 0.0,
        "sessions_created_directly": len(tokens),
        "sessions_per_second": round(len(tokens) / setup_seconds, 1) if setup_seconds else 0.0,
    }


async def _check(store: ChatStore, token: str) -> None:
    if await store.sessions.get(token) is None:
        raise LookupError("session refused")
