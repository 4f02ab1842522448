"""One PostgreSQL connection: how it is made, checked and cut off.

The settings every connection shares (autocommit, rows, TCP keepalives and user timeout,
connect timeout, TLS and the CHATSTORE_REQUIRE_TLS policy), the pool's pre-use check of
connections that sat idle, the time bound on the work a call does on a connection (a
connection that did not answer in time is closed, never handed out again), and the probe
that tells refused credentials or TLS from an outage at open. `chatstore.db` builds the pool
and the transactions on top of these.
"""

from __future__ import annotations

import asyncio
import contextvars
import math
import os
import time
import weakref
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any, Protocol

import psycopg
from psycopg.conninfo import conninfo_to_dict
from psycopg.rows import DictRow
from psycopg_pool import AsyncConnectionPool

from chatstore.config import SYSTEM_ROOTS, PgTls, Settings
from chatstore.errors import ConfigurationError, Unavailable
from chatstore.rows import row_factory

Connection = psycopg.AsyncConnection[DictRow]


# TCP keepalives: the kernel probes a connection after this much silence, so an idle pooled
# connection whose server vanished (failover, a NAT or load balancer that forgot the flow)
# errors at once when next used instead of waiting on a dead peer, and the probes keep such
# middleboxes from forgetting an idle connection in the first place (AWS NAT: 350 s).
KEEPALIVE_IDLE_SECONDS = 10
KEEPALIVE_INTERVAL_SECONDS = 5
KEEPALIVE_COUNT = 3
# Data (a query, a keepalive probe) unacknowledged this long means the path is dead: the
# kernel drops the connection. The same 25 s as the keepalives give up after (10 + 3 * 5),
# far above any round trip, so a brief network blip does not cost a connection.
TCP_USER_TIMEOUT_MS = 25_000
# psycopg's own floor for connect_timeout (it rounds anything lower up to this).
MIN_CONNECT_TIMEOUT_SECONDS = 2


# The one sslmode CHATSTORE_REQUIRE_TLS accepts. Not verify-ca: it skips the host name, so
# any certificate the CA ever signed (another server's) would pass for this server's.
VERIFIED_SSLMODE = "verify-full"
_WHY_WEAK = {
    "disable": "never uses TLS",
    "allow": "falls back to no TLS and checks no certificate",
    "prefer": "falls back to no TLS and checks no certificate",
    "require": "encrypts but accepts any certificate",
    "verify-ca": "does not check the host name, so any certificate of that CA passes",
}


def _url_parameters(database_url: str) -> dict[str, str]:
    try:
        parsed = conninfo_to_dict(database_url)
    except psycopg.ProgrammingError as exc:
        raise ConfigurationError("DATABASE_URL", f"not a valid connection string: {exc}") from None
    return {key: str(value) for key, value in parsed.items() if value is not None}


def tls_options(
    database_url: str, tls: PgTls, environ: Mapping[str, str] | None = None
) -> dict[str, str]:
    """libpq's TLS parameters to pass beside `database_url`, where they win over its own.

    A root certificate (setting or URL) with no sslmode anywhere means verify-full: a CA is
    given to verify against, and libpq's default (prefer) would ignore it. With `tls.require`
    the sslmode libpq would end up with (setting, else URL, else PGSSLMODE, else prefer)
    must be verify-full, or ConfigurationError names where the weaker one comes from. It is
    then pinned, so no PGSSLMODE or service file can change it at the next connection, and
    GSSAPI encryption is turned off: libpq prefers it to TLS when a Kerberos ticket is at hand.
    """
    environ = os.environ if environ is None else environ
    given = {"sslmode": tls.sslmode, "sslrootcert": tls.rootcert}
    given |= {"sslcert": tls.cert, "sslkey": tls.key}
    options = {key: str(value) for key, value in given.items() if value is not None}
    url = _url_parameters(database_url)
    sources = (
        ("CHATSTORE_PG_SSLMODE", options.get("sslmode")),
        ("DATABASE_URL", url.get("sslmode")),
        ("PGSSLMODE", environ.get("PGSSLMODE")),
    )
    source, sslmode = next(((name, value) for name, value in sources if value), (None, "prefer"))
    root = options.get("sslrootcert") or url.get("sslrootcert")
    if source is None and (root or environ.get("PGSSLROOTCERT") == SYSTEM_ROOTS):
        # libpq's own default with sslrootcert=system, made the rule for any root given.
        sslmode = options["sslmode"] = VERIFIED_SSLMODE
    if tls.require:
        if sslmode != VERIFIED_SSLMODE:
            why = _WHY_WEAK.get(sslmode, "is not a known sslmode")
            where = f"sets sslmode={sslmode}" if source else "is unset, so libpq uses prefer"
            raise ConfigurationError(
                source or "CHATSTORE_PG_SSLMODE",
                f"{where}, which {why}; CHATSTORE_REQUIRE_TLS needs verified TLS "
                f"(set CHATSTORE_PG_SSLMODE={VERIFIED_SSLMODE}, which wins over the URL)",
            )
        options |= {"sslmode": VERIFIED_SSLMODE, "gssencmode": "disable"}
    return options


