"""The PostgreSQL side: the connection pool, the loaded `sql/` queries, and transactions.

Single-statement calls run on an autocommit connection (no BEGIN/COMMIT round trips);
`transaction()` hands the same connection to every repository call made inside it, through a
context variable, so they commit or roll back together.

Every call ends in bounded time, whatever the network does: at most `pg_pool_timeout` to get
a connection (its pre-use check included), then at most `pg_call_timeout_seconds` for the
work done on it. A call that runs out of either fails with Unavailable, and a connection
that did not answer in time is closed, never handed out again.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from types import TracebackType

import psycopg
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from chatstore.commit_outcome import ReplyLost, resolve_commit
from chatstore.config import Settings
from chatstore.db_errors import translate
from chatstore.deadlines import Deadline, DeadlineWatch
from chatstore.errors import ChatStoreError, Unavailable
from chatstore.models import LogEntry
from chatstore.pg_connection import (
    Bound,
    Connection,
    _BoundedConnection,
    _bounds,
    _check_if_idle,
    _dropped_if_late,
    connection_kwargs,
    note_return,
    probe_connection,
)
from chatstore.queries import Queries, load_queries

# The connection of the transaction the current task is inside, if any.
_current: contextvars.ContextVar[Connection | None] = contextvars.ContextVar(
    "chatstore_transaction", default=None
)
# Work to run once that transaction has committed (dropped if it rolls back).
_pending: contextvars.ContextVar[list[Callable[[], Awaitable[None]]] | None] = (
    contextvars.ContextVar("chatstore_after_commit", default=None)
)


def current_connection() -> Connection | None:
    """The connection of the transaction the current task is inside, if any."""
    return _current.get()


class Database:
    """An open connection pool plus the loaded queries."""

    def __init__(
        self, pool: AsyncConnectionPool[Connection], queries: Queries, settings: Settings
    ) -> None:
        self.pool = pool
        self.queries = queries
        self.pool_timeout = settings.pg_pool_timeout
        self.call_timeout = settings.pg_call_timeout_seconds
        # Every call's bounds: the wait for a connection, then the work done on it.
        self.wait_watch = DeadlineWatch(self.pool_timeout)
        self.call_watch = DeadlineWatch(self.call_timeout)
        # Set by ChatStore: publishes change-log entries once they are committed.
        self.log_publisher: Callable[[Sequence[LogEntry]], Awaitable[None]] | None = None

    @classmethod
    @asynccontextmanager
    async def open(cls, settings: Settings) -> AsyncIterator[Database]:
        pool: AsyncConnectionPool[Connection] = AsyncConnectionPool(
            settings.database_url,
            min_size=settings.pg_pool_min,
            max_size=settings.pg_pool_max,
            timeout=settings.pg_pool_timeout,
            max_idle=settings.pg_pool_max_idle,
            max_lifetime=settings.pg_pool_max_lifetime,
            # A connection killed by a server restart is found and replaced when it is
            # taken from the pool, instead of failing the caller's query; but only one that
            # sat idle a while is checked, so a busy pool pays no extra round trip per call.
            check=_check_if_idle,
            kwargs=connection_kwargs(settings),
            connection_class=_BoundedConnection,
            open=False,
            name="chatstore",
        )
        queries = load_queries(settings.sql_paths)
        # One direct connection first: the pool retries quietly until its timeout, while a
        # wrong password or database name should fail at once with the server's reason.
        await probe_connection(settings)
        try:
            await pool.open(wait=True, timeout=settings.pg_pool_timeout)
        except PoolTimeout:
            await pool.close()
            raise Unavailable(
                f"could not open {settings.pg_pool_min} PostgreSQL connection(s) within "
                f"{settings.pg_pool_timeout}s"
            ) from None
        try:
            yield cls(pool, queries, settings)
        finally:
            await pool.close()

    def connection(self) -> AbstractAsyncContextManager[Connection]:
        """The current transaction's connection, or an autocommit one from the pool, got
        within pool_timeout and then used within call_timeout.

        Driver errors raised inside the block come out as chatstore errors; a connection
        that broke or went silent while in use as ReplyLost (what was sent on it may have
        been applied), and it is closed, never reused.
        """
        return _Call(self)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Connection]:
        """Everything chatstore does inside this block commits or rolls back together.

        Nested use opens a savepoint on the same connection.
        """
        current = _current.get()
        if current is not None:
            try:
                async with current.transaction(), _dropped_if_late(current):
                    yield current
            except psycopg.Error as exc:
                raise translate(exc) from exc
            return
        pending: list[Callable[[], Awaitable[None]]] = []
        # Read just before COMMIT: if COMMIT's answer is lost, PostgreSQL can still say
        # whether this transaction committed (pg_xact_status), so the caller gets the real
        # outcome instead of a guess. One round trip, on multi-statement writes only.
        xact_id: str | None = None
        try:
            # One call for the bound: the whole block, COMMIT included, within call_timeout.
            # _dropped_if_late sits inside conn.transaction(), so a block cut short closes
            # the connection before the ROLLBACK a silent server would never answer.
            async with self.connection() as conn:
                token, pending_token = _current.set(conn), _pending.set(pending)
                try:
                    async with conn.transaction(), _dropped_if_late(conn):
                        yield conn
                        row = await self.queries.transactions.current_xact_id(conn)
                        xact_id = row["xact_id"]
                finally:
                    _current.reset(token)
                    _pending.reset(pending_token)
        except ReplyLost as lost:
            if xact_id is None:  # lost before COMMIT was sent: the server rolls it back
                raise Unavailable(
                    "the transaction did not commit: PostgreSQL stopped answering before "
                    f"COMMIT was sent ({str(lost).split(';')[0]})"
                ) from None
            await resolve_commit(self, xact_id, lost)
        for step in pending:
            await step()

    async def log_appended(self, entries: Sequence[LogEntry]) -> None:
        """A repository appended these change-log entries in the current transaction (or
        autocommit statement): hand them to the publisher once committed, never on rollback.
        A dropped publication loses nothing: the log is the truth listeners fill gaps from."""
        publisher = self.log_publisher
        if publisher is None or not entries:
            return
        committed = tuple(entries)
        await self.after_commit(lambda: publisher(committed))

    async def after_commit(self, step: Callable[[], Awaitable[None]]) -> None:
        """Run `step` once the data it describes is committed: now when no transaction is
        open (autocommit), else when the outermost transaction commits (never if it rolls
        back). Used to publish events only about data that really exists."""
        pending = _pending.get()
        if pending is None:
            await step()
        else:
            pending.append(step)


__all__ = [
    "ChatStoreError",
    "Connection",
    "Database",
    "Queries",
    "ReplyLost",
    "connection_kwargs",
    "current_connection",
    "load_queries",
    "probe_connection",
]


class _Call:
    """One call's use of a connection (Database.connection()), as a plain class: it is on
    every call's path, where three nested generator-based context managers (and psycopg's
    own `async with conn`) cost more client time than the query they wrapped.

    One bound (chatstore.deadlines) covers the wait for a connection (pool_timeout, backing
    the pool's own, which does not cover the pre-use check) and is moved on to call_timeout
    once the connection is in hand. A connection whose bound expired is closed before
    anything else is sent on it (a ROLLBACK would wait on a silent server), and the pool
    discards it. A transaction an error left open is rolled back by the pool when it takes
    it back.
    """

    __slots__ = ("_conn", "_db", "_deadline", "_token")

    def __init__(self, db: Database) -> None:
        self._db = db
        self._conn: Connection | None = None
        self._deadline: Deadline | None = None
        self._token: contextvars.Token[tuple[Bound, ...]] | None = None

    async def __aenter__(self) -> Connection:
        current = _current.get()
        if current is not None:  # inside transaction(), whose bound covers this call too
            self._conn = current
            return current
        db = self._db
        deadline = self._deadline = db.wait_watch.start()
        self._token = _bounds.set((*_bounds.get(), deadline))
        try:
            conn = await db.pool.getconn()
        except BaseException as exc:
            raise self._left(exc) from None
        if deadline.expired():
            # Ran out as the connection came (getconn swallowed the cancellation): give the
            # connection back unused and report the wait as too long.
            await db.pool.putconn(conn)
            raise self._left(asyncio.CancelledError()) from None
        self._conn = conn
        deadline.move_to(db.call_watch)
        return conn

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        conn, deadline, exc = self._conn, self._deadline, exc_value
        if deadline is None:  # the transaction's connection: only translate errors
            if isinstance(exc, psycopg.Error):
                raise self._translated(exc, conn) from exc
            return
        assert conn is not None
        if deadline.expired():
            # Late: whatever the block did cannot be trusted to have landed, and nothing
            # more may be sent on this connection.
            await conn.close()
            if exc is None:
                exc = Unavailable("PostgreSQL did not answer in time; the connection was dropped")
        note_return(conn)
        try:
            await self._db.pool.putconn(conn)
        except BaseException as put_error:
            exc = exc or put_error
        if exc is None:
            self._leave(None)
            return
        raised = self._left(exc)
        if raised is not exc_value:
            raise raised from None
        # Otherwise the block's own exception propagates as it is.

    def _leave(self, exc: BaseException | None) -> bool:
        """Leave the bound; True when `exc` is the cancellation its running out caused."""
        deadline, token = self._deadline, self._token
        assert deadline is not None
        assert token is not None
        _bounds.reset(token)
        return deadline.finish(type(exc) if exc else None)

    def _left(self, exc: BaseException) -> BaseException:
        """The bound left with `exc` pending: the chatstore error to raise for it."""
        if self._leave(exc):
            if self._conn is None:
                return Unavailable(
                    f"no PostgreSQL connection available within {self._db.pool_timeout:g}s"
                )
            # Unknown, not undone: a write (or COMMIT) the server got may still apply.
            return ReplyLost(
                f"PostgreSQL did not answer within {self._db.call_timeout:g}s; the connection "
                "was dropped (a write already sent may still have been applied)"
            )
        if isinstance(exc, PoolTimeout):
            return Unavailable(f"no PostgreSQL connection available: {exc}")
        if isinstance(exc, psycopg.Error):
            return self._translated(exc, self._conn)
        return exc

    @staticmethod
    def _translated(exc: psycopg.Error, conn: Connection | None) -> BaseException:
        if conn is not None and conn.broken:
            return ReplyLost(f"PostgreSQL connection lost: {exc}")
        return translate(exc)
