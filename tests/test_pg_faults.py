"""PostgreSQL goes silent (a black hole, not a clean close): every call still ends within its
bound, with Unavailable; connections that saw the silence are dropped, never reused; the
store serves again by itself once the server answers.

A TcpProxy (tests/tcp_proxy.py) on loopback sits between chatstore and the session's
throwaway PostgreSQL, so stalling it disturbs no other test. The bounds are short here (a
second of work, half a second of waiting for a connection) so the faults show fast; each
test prints what it measured.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import pytest

from chatstore import ChatStore, CreateMessage, OutcomeUnknown, Settings, Unavailable
from chatstore.models import Room, User
from chatstore.pg_connection import (
    KEEPALIVE_COUNT,
    KEEPALIVE_IDLE_SECONDS,
    KEEPALIVE_INTERVAL_SECONDS,
    TCP_USER_TIMEOUT_MS,
)
from tests.conftest import settings_for
from tests.dbchecks import connect, probes
from tests.servers import PG_USER, PgServer, RedisServer
from tests.tcp_proxy import TcpProxy

BOUND = 1.0  # pg_call_timeout_seconds in these tests
POOL_WAIT = 0.5  # pg_pool_timeout
# What a call may take past its bound: the event loop's turn and the pool's bookkeeping.
SLACK = 0.5
POOL_MAX = 4
# A send whose answer was lost asks once more (chatstore.repositories.sending): a second
# wait for a connection and a second call bound before OutcomeUnknown.
ASKED_AGAIN = BOUND + POOL_WAIT + BOUND
# How long a store may take to serve again once the server answers; measured well under it.
RECOVERY_LIMIT = 5.0


@dataclass
class Outcome:
    seconds: float
    error: BaseException | None

    @property
    def timed_out_working(self) -> bool:
        return isinstance(self.error, Unavailable) and "did not answer" in str(self.error)

    @property
    def timed_out_waiting(self) -> bool:
        return isinstance(self.error, Unavailable) and "no PostgreSQL connection" in str(self.error)


async def timed(call: Awaitable[Any]) -> Outcome:
    started = time.monotonic()
    try:
        await call
    except Exception as error:  # every outcome is recorded; the test asserts on them
        return Outcome(time.monotonic() - started, error)
    return Outcome(time.monotonic() - started, None)


def report(capsys: pytest.CaptureFixture[str], line: str) -> None:
    with capsys.disabled():
        print(f"\n{line}")


def spread(outcomes: list[Outcome]) -> str:
    if not outcomes:
        return "none"
    seconds = sorted(outcome.seconds for outcome in outcomes)
    return f"{len(seconds)} calls, {seconds[0]:.3f}-{seconds[-1]:.3f} s"


async def served_again(call: Callable[[], Awaitable[Any]], limit: float) -> float:
    """Seconds until `call` succeeds, retrying on Unavailable every 0.05 s (bounded)."""
    started = time.monotonic()
    for _ in range(int(limit / 0.05) + 1):
        try:
            await call()
        except Unavailable:
            if time.monotonic() - started > limit:
                break
            await asyncio.sleep(0.05)
        else:
            return time.monotonic() - started
    raise AssertionError(f"not served again within {limit}s")


@pytest.fixture
async def proxy(pg_server: PgServer) -> AsyncIterator[TcpProxy]:
    async with TcpProxy(upstream_port=pg_server.port) as opened:
        yield opened


def settings_through(proxy: TcpProxy, database_url: str, redis_url: str) -> Settings:
    dbname = urlsplit(database_url).path.lstrip("/")
    url = f"postgresql://{PG_USER}@127.0.0.1:{proxy.port}/{dbname}?sslmode=disable"
    return dataclasses.replace(
        settings_for(url, redis_url),
        pg_call_timeout_seconds=BOUND,
        pg_pool_timeout=POOL_WAIT,
        pg_pool_min=2,
        pg_pool_max=POOL_MAX,
    )


@pytest.fixture
async def store(
    proxy: TcpProxy, database_url: str, redis_server: RedisServer
) -> AsyncIterator[ChatStore]:
    settings = settings_through(proxy, database_url, redis_server.url(0))
    async with ChatStore.open(settings) as opened:
        yield opened
        # Whatever a test left stalled, closing the store must not wait on it.
        proxy.resume()


async def make_chat(store: ChatStore) -> tuple[User, Room]:
    alice = await store.users.create(
        email="alice@example.com", username="alice", password="correct horse battery"
    )
    room = await store.rooms.create(name="general", kind="public", created_by=alice.id)
    return alice, room


@pytest.fixture
async def chat(store: ChatStore) -> tuple[User, Room]:
    return await make_chat(store)


async def fill_the_pool(store: ChatStore) -> None:
    """The pool grown to POOL_MAX connections, each just used (so handed out unchecked)."""
    async with contextlib.AsyncExitStack() as held:
        for _ in range(POOL_MAX):
            await held.enter_async_context(store.db.connection())


async def start_calls(
    store: ChatStore, user: User, room: Room, n: int
) -> list[asyncio.Task[Outcome]]:
    """n calls, alternately a read and a send; started and sent before this returns."""
    tasks = [
        asyncio.create_task(
            timed(
                store.users.get(user.id)
                if k % 2
                else store.send_message(
                    CreateMessage(room_id=room.id, sender_id=user.id, content=f"call {k}")
                )
            )
        )
        for k in range(n)
    ]
    await asyncio.sleep(0)  # each task runs to its first wait: its query is on the wire
    return tasks


@pytest.mark.timeout(30)
async def test_a_stalled_server_fails_in_flight_and_new_calls_within_the_bound(
    store: ChatStore, chat: tuple[User, Room], proxy: TcpProxy, capsys: pytest.CaptureFixture[str]
) -> None:
    alice, room = chat
    await fill_the_pool(store)
    in_flight = await start_calls(store, alice, room, POOL_MAX)
    proxy.stall()
    await asyncio.sleep(0.2)
    new = await start_calls(store, alice, room, POOL_MAX + 2)
    early = await asyncio.gather(*in_flight)
    late = await asyncio.gather(*new)

    report(
        capsys,
        f"stalled server, bound {BOUND}s, pool wait {POOL_WAIT}s: in flight {spread(early)}; "
        f"started 0.2 s into the stall {spread(late)} "
        f"({sum(o.timed_out_working for o in late)} on a connection, "
        f"{sum(o.timed_out_waiting for o in late)} waiting for one)",
    )
    for outcome in early + late:
        assert isinstance(outcome.error, Unavailable), outcome
        if isinstance(outcome.error, OutcomeUnknown):  # a send: asked again, in vain
            assert outcome.seconds <= ASKED_AGAIN + SLACK, outcome
        else:
            assert outcome.seconds <= BOUND + SLACK, outcome
    for outcome in early:
        # They waited for the bound: the connection was silent, nothing else failed them.
        assert outcome.timed_out_working, outcome
        assert outcome.seconds >= BOUND * 0.9, outcome
    # Only sends that reached a connection say their outcome is unknown; reads never do.
    assert sum(isinstance(o.error, OutcomeUnknown) for o in early) == len(early) // 2
    for outcome in late:
        assert outcome.timed_out_working or outcome.timed_out_waiting, outcome


@pytest.mark.timeout(30)
async def test_b_after_resume_the_store_serves_again_on_new_connections_only(
    store: ChatStore, chat: tuple[User, Room], proxy: TcpProxy, capsys: pytest.CaptureFixture[str]
) -> None:
    alice, room = chat
    await fill_the_pool(store)
    before = store.db.pool.get_stats()["pool_size"]
    proxy.stall()
    saw_the_stall = proxy.open_links
    assert len(saw_the_stall) == before == POOL_MAX
    # More calls than connections: every connection is handed out and goes silent.
    outcomes = await asyncio.gather(*await start_calls(store, alice, room, POOL_MAX + 2))
    assert all(isinstance(outcome.error, Unavailable) for outcome in outcomes), outcomes

    proxy.resume()
    recovery = await served_again(lambda: store.users.get(alice.id), RECOVERY_LIMIT)
    # A burst as wide as the pool: served, and on connections opened after the stall.
    await fill_the_pool(store)
    page = await store.messages.page_before(room.id, user_id=alice.id)

    report(
        capsys,
        f"after resume: served again in {recovery:.3f} s; {len(saw_the_stall)} connections "
        f"saw the stall, {sum(link.closed for link in saw_the_stall)} closed; "
        f"{len(proxy.open_links)} open now, all opened since",
    )
    assert recovery < RECOVERY_LIMIT
    assert all(link.closed for link in saw_the_stall)
    assert proxy.open_links, "the pool reconnected"
    assert not set(map(id, proxy.open_links)) & set(map(id, saw_the_stall))
    # The sends' statements were held by the proxy and delivered behind the client's close,
    # as a delayed packet would be: the server may run them. Their callers were told
    # OutcomeUnknown, never a plain Unavailable; whatever landed landed once, gap-free.
    unknown = [o for o in outcomes if isinstance(o.error, OutcomeUnknown)]
    assert unknown, outcomes  # the calls that waited for a connection never reached it
    assert all(o.timed_out_waiting for o in outcomes if not o.timed_out_working), outcomes
    assert len(page.messages) <= len(unknown)
    assert sorted(m.seq for m in page.messages) == list(range(1, len(page.messages) + 1))
    assert len({m.content for m in page.messages}) == len(page.messages)


@pytest.mark.timeout(30)
async def test_c_a_stalled_transaction_fails_and_commits_nothing(
    store: ChatStore,
    chat: tuple[User, Room],
    proxy: TcpProxy,
    database_url: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    alice, room = chat
    kept = await store.send_message(
        CreateMessage(room_id=room.id, sender_id=alice.id, content="kept")
    )

    async def two_sends_with_a_stall_between() -> None:
        async with store.transaction():
            # Reaches the server: the room row is locked, the message inserted, uncommitted.
            await store.send_message(
                CreateMessage(room_id=room.id, sender_id=alice.id, content="first, rolled back")
            )
            proxy.stall()
            await store.send_message(
                CreateMessage(room_id=room.id, sender_id=alice.id, content="never answered")
            )

    outcome = await timed(two_sends_with_a_stall_between())
    assert outcome.timed_out_working, outcome
    failed_after = outcome.seconds

    async with connect(database_url) as direct:  # straight to the server, not the proxy
        while_stalled = await probes.count_room_rows(direct, room_id=room.id)
    proxy.resume()
    recovery = await served_again(lambda: store.users.get(alice.id), RECOVERY_LIMIT)
    after = await store.send_message(
        CreateMessage(room_id=room.id, sender_id=alice.id, content="after")
    )
    history = await store.messages.catch_up(room.id, user_id=alice.id, after_seq=0)

    report(
        capsys,
        f"stalled transaction: Unavailable after {failed_after:.3f} s (bound {BOUND}s); "
        f"served again {recovery:.3f} s after resume; committed: "
        f"{[message.content for message in history]}",
    )
    assert failed_after <= BOUND + SLACK
    assert while_stalled["messages"] == 1
    assert [message.content for message in history] == ["kept", "after"]
    # The rolled-back send consumed no seq: still gap-free.
    assert [kept.seq, after.seq] == [1, 2]


@pytest.mark.timeout(30)
@pytest.mark.parametrize("where", ["between statements", "in a savepoint"])
async def test_c_a_transaction_cut_short_anywhere_ends_within_the_bound(
    store: ChatStore,
    chat: tuple[User, Room],
    proxy: TcpProxy,
    where: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The bound covers the whole block, not only its statements; and the ROLLBACK (to
    the savepoint, or of the transaction) is never sent to the silent server to wait on."""
    alice, room = chat

    async def block() -> None:
        async with store.transaction():
            await store.send_message(
                CreateMessage(room_id=room.id, sender_id=alice.id, content="rolled back")
            )
            proxy.stall()
            if where == "between statements":
                await asyncio.sleep(BOUND * 5)  # the application awaits something else
            else:
                async with store.transaction():
                    await store.send_message(
                        CreateMessage(room_id=room.id, sender_id=alice.id, content="savepoint")
                    )

    outcome = await timed(block())
    proxy.resume()
    await served_again(lambda: store.users.get(alice.id), RECOVERY_LIMIT)
    page = await store.messages.page_before(room.id, user_id=alice.id)

    report(capsys, f"transaction cut short {where}: Unavailable after {outcome.seconds:.3f} s")
    assert outcome.timed_out_working, outcome
    assert outcome.seconds <= BOUND + SLACK, outcome
    assert page.messages == ()


