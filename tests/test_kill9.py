"""`kill -9` of PostgreSQL or Redis in the middle of concurrent sends.

SENDERS tasks send into a few rooms for a few seconds; the server is killed with SIGKILL
(no shutdown, as the OOM killer does it), started again, and the sends go on in the same
open store. Afterwards, read straight from PostgreSQL:

- every acknowledged send (create returned a Message) is there, with the seq it was given;
- each room's seqs and change-log event_seqs run 1..last with no gap;
- every call ended within its bound, and every failure was chatstore's Unavailable;
- the store served again by itself, without being reopened.

With Redis killed instead, no send fails at all, and live delivery comes back: the hub
reconnects and says resync, and a client stream got every message once, in order.

Each test uses a server of its own (this module's), so killing it disturbs no other test.
"""

from __future__ import annotations

import asyncio
import dataclasses
import statistics
import time
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from uuid import UUID

import psycopg
import pytest

from chatstore import ChatStore, CreateMessage, Message, Unavailable
from chatstore.models import Room, User
from chatstore.realtime.events import Event, room_channel
from chatstore.realtime.pubsub import EventHub
from tests.conftest import settings_for
from tests.servers import TEMPLATE_DB, PgServer, RedisServer, start_postgres

SENDERS = 8
ROOMS = 3
BEFORE_KILL = 1.0  # seconds of sending before the kill
AFTER_RECOVERY = 1.0  # seconds of sending once the store serves again
MAX_SENDS = 5_000  # per sender: the loop's bound whatever the clock does
PAUSE_AFTER_FAILURE = 0.05  # a failed sender waits this long, as a client would back off
CALL_TIMEOUT = 1.0  # pg_call_timeout_seconds here, so an outage shows within the test
POOL_TIMEOUT = 1.0  # pg_pool_timeout
SLACK = 0.5  # past a bound: the event loop's turns on a shared two-core machine
RECOVERY_LIMIT = 10.0  # the store must serve again within this of the server's restart
WAIT = 10.0
LIVE_PACE = 0.1


def report(capsys: pytest.CaptureFixture[str], line: str) -> None:
    with capsys.disabled():
        print(f"\n{line}")


@dataclass
class Call:
    sender: int
    started: float
    seconds: float
    message: Message | None
    error: Exception | None


@dataclass
class Run:
    """The senders' calls, and when the server was killed and back."""

    calls: list[Call] = dataclasses.field(default_factory=list)
    killed_at: float = 0.0
    back_at: float = 0.0
    served_at: float = 0.0  # the first send that succeeded once the server was back

    @property
    def acknowledged(self) -> list[Message]:
        return [call.message for call in self.calls if call.message is not None]

    @property
    def failures(self) -> list[Call]:
        return [call for call in self.calls if call.error is not None]

    def served_again(self) -> bool:
        after = [c for c in self.calls if c.message is not None and c.started >= self.back_at]
        if after and not self.served_at:
            self.served_at = min(c.started + c.seconds for c in after)
        return bool(after)


async def send_until(
    store: ChatStore, user: User, rooms: list[Room], sender: int, stop: asyncio.Event, run: Run
) -> None:
    for n in range(MAX_SENDS):
        if stop.is_set():
            return
        room = rooms[(sender + n) % len(rooms)]
        started = time.monotonic()
        try:
            message = await store.send_message(CreateMessage(room.id, user.id, f"{sender}/{n}"))
        except Exception as error:  # every outcome is recorded; the test asserts on them
            run.calls.append(Call(sender, started, time.monotonic() - started, None, error))
            await asyncio.sleep(PAUSE_AFTER_FAILURE)
        else:
            run.calls.append(Call(sender, started, time.monotonic() - started, message, None))


async def chat(store: ChatStore) -> tuple[User, list[Room]]:
    alice = await store.users.create(
        email="alice@example.com", username="alice", password="correct horse battery"
    )
    rooms = [
        await store.rooms.create(name=f"room {k}", kind="public", created_by=alice.id)
        for k in range(ROOMS)
    ]
    return alice, rooms


