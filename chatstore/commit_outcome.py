"""Writes whose answer was lost: finding out whether they committed.

A connection can fail after a write (or its COMMIT) reached the server and before the
answer came back. Retrying blindly could apply the write twice; reporting "unavailable"
could hide a write that did apply. chatstore asks PostgreSQL instead, on a new connection:

- a transaction (`Database.transaction()`) reads its own id just before COMMIT, and
  `pg_xact_status` says whether that id committed, aborted, or is still in progress;
- a send carries a message id chosen before it is sent, and running the same send again is
  the question and the answer at once (see chatstore.repositories.sending);
- a write that is safe to apply twice (mark read, set online) simply runs again
  (run_idempotent); every other write runs in a transaction, so the first rule covers it.

The answer is awaited within the call bound (`pg_call_timeout_seconds`); if PostgreSQL
cannot be asked in that time the caller gets OutcomeUnknown, which says so.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

from chatstore.errors import OutcomeUnknown, Unavailable

if TYPE_CHECKING:
    from chatstore.db import Database

T = TypeVar("T")

# How often to ask again while the transaction is still "in progress" (its backend has
# not yet noticed the lost connection, or is still writing the commit record).
POLL_SECONDS = 0.02


class ReplyLost(Unavailable):
    """A connection failed after it was handed out: what was sent on it may have been
    applied. Writes that can find out do (a send, a transaction's COMMIT); others pass it
    on, and it reads as Unavailable."""


async def resolve_commit(db: Database, xact_id: str, lost: ReplyLost) -> None:
    """Return if transaction `xact_id` committed; raise Unavailable if it did not, and
    OutcomeUnknown if PostgreSQL cannot tell within the call bound."""
    status = await _settled_status(db, xact_id, lost)
    if status == "aborted":
        raise Unavailable(f"the transaction did not commit ({lost})")
    if status is None:
        raise OutcomeUnknown(
            f"COMMIT's answer was lost ({lost}) and PostgreSQL no longer knows transaction "
            f"{xact_id}"
        )


async def _settled_status(db: Database, xact_id: str, lost: ReplyLost) -> str | None:
    """'committed', 'aborted' or None (too old to know), asked until it is no longer
    'in progress'; OutcomeUnknown when no answer comes within the call bound."""
    try:
        async with asyncio.timeout(db.call_timeout):
            while True:
                async with db.connection() as conn:
                    row = await db.queries.transactions.xact_status(conn, xact_id=xact_id)
                status: str | None = None if row is None else row["status"]
                if status != "in progress":
                    return status
                await asyncio.sleep(POLL_SECONDS)  # its backend is still finishing
    except (TimeoutError, Unavailable) as exc:
        raise OutcomeUnknown(
            f"COMMIT's answer was lost ({lost}) and PostgreSQL could not be asked whether it "
            f"committed within {db.call_timeout:g}s: {exc}"
        ) from exc


async def run_idempotent(
    db: Database, attempt: Callable[[], Awaitable[T]], what: str, in_transaction: bool
) -> T:
    """Run a write that is safe to apply twice (a send with its message id, mark read, set
    online); if its answer was lost, run it once more on a new connection: that run's answer
    is the outcome. Inside a caller's transaction the transaction's COMMIT handling decides
    instead."""
    try:
        return await attempt()
    except ReplyLost as lost:
        if in_transaction:
            raise
        try:
            return await attempt()
        except Unavailable as again:
            raise OutcomeUnknown(
                f"{what} reached PostgreSQL but its answer was lost ({lost}), and asking "
                f"again failed ({again})"
            ) from again


async def run_idempotent_counted(
    db: Database, attempt: Callable[[], Awaitable[T]], what: str, in_transaction: bool
) -> tuple[T, bool]:
    """run_idempotent, and whether the write ran twice: then its first run may have changed
    something the answer does not show (a marker it moved, which the second run found moved
    already)."""
    runs = 0

    async def counted() -> T:
        nonlocal runs
        runs += 1
        return await attempt()

    result = await run_idempotent(db, counted, what, in_transaction)
    return result, runs > 1