@pytest.mark.timeout(30)
async def test_d_the_pre_use_check_cannot_hang(
    store: ChatStore,
    chat: tuple[User, Room],
    proxy: TcpProxy,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    alice, _ = chat
    monkeypatch.setattr("chatstore.pg_connection.CHECK_AFTER_IDLE_SECONDS", 0.1)
    await fill_the_pool(store)
    await asyncio.sleep(0.3)  # idle past the threshold: each is checked before reuse
    lost_before = store.db.pool.get_stats().get("connections_lost", 0)
    proxy.stall()
    outcomes = [await timed(store.users.get(alice.id)) for _ in range(3)]
    lost = store.db.pool.get_stats().get("connections_lost", 0) - lost_before

    report(
        capsys,
        f"pre-use check through a stalled proxy: {spread(outcomes)} "
        f"(pool wait {POOL_WAIT}s), {lost} checked connection(s) dropped",
    )
    for outcome in outcomes:
        assert outcome.timed_out_waiting, outcome
        assert outcome.seconds <= POOL_WAIT + SLACK, outcome
    assert lost >= 1, "the check ran, and the connection it hung on was dropped"


@pytest.mark.timeout(30)
async def test_d_old_connections_silent_for_good_a_call_is_still_served(
    proxy: TcpProxy,
    database_url: str,
    redis_server: RedisServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The review's second case: the connections open now never answer again (a failover
    behind a load balancer, a NAT that forgot them) while new ones work. A wait for a
    connection longer than the check's bound lets the pool drop the dead idle connections
    and serve the caller a new one, all within that one call."""
    monkeypatch.setattr("chatstore.pg_connection.CHECK_AFTER_IDLE_SECONDS", 0.1)
    monkeypatch.setattr("chatstore.pg_connection.CHECK_TIMEOUT_SECONDS", 0.2)
    pool_wait = 3.0
    settings = dataclasses.replace(
        settings_through(proxy, database_url, redis_server.url(0)), pg_pool_timeout=pool_wait
    )
    async with ChatStore.open(settings) as store:
        alice, room = await make_chat(store)
        await fill_the_pool(store)
        stats_before = store.db.pool.get_stats()
        in_flight = await start_calls(store, alice, room, 2)
        silent = proxy.stall_open()
        early = await asyncio.gather(*in_flight)
        await asyncio.sleep(0.2)  # the two idle ones pass the check threshold
        # Meets the two dead idle connections first (0.2 s check each, then the pool's
        # one-second backoff), then a new connection.
        served = await timed(store.users.get(alice.id))
        stats = store.db.pool.get_stats()
        proxy.resume()
    # The proxy cannot see these closes (it holds silent links), the pool's counters can:
    # closed connections discarded on return, and connections that failed their check.
    dropped = sum(
        stats.get(key, 0) - stats_before.get(key, 0) for key in ("returns_bad", "connections_lost")
    )

    report(
        capsys,
        f"old connections silent for good: in flight {spread(early)}; the next call served in "
        f"{served.seconds:.3f} s (pool wait {pool_wait}s, check bound 0.2 s); {dropped} of the "
        f"{len(silent)} silent connections dropped",
    )
    sent, read = early  # start_calls alternates: a send, then a read
    # The send's answer was lost on its silent connection; asked again on a new one, it
    # was resolved: the caller got its message, stored once.
    assert sent.error is None, sent
    assert sent.seconds <= BOUND + pool_wait + BOUND + SLACK, sent
    assert read.timed_out_working, read
    assert read.seconds <= BOUND + SLACK, read
    assert served.error is None, served
    assert served.seconds < pool_wait, served
    # The two in use, and the idle ones the call's checks met.
    assert len(in_flight) <= dropped <= len(silent)


@pytest.mark.timeout(30)
async def test_every_pool_connection_has_keepalives_and_a_user_timeout(
    store: ChatStore,
) -> None:
    await fill_the_pool(store)
    seen = 0
    for _ in range(POOL_MAX):
        async with store.db.connection() as conn:
            # A duplicate of the connection's descriptor, to read its options only.
            with socket.socket(fileno=os.dup(conn.fileno())) as sock:
                assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 1
                assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE) == (
                    KEEPALIVE_IDLE_SECONDS
                )
                assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL) == (
                    KEEPALIVE_INTERVAL_SECONDS
                )
                assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT) == KEEPALIVE_COUNT
                assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT) == (
                    TCP_USER_TIMEOUT_MS
                )
                seen += 1
    assert seen == POOL_MAX


@pytest.fixture
async def one_connection_store(
    proxy: TcpProxy, database_url: str, redis_server: RedisServer
) -> AsyncIterator[ChatStore]:
    """A store with a single pooled connection, so the test knows which link a call uses."""
    settings = dataclasses.replace(
        settings_through(proxy, database_url, redis_server.url(0)), pg_pool_min=1, pg_pool_max=1
    )
    async with ChatStore.open(settings) as opened:
        yield opened
        proxy.resume()


@pytest.mark.timeout(30)
async def test_e_a_send_whose_answer_is_lost_is_returned_and_stored_once(
    one_connection_store: ChatStore, proxy: TcpProxy, database_url: str
) -> None:
    store = one_connection_store
    alice, room = await make_chat(store)
    first = await store.send_message(CreateMessage(room.id, alice.id, "before"))
    proxy.hold_replies()  # the send reaches the server and commits; its answer never comes
    outcome = await timed(store.send_message(CreateMessage(room.id, alice.id, "answer lost")))
    assert outcome.error is None, outcome  # asked again on a new connection: resolved
    assert outcome.seconds <= ASKED_AGAIN + SLACK, outcome
    page = await store.messages.page_before(room.id, user_id=alice.id)
    assert [(m.seq, m.content) for m in page.messages] == [
        (first.seq, "before"),
        (first.seq + 1, "answer lost"),
    ]


@pytest.mark.timeout(30)
async def test_e_a_transaction_whose_commit_answer_is_lost_reports_it_committed(
    one_connection_store: ChatStore, proxy: TcpProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = one_connection_store
    alice, room = await make_chat(store)
    transactions = store.db.queries.transactions
    read_xact_id = transactions.current_xact_id

    async def then_lose_the_commit_answer(conn: Any) -> Any:
        row = await read_xact_id(conn)
        proxy.hold_replies()  # COMMIT reaches the server; its answer never comes back
        return row

    monkeypatch.setattr(transactions, "current_xact_id", then_lose_the_commit_answer)
    started = time.monotonic()
    async with store.transaction():
        await store.send_message(CreateMessage(room.id, alice.id, "one"))
        await store.send_message(CreateMessage(room.id, alice.id, "two"))
    seconds = time.monotonic() - started
    monkeypatch.undo()
    page = await store.messages.page_before(room.id, user_id=alice.id)
    assert [m.content for m in page.messages] == ["one", "two"]
    assert seconds <= ASKED_AGAIN + SLACK


@pytest.mark.timeout(30)
async def test_e_other_writes_whose_answer_is_lost_report_what_happened(
    one_connection_store: ChatStore, proxy: TcpProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    """mark read runs again (it is idempotent); a membership change runs in a transaction:
    lost before COMMIT it did not happen (Unavailable), lost at COMMIT pg_xact_status
    settles it. Nothing is reported unavailable that happened, nothing happens twice."""
    store = one_connection_store
    alice, room = await make_chat(store)
    bob = await store.users.create(email="bob@example.com", username="bob", password="pw-12345678")
    message = await store.send_message(CreateMessage(room.id, alice.id, "read me"))

    await store.users.get(alice.id)  # the one connection was just used: no pre-use check
    proxy.hold_replies()  # lost from the first statement on: COMMIT is never sent
    refused = await timed(store.rooms.add_member(room.id, bob.id))
    proxy.resume()
    assert isinstance(refused.error, Unavailable), refused
    assert not isinstance(refused.error, OutcomeUnknown), refused
    assert "did not commit" in str(refused.error)
    assert [m.user_id for m in await store.rooms.list_members(room.id)] == [alice.id]

    transactions = store.db.queries.transactions
    read_xact_id = transactions.current_xact_id

    async def then_lose_the_commit_answer(conn: Any) -> Any:
        row = await read_xact_id(conn)
        proxy.hold_replies()
        return row

    monkeypatch.setattr(transactions, "current_xact_id", then_lose_the_commit_answer)
    joined = await timed(store.rooms.add_member(room.id, bob.id))
    monkeypatch.undo()
    assert joined.error is None, joined
    assert joined.seconds <= ASKED_AGAIN + SLACK, joined

    await store.users.get(alice.id)
    proxy.hold_replies()
    read = await timed(store.messages.mark_as_read(message.id, bob.id))
    proxy.resume()
    assert read.error is None, read

    members = await store.rooms.list_members(room.id)
    assert sorted(m.user_id for m in members) == sorted([alice.id, bob.id])
    assert await store.unread_counts(bob.id) == {room.id: 0}
    log = await store.log.after(room.id, 0)
    assert [e.type for e in log].count("member.joined") == 2  # alice's and bob's, once each