async def send_through_a_kill(
    store: ChatStore,
    user: User,
    rooms: list[Room],
    kill: Callable[[], object],
    restart: Callable[[], object],
) -> Run:
    """Senders run; after BEFORE_KILL the server is killed and started again (blocking
    calls, run in a thread so the senders go on meanwhile); they stop AFTER_RECOVERY
    seconds after the first send that succeeded since the restart."""
    run = Run()
    stop = asyncio.Event()
    senders = [
        asyncio.create_task(send_until(store, user, rooms, k, stop, run)) for k in range(SENDERS)
    ]
    try:
        await asyncio.sleep(BEFORE_KILL)
        run.killed_at = time.monotonic()
        await asyncio.to_thread(kill)
        await asyncio.to_thread(restart)
        run.back_at = time.monotonic()
        for _ in range(int(RECOVERY_LIMIT / 0.05)):
            if run.served_again():
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(AFTER_RECOVERY)
    finally:
        stop.set()
        async with asyncio.timeout(POOL_TIMEOUT + CALL_TIMEOUT + WAIT):
            await asyncio.gather(*senders)
    return run


@dataclass
class Stored:
    """What PostgreSQL holds for the rooms, read directly."""

    messages: dict[UUID, tuple[UUID, int]]  # id -> (room, seq)
    seqs: dict[UUID, list[int]]
    event_seqs: dict[UUID, list[int]]
    heads: dict[UUID, tuple[int, int]]  # room -> (last_seq, last_event_seq)


def read_back(url: str, rooms: list[Room]) -> Stored:
    ids = [room.id for room in rooms]
    stored = Stored({}, defaultdict(list), defaultdict(list), {})
    with psycopg.connect(url, autocommit=True) as conn:
        for id_, room, seq in conn.execute(
            "SELECT id, room_id, seq FROM messages WHERE room_id = ANY(%s) ORDER BY seq", [ids]
        ):
            stored.messages[id_] = (room, seq)
            stored.seqs[room].append(seq)
        for room, event_seq in conn.execute(
            "SELECT room_id, event_seq FROM room_events WHERE room_id = ANY(%s) ORDER BY event_seq",
            [ids],
        ):
            stored.event_seqs[room].append(event_seq)
        for room, last_seq, last_event_seq in conn.execute(
            "SELECT id, last_seq, last_event_seq FROM rooms WHERE id = ANY(%s)", [ids]
        ):
            stored.heads[room] = (last_seq, last_event_seq)
    return stored


def assert_consistent(stored: Stored, acknowledged: list[Message], rooms: list[Room]) -> None:
    for message in acknowledged:
        assert stored.messages.get(message.id) == (message.room_id, message.seq), message
    for room in rooms:
        last_seq, last_event_seq = stored.heads[room.id]
        assert stored.seqs[room.id] == list(range(1, last_seq + 1)), room.id
        assert stored.event_seqs[room.id] == list(range(1, last_event_seq + 1)), room.id


def spread(seconds: list[float]) -> str:
    ordered = sorted(seconds)
    return (
        f"median {statistics.median(ordered) * 1000:.1f} ms, max {ordered[-1] * 1000:.0f} ms"
        if ordered
        else "none"
    )


# --- PostgreSQL ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def own_postgres() -> Iterator[PgServer]:
    server = start_postgres()
    try:
        # The suite's servers commit asynchronously for speed, which a crash may undo by
        # design; this test is about durability, so commits here wait for their WAL write. A
        # database's setting wins over the server's command line.
        with psycopg.connect(server.url(TEMPLATE_DB), autocommit=True) as conn:
            conn.execute(f"ALTER DATABASE {TEMPLATE_DB} SET synchronous_commit = on")
        yield server
    finally:
        server.close()


