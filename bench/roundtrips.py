"""Statements and round trips per operation (issue 9).

Each chatstore operation of the per-operation table runs once to warm up (pool connection,
prepared statements), then once more while this module counts what the call sends:

- PostgreSQL statements: psycopg's AsyncCursor.execute/executemany (AsyncConnection.execute
  goes through them, and so do chatstore's aiosql queries);
- transaction commands: BEGIN, COMMIT, ROLLBACK, SAVEPOINT are not statements a cursor
  runs: psycopg's `conn.transaction()` sends them through BaseConnection._exec_command;
- separate Parse round trips: a statement psycopg prepares (after prepare_threshold runs on
  a connection) costs one more exchange that once;
- the pool's check of a connection that sat idle (an empty query);
- Redis commands (every command packed, MULTI/EXEC and EVALSHA included) and Redis round
  trips (every packed write to the socket: a pipeline is one).

Counting follows a context variable, not the task: work the call starts in tasks of its own
(asyncio.timeout does not, gather and wait_for do) counts, while the store's background
tasks (change-log feed, sweepers, pub/sub reader, and the outbox that publishes a write's
entries or receipt after the commit), started before, do not: the Redis column is what the
caller waits for.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from psycopg import AsyncCursor
from psycopg._connection_base import BaseConnection
from psycopg._cursor_base import BaseCursor
from redis.asyncio.connection import AbstractConnection

from bench.dataset import PASSWORD
from bench.fixtures import Fixtures
from bench.peers import ChatstorePeer
from bench.sections import SectionContext
from bench.workloads import CATCH_UP_BEHIND
from chatstore import ChatStore, CreateMessage

HISTORY_DEPTH = 1_000  # messages back from the newest, for both history pages


@dataclass
class Counts:
    statements: list[str] = field(default_factory=list)  # their first words, in order
    transaction: list[str] = field(default_factory=list)  # BEGIN, COMMIT, SAVEPOINT ...
    prepares: int = 0
    pool_checks: int = 0
    redis: list[str] = field(default_factory=list)  # command names, in order
    redis_writes: int = 0

    def numbers(self) -> dict[str, int]:
        pg = len(self.statements) + len(self.transaction) + self.prepares + self.pool_checks
        return {
            "statements": len(self.statements),
            "transaction_commands": len(self.transaction),
            "prepares": self.prepares,
            "pool_checks": self.pool_checks,
            "round_trips": pg,
            "redis_commands": len(self.redis),
            "redis_round_trips": self.redis_writes,
        }


_active: ContextVar[Counts | None] = ContextVar("bench_roundtrips", default=None)


def _text(value: object) -> str:
    text = value.decode() if isinstance(value, bytes) else str(value)
    return " ".join(text.split())


@contextmanager
def watching() -> Iterator[None]:
    """Wrap the drivers' send paths while the block runs; uncounted contexts pass through."""
    execute, executemany = AsyncCursor.execute, AsyncCursor.executemany
    exec_command, send_prepare = BaseConnection._exec_command, BaseCursor._send_prepare
    pack, send_packed = AbstractConnection.pack_command, AbstractConnection.send_packed_command

    def statement(query: object) -> None:
        counts = _active.get()
        if counts is not None:
            label = _text(query)[:60]
            if label:
                counts.statements.append(label)
            else:  # psycopg_pool's check_connection: an empty query
                counts.pool_checks += 1

    async def counted_execute(self: Any, query: Any, *args: Any, **kwargs: Any) -> Any:
        statement(query)
        return await execute(self, query, *args, **kwargs)

    async def counted_executemany(self: Any, query: Any, *args: Any, **kwargs: Any) -> Any:
        statement(query)  # one call, pipelined by psycopg: counted once
        return await executemany(self, query, *args, **kwargs)

    def counted_exec_command(self: Any, command: Any, *args: Any, **kwargs: Any) -> Any:
        counts = _active.get()
        if counts is not None:
            counts.transaction.append(_text(command if isinstance(command, bytes | str) else ""))
        return exec_command(self, command, *args, **kwargs)

    def counted_send_prepare(self: Any, *args: Any, **kwargs: Any) -> Any:
        counts = _active.get()
        if counts is not None and not self._conn._pipeline:  # in a pipeline: no extra wait
            counts.prepares += 1
        return send_prepare(self, *args, **kwargs)

    def counted_pack(self: Any, *args: Any) -> Any:
        counts = _active.get()
        if counts is not None:
            counts.redis.append(_text(args[0]).upper())
        return pack(self, *args)

    async def counted_send_packed(self: Any, *args: Any, **kwargs: Any) -> Any:
        counts = _active.get()
        if counts is not None:
            counts.redis_writes += 1
        return await send_packed(self, *args, **kwargs)

    patches = [
        (AsyncCursor, "execute", execute, counted_execute),
        (AsyncCursor, "executemany", executemany, counted_executemany),
        (BaseConnection, "_exec_command", exec_command, counted_exec_command),
        (BaseCursor, "_send_prepare", send_prepare, counted_send_prepare),
        (AbstractConnection, "pack_command", pack, counted_pack),
        (AbstractConnection, "send_packed_command", send_packed, counted_send_packed),
    ]
    for owner, name, _, wrapper in patches:
        setattr(owner, name, wrapper)
    try:
        yield
    finally:
        for owner, name, original, _ in patches:
            setattr(owner, name, original)


