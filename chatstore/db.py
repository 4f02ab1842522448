"""The PostgreSQL side: the connection pool, the loaded `sql/` queries, and transactions.

Single-statement calls run on an autocommit connection (no BEGIN/COMMIT round trips);
`transaction()` hands the same connection to every repository call made inside it, through a
context variable, so they commit or roll back together.
"""

from __future__ import annotations

import contextvars
import time
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

import psycopg
from psycopg.rows import DictRow
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from chatstore.config import Settings
from chatstore.db_errors import translate
from chatstore.errors import ChatStoreError, ConfigurationError, Unavailable
from chatstore.models import LogEntry
from chatstore.queries import Queries, load_queries
from chatstore.rows import row_factory

Connection = psycopg.AsyncConnection[DictRow]

# The connection of the transaction the current task is inside, if any.
_current: contextvars.ContextVar[Connection | None] = contextvars.ContextVar(
    "chatstore_transaction", default=None
)
# Work to run once that transaction has committed (dropped if it rolls back).
_pending: contextvars.ContextVar[list[Callable[[], Awaitable[None]]] | None] = (
    contextvars.ContextVar("chatstore_after_commit", default=None)
)


def connection_kwargs(settings: Settings) -> dict[str, Any]:
    """Per-connection settings shared by the pool and anything else that connects."""
    kwargs: dict[str, Any] = {
        "autocommit": True,
        "row_factory": row_factory,
        "prepare_threshold": settings.pg_prepare_threshold,
    }
    if settings.pg_statement_timeout_ms:
        # A runaway query is cut off server-side instead of holding a pool slot forever.
        kwargs["options"] = f"-c statement_timeout={settings.pg_statement_timeout_ms}"
    return kwargs


# A connection back in the pool within this long is handed out again unchecked: it was just
# used successfully, and a check would cost a round trip per call. One idle longer is
# checked first (a PING-like empty query), which catches a server restart or a dropped
# connection between bursts. A connection that breaks while busy fails its one call with
# Unavailable, and psycopg's pool discards it.
CHECK_AFTER_IDLE_SECONDS = 1.0
_returned_at: weakref.WeakKeyDictionary[Connection, float] = weakref.WeakKeyDictionary()


async def _note_return(conn: Connection) -> None:
    _returned_at[conn] = time.monotonic()


async def _check_if_idle(conn: Connection) -> None:
    returned = _returned_at.get(conn)
    if returned is not None and time.monotonic() - returned < CHECK_AFTER_IDLE_SECONDS:
        return
    await AsyncConnectionPool.check_connection(conn)


class Database:
    """An open connection pool plus the loaded queries."""

    def __init__(self, pool: AsyncConnectionPool[Connection], queries: Queries) -> None:
        self.pool = pool
        self.queries = queries
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
            reset=_note_return,
            kwargs=connection_kwargs(settings),
            connection_class=psycopg.AsyncConnection[DictRow],
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
            yield cls(pool, queries)
        finally:
            await pool.close()

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[Connection]:
        """The current transaction's connection, or an autocommit one from the pool.

        Driver errors raised inside the block come out as chatstore errors.
        """
        current = _current.get()
        try:
            if current is not None:
                yield current
                return
            async with self.pool.connection() as conn:
                yield conn
        except PoolTimeout as exc:
            raise Unavailable(f"no PostgreSQL connection available: {exc}") from None
        except psycopg.Error as exc:
            raise translate(exc) from exc

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Connection]:
        """Everything chatstore does inside this block commits or rolls back together.

        Nested use opens a savepoint on the same connection.
        """
        current = _current.get()
        if current is not None:
            try:
                async with current.transaction():
                    yield current
            except psycopg.Error as exc:
                raise translate(exc) from exc
            return
        pending: list[Callable[[], Awaitable[None]]] = []
        async with self.connection() as conn:
            token, pending_token = _current.set(conn), _pending.set(pending)
            try:
                async with conn.transaction():
                    yield conn
            finally:
                _current.reset(token)
                _pending.reset(pending_token)
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


# libpq reports connection-time errors as text only (no SQLSTATE). A FATAL from the server
# means it was reached and refused us (password, role, database, pg_hba): retrying will not
# help, except for these passing states.
_TRANSIENT_FATALS = ("starting up", "shutting down", "too many", "recovery mode", "not yet")


def _refused_by_server(reason: str) -> bool:
    return "FATAL:" in reason and not any(marker in reason for marker in _TRANSIENT_FATALS)


async def probe_connection(settings: Settings) -> None:
    """Connect once; raise ConfigurationError for refused credentials, Unavailable otherwise."""
    try:
        conn = await psycopg.AsyncConnection.connect(
            settings.database_url, connect_timeout=max(1, int(settings.pg_pool_timeout))
        )
    except psycopg.OperationalError as exc:
        reason = str(exc).strip() or repr(exc)
        if _refused_by_server(reason):
            raise ConfigurationError("DATABASE_URL", reason) from None
        raise Unavailable(f"PostgreSQL unavailable: {reason}") from None
    except psycopg.ProgrammingError as exc:
        raise ConfigurationError("DATABASE_URL", f"not a valid connection string: {exc}") from None
    await conn.close()


__all__ = ["ChatStoreError", "Connection", "Database", "Queries", "load_queries"]