@pytest.mark.timeout(90)
async def test_kill_9_postgres_loses_no_acknowledged_send_and_the_store_recovers(
    own_postgres: PgServer, redis_server: RedisServer, capsys: pytest.CaptureFixture[str]
) -> None:
    url = own_postgres.url(TEMPLATE_DB)
    settings = dataclasses.replace(
        settings_for(url, redis_server.url(0)),
        pg_call_timeout_seconds=CALL_TIMEOUT,
        pg_pool_timeout=POOL_TIMEOUT,
    )
    bound = POOL_TIMEOUT + CALL_TIMEOUT + settings.redis_write_budget_seconds + SLACK
    async with ChatStore.open(settings) as store:
        alice, rooms = await chat(store)
        run = await send_through_a_kill(store, alice, rooms, own_postgres.kill, own_postgres.start)
        # The same store, never reopened, serves a new send.
        run.calls.append(
            Call(
                -1,
                0.0,
                0.0,
                await store.send_message(
                    CreateMessage(rooms[0].id, alice.id, "after the tests' senders")
                ),
                None,
            )
        )
    stored = read_back(url, rooms)

    acknowledged = run.acknowledged
    failures = run.failures
    unacknowledged_but_stored = len(stored.messages) - len(acknowledged)
    kinds = Counter(type(call.error).__name__ for call in failures)
    report(
        capsys,
        f"kill -9 PostgreSQL under {SENDERS} senders: {len(run.calls)} sends, "
        f"{len(acknowledged)} acknowledged, {len(failures)} failed {dict(kinds)} "
        f"({spread([c.seconds for c in failures])}); down and restarted in "
        f"{run.back_at - run.killed_at:.2f} s, served again {run.served_at - run.back_at:.2f} s "
        f"after; all sends {spread([c.seconds for c in run.calls if c.sender >= 0])} "
        f"(bound {bound:.1f} s); {len(stored.messages)} messages stored, "
        f"{unacknowledged_but_stored} of them from sends that failed (committed, reply lost)",
    )
    for call in failures:
        assert isinstance(call.error, Unavailable), repr(call.error)
        # Only calls under way at the kill or started during the outage fail.
        assert run.killed_at - bound <= call.started <= run.served_at, call
    assert all(call.seconds <= bound for call in run.calls), max(c.seconds for c in run.calls)
    assert failures, "the kill was not noticed: nothing failed"
    assert run.served_at, f"no send succeeded within {RECOVERY_LIMIT} s of the restart"
    # Each sender got through again, in the store that was open all along.
    assert {c.sender for c in run.calls if c.message and c.started >= run.back_at} >= set(
        range(SENDERS)
    )
    assert_consistent(stored, acknowledged, rooms)
    assert 0 <= unacknowledged_but_stored <= len(failures)


# --- Redis -------------------------------------------------------------------------------


async def collect(events: AsyncIterator[Event], into: list[Event]) -> None:
    async for event in events:
        into.append(event)


async def watch_connected(hub: EventHub, changes: list[tuple[float, bool]]) -> None:
    """Record when the hub's `connected` changes (polled, bounded by the test's timeout)."""
    while True:
        if not changes or changes[-1][1] != hub.connected:
            changes.append((time.monotonic(), hub.connected))
        await asyncio.sleep(0.01)


async def sent_until_heard_live(
    store: ChatStore, user: User, room: Room, heard: list[Event], run: Run
) -> tuple[float, int]:
    """Send every LIVE_PACE s until one of these sends reaches the hub's listener; return
    how long that took and how many sends it needed. Not just one send: while the breaker
    is open (up to its cooldown after Redis last failed one), publishes are skipped."""
    started = time.monotonic()
    for n in range(1, int(WAIT / LIVE_PACE) + 1):
        sent = await store.send_message(CreateMessage(room.id, user.id, f"live {n}"))
        run.calls.append(Call(-1, 0.0, 0.0, sent, None))
        await asyncio.sleep(LIVE_PACE)
        if any(e.room_id == sent.room_id and e.seq == sent.seq for e in heard):
            return time.monotonic() - started, n
    raise AssertionError(f"no send reached the listener live within {WAIT} s")