async def counted(call: Callable[[], Awaitable[object]]) -> Counts:
    counts = Counts()
    token = _active.set(counts)
    try:
        await call()
    finally:
        _active.reset(token)
    # A copy now: a task the call left running would otherwise keep adding to it.
    return Counts(
        list(counts.statements),
        list(counts.transaction),
        counts.prepares,
        counts.pool_checks,
        list(counts.redis),
        counts.redis_writes,
    )


# name -> (label, call factory); a factory runs uncounted and returns the call to make.
Setup = Callable[[], Awaitable[Callable[[], Awaitable[object]]]]


def _operations(store: ChatStore, fx: Fixtures) -> dict[str, tuple[str, Setup]]:
    peer = ChatstorePeer(store)
    reader, other = fx.readers[0], fx.readers[1 % len(fx.readers)]
    top = fx.hot_last_seq

    def plain(call: Callable[[], Awaitable[object]]) -> Setup:
        async def setup() -> Callable[[], Awaitable[object]]:
            return call

        return setup

    async def mark_read() -> Callable[[], Awaitable[object]]:
        # A message nobody has read yet, so the call records a receipt and moves a marker.
        sent = await store.send_message(CreateMessage(fx.hot_room, other, "to be read"))
        return lambda: peer.mark_read(sent.id, reader)

    return {
        "get_user": ("get user", plain(lambda: peer.get_user(fx.users[0]))),
        "authenticate": (
            "authenticate",
            plain(lambda: peer.authenticate(fx.usernames[0], PASSWORD)),
        ),
        "send_direct": (
            "send, 2-member room",
            plain(lambda: peer.send(fx.direct_room, fx.direct_users[0], "counted")),
        ),
        "send_big": (
            f"send, {fx.hot_members:,}-member room",
            plain(lambda: peer.send(fx.hot_room, reader, "counted")),
        ),
        "history_keyset": (
            f"history page, keyset, depth {HISTORY_DEPTH:,}",
            plain(lambda: peer.page_before(fx.hot_room, reader, top - HISTORY_DEPTH + 1)),
        ),
        "history_rich": (
            "history page with reactions, replies and threads",
            plain(lambda: peer.page_before(fx.hot_room, reader, fx.rich_before_seq)),
        ),
        "history_offset": (
            f"history page, offset, depth {HISTORY_DEPTH:,}",
            plain(lambda: peer.page_offset(fx.hot_room, reader, HISTORY_DEPTH)),
        ),
        "catch_up": (
            f"catch-up, {CATCH_UP_BEHIND} messages",
            plain(lambda: peer.catch_up(fx.hot_room, reader, top - CATCH_UP_BEHIND)),
        ),
        "mark_read": ("mark read", mark_read),
        "unread_counts": ("unread counts", plain(lambda: peer.unread_counts(fx.probes[0]))),
        "room_list": ("room list", plain(lambda: peer.room_list(fx.probes[0]))),
        "connect": (
            "connect (snapshot), and disconnect",
            plain(lambda: peer.connect(fx.probes[0], "bench-round-trips")),
        ),
    }


async def _observe(store: ChatStore, fx: Fixtures) -> dict[str, tuple[str, Counts]]:
    observed = {}
    with watching():
        for name, (label, setup) in _operations(store, fx).items():
            await (await setup())()  # warm: a pooled connection, statements seen before
            observed[name] = (label, await counted(await setup()))
    return observed


async def count(store: ChatStore, fixtures: Fixtures) -> dict[str, dict[str, int]]:
    """Operation -> what one warm call sent: statements, round trips, Redis commands."""
    observed = await _observe(store, fixtures)
    return {name: counts.numbers() for name, (_, counts) in observed.items()}


async def measure(ctx: SectionContext) -> dict[str, Any]:
    observed = await _observe(ctx.store, ctx.fixtures)
    return {
        "note": "one warm chatstore call each; round trips = statements + transaction "
        "commands + separate Parse waits + pool checks",
        "operations": {
            name: {
                "label": label,
                **counts.numbers(),
                "sql": counts.statements,
                "transaction": counts.transaction,
                "redis": counts.redis,
            }
            for name, (label, counts) in observed.items()
        },
    }


def table(section: dict[str, Any]) -> str:
    lines = [
        "| operation | PostgreSQL statements | round trips (statements + BEGIN/COMMIT) "
        "| Redis commands (round trips) |",
        "| --- | ---: | ---: | ---: |",
    ]
    for entry in section.get("operations", {}).values():
        extra = [
            f"{entry[key]} {what}"
            for key, what in (("prepares", "Parse"), ("pool_checks", "pool check"))
            if entry[key]
        ]
        trips = f"{entry['round_trips']}" + (f" (incl. {', '.join(extra)})" if extra else "")
        redis = f"{entry['redis_commands']} ({entry['redis_round_trips']})"
        lines.append(f"| {entry['label']} | {entry['statements']} | {trips} | {redis} |")
    lines.append(
        "\nRedis: what the caller waits for. A write's publishes (its change-log entries, a "
        "receipt) go through the outbox, off the caller's path, many writes to a round trip."
    )
    return "\n".join(lines)


def draw(section: dict[str, Any], stem: Path) -> list[Path]:
    return []  # a table says it all