def connection_kwargs(settings: Settings) -> dict[str, Any]:
    """Per-connection settings shared by the pool and anything else that connects. Raises
    ConfigurationError when CHATSTORE_REQUIRE_TLS refuses the TLS configuration."""
    kwargs: dict[str, Any] = {
        **tls_options(settings.database_url, settings.pg_tls),
        "autocommit": True,
        "row_factory": row_factory,
        "prepare_threshold": settings.pg_prepare_threshold,
        # Without it psycopg waits 130 s on a server that accepts TCP and never answers; a
        # connection not ready within the time a caller waits for one is of no use to it.
        "connect_timeout": max(MIN_CONNECT_TIMEOUT_SECONDS, math.ceil(settings.pg_pool_timeout)),
        "keepalives": 1,
        "keepalives_idle": KEEPALIVE_IDLE_SECONDS,
        "keepalives_interval": KEEPALIVE_INTERVAL_SECONDS,
        "keepalives_count": KEEPALIVE_COUNT,
        "tcp_user_timeout": TCP_USER_TIMEOUT_MS,
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
# The check is an empty query: one round trip on a working connection. One that has not
# answered within this (or within what is left of the caller's pg_pool_timeout, if less) is
# dead: the pool drops it and serves the caller another within the same wait.
CHECK_TIMEOUT_SECONDS = 1.0
_returned_at: weakref.WeakKeyDictionary[Connection, float] = weakref.WeakKeyDictionary()


class Bound(Protocol):
    """A time bound a task is inside: an asyncio.Timeout or a chatstore.deadlines.Deadline."""

    def expired(self) -> bool: ...


# The bounds the current task is inside: a call's wait for a connection, its work, a
# pre-use check. Read by _BoundedConnection.cancel_safe and _dropped_if_late.
_bounds: contextvars.ContextVar[tuple[Bound, ...]] = contextvars.ContextVar(
    "chatstore_pg_bounds", default=()
)


def _bound_expired() -> bool:
    return any(bound.expired() for bound in _bounds.get())


@asynccontextmanager
async def _bounded(seconds: float) -> AsyncIterator[asyncio.Timeout]:
    """asyncio.timeout(seconds), known to the connections used inside it (see below)."""
    async with asyncio.timeout(seconds) as bound:
        token = _bounds.set((*_bounds.get(), bound))
        try:
            yield bound
        finally:
            _bounds.reset(token)


class _BoundedConnection(psycopg.AsyncConnection[DictRow]):
    """The pool's connections: a bound that expires mid-query drops the connection at once.

    When a task is cancelled while a query is in flight, psycopg sends the server a cancel
    request on a new connection and then waits for the query to end: up to 5 s for each
    step, and a silent server answers neither, so a timeout would end the call 10 s late.
    A bound that expired means the server did not answer: close the connection instead, so
    the cancellation goes through at once, and the pool discards the closed connection.
    Any other cancellation keeps psycopg's behaviour (a live server stops the query and the
    connection stays usable); an expiring bound still cuts its wait short.
    """

    # psycopg's signature, kept as is (ASYNC109 would rather have no timeout parameter).
    async def cancel_safe(self, *, timeout: float = 30.0) -> None:  # noqa: ASYNC109
        if _bound_expired():
            await self.close()
            return
        await super().cancel_safe(timeout=timeout)


@asynccontextmanager
async def _dropped_if_late(conn: Connection) -> AsyncIterator[None]:
    """Close `conn` when a bound expired while it was in use, before anything else is sent
    on it: the ROLLBACK (or COMMIT) that follows would wait on a silent server as long as
    the call would have. A closed connection skips them, and the pool discards it."""
    try:
        yield
    except BaseException:
        if _bound_expired():
            await conn.close()
        raise
    if _bound_expired():
        # The block swallowed the cancellation: its work cannot be trusted to have landed.
        await conn.close()
        raise Unavailable("PostgreSQL did not answer in time; the connection was dropped")


def note_return(conn: Connection) -> None:
    """Record that `conn` goes back to the pool now, after a successful use.

    Called by the code that returns it rather than as the pool's `reset` callback: with a
    reset callback psycopg_pool hands every returned connection to a worker task, so it
    came back to the pool a scheduling round later, on every call."""
    _returned_at[conn] = time.monotonic()


async def _check_if_idle(conn: Connection) -> None:
    returned = _returned_at.get(conn)
    if returned is not None and time.monotonic() - returned < CHECK_AFTER_IDLE_SECONDS:
        return
    # A TimeoutError here fails the check: the pool discards the connection and tries again.
    async with _bounded(CHECK_TIMEOUT_SECONDS):
        await AsyncConnectionPool.check_connection(conn)


# libpq reports connection-time errors as text only (no SQLSTATE). A FATAL from the server
# means it was reached and refused us (password, role, database, pg_hba): retrying will not
# help, except for these passing states.
_TRANSIENT_FATALS = ("starting up", "shutting down", "too many", "recovery mode", "not yet")


def _refused_by_server(reason: str) -> bool:
    return "FATAL:" in reason and not any(marker in reason for marker in _TRANSIENT_FATALS)


# libpq's words for a TLS handshake or TLS setting that failed: a wrong CA or host name, a
# missing or unreadable certificate or key, a server without TLS. Only a setting can fix it.
_TLS_MARKERS = ("certificate", "private key", "sslmode", "sslrootcert", "does not support SSL")


def _tls_refusal(reason: str, tls: PgTls) -> ConfigurationError | None:
    if not any(marker in reason for marker in _TLS_MARKERS):
        return None
    blame = "CHATSTORE_PG_SSLROOTCERT" if tls.rootcert is not None else "DATABASE_URL"
    if "does not match host name" in reason:
        blame = "DATABASE_URL"
    return ConfigurationError(blame, f"TLS refused the connection: {reason}")


async def probe_connection(settings: Settings) -> None:
    """Connect once; raise ConfigurationError for refused credentials or TLS (a certificate
    that does not verify, or no TLS under CHATSTORE_REQUIRE_TLS), Unavailable otherwise."""
    try:
        # The pool's own connection settings (connect_timeout, keepalives), so a probe that
        # succeeds means the pool can connect the same way.
        conn = await psycopg.AsyncConnection.connect(
            settings.database_url, **connection_kwargs(settings)
        )
    except psycopg.OperationalError as exc:
        reason = str(exc).strip() or repr(exc)
        if _refused_by_server(reason):
            raise ConfigurationError("DATABASE_URL", reason) from None
        tls_error = _tls_refusal(reason, settings.pg_tls)
        if tls_error is not None:
            raise tls_error from None
        raise Unavailable(f"PostgreSQL unavailable: {reason}") from None
    except psycopg.ProgrammingError as exc:
        raise ConfigurationError("DATABASE_URL", f"not a valid connection string: {exc}") from None
    encrypted = conn.pgconn.ssl_in_use
    await conn.close()
    if settings.require_tls and not encrypted:
        # sslmode holds for TCP only: libpq talks to a Unix socket in the clear whatever it says.
        raise ConfigurationError(
            "DATABASE_URL",
            "TLS: CHATSTORE_REQUIRE_TLS is set, but the connection is not TLS (a Unix socket?)",
        )