async def until(condition: Callable[[], bool], what: str) -> float:
    started = time.monotonic()
    for _ in range(int(WAIT / 0.02)):
        if condition():
            return time.monotonic() - started
        await asyncio.sleep(0.02)
    raise AssertionError(f"{what}: not within {WAIT} s")


@pytest.mark.timeout(60)
async def test_kill_9_redis_fails_no_send_and_live_delivery_resumes(
    database_url: str, own_redis: RedisServer, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = settings_for(database_url, own_redis.url(0))
    budget = settings.redis_write_budget_seconds
    async with ChatStore.open(settings) as store:
        alice, rooms = await chat(store)
        hub = store.events
        async with (
            hub.subscribe([room_channel(room.id) for room in rooms]) as listener,
            store.connect(alice.id, "alice-phone") as stream,
        ):
            heard: list[Event] = []
            streamed: list[Event] = []
            changes: list[tuple[float, bool]] = []
            readers = [
                asyncio.create_task(collect(listener, heard)),
                asyncio.create_task(collect(stream, streamed)),
                asyncio.create_task(watch_connected(hub, changes)),
            ]
            try:
                run = await send_through_a_kill(
                    store, alice, rooms, own_redis.kill, own_redis.start
                )
                await until(lambda: hub.connected, "the hub reconnects")
                await until(
                    lambda: any(e.type == "subscription.resync" for e in heard),
                    "the listener is told to resync",
                )
                await hub.wait_subscribed(listener.channels)
                live, live_sends = await sent_until_heard_live(store, alice, rooms[0], heard, run)
                acknowledged = run.acknowledged
                expected = {(m.room_id, m.seq) for m in acknowledged}
                await until(
                    lambda: expected <= {(e.room_id, e.seq) for e in streamed},
                    "the stream delivers every send",
                )
            finally:
                for reader in readers:
                    reader.cancel()
    resync_at = next(i for i, e in enumerate(heard) if e.type == "subscription.resync")
    downs = [at for at, connected in changes if not connected and at >= run.killed_at]
    assert downs, "the hub never said it was disconnected"
    down_at = downs[0]
    up_at = next(at for at, connected in changes if connected and at > down_at)
    stored = read_back(database_url, rooms)

    report(
        capsys,
        f"kill -9 Redis under {SENDERS} senders: {len(run.calls)} sends, "
        f"{len(run.failures)} failed; sends before the kill "
        f"{spread([c.seconds for c in run.calls if 0 < c.started < run.killed_at])}, "
        f"after {spread([c.seconds for c in run.calls if c.started >= run.killed_at])}; "
        f"Redis killed and restarted in {run.back_at - run.killed_at:.2f} s; the hub said "
        f"disconnected {down_at - run.killed_at:.2f} s after the kill and was back "
        f"{up_at - down_at:.2f} s later ({hub.reconnects} reconnect), the listener told to "
        f"resync; once the senders stopped, sends arrived live again after {live:.2f} s "
        f"({live_sends} sends; breaker trips {store._sync.breaker.trips}); the stream got "
        f"{len(expected)} of {len(expected)} sends in order",
    )
    assert not run.failures, [repr(c.error) for c in run.failures[:3]]
    assert all(c.seconds <= CALL_TIMEOUT + budget + SLACK for c in run.calls)
    assert hub.reconnects >= 1
    assert any(e.type == "message.created" for e in heard[resync_at + 1 :])
    # The stream's guarantee held across the kill: each room's messages once, in order.
    for room in rooms:
        seqs = [e.seq for e in streamed if e.type == "message.created" and e.room_id == room.id]
        assert seqs == list(range(1, len(seqs) + 1)), room.id
    assert_consistent(stored, acknowledged, rooms)
    assert len(stored.messages) == len(acknowledged)
