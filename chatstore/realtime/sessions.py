"""Login sessions addressed by an opaque bearer token: Redis answers, PostgreSQL keeps them.

Redis layout (one hash tag per key, so Redis Cluster can place each key on its own):
    session:{<sha256(token) hex>}  hash: userId, data (JSON), created, expires (ISO 8601 UTC),
                                   checked (epoch seconds: when PostgreSQL last confirmed it);
                                   key TTL = session lifetime, refreshed by every get/touch
    user:{<user_id>}:sessions      set of sha256 hex ids of that user's sessions; TTL refreshed
                                   to the session lifetime so it outlives all of them
The two keys carry different hash tags, so nothing spans them atomically: the index is
written before the session (a session is never missing from it); a stale member is harmless.

With a database (`use_database`, as ChatStore does) each session also has a row in the
`sessions` table (sql/sessions.sql, chatstore.realtime.session_store), and:
- create writes the row first, then Redis; if Redis fails the row is deleted again and the
  call raises, so a failed create leaves nothing (logins need Redis).
- get/touch read Redis only, as without a database (one script call, plus the index EXPIRE).
  When Redis is unreachable (or slower than READ_BUDGET_SECONDS; then left alone for a
  cooldown) they read the row instead, valid until its expires_at. The row's
  expires_at is slid only when less than half the lifetime is left: PostgreSQL sees at most
  one write per session per half lifetime, and a session idle for more than about half its
  lifetime may be refused while Redis is down (Redis would still have taken it).
- revoke/revoke_all delete the row(s) first, then the Redis copies. The password change and
  the user deletion delete the rows in their own transaction (users.py; ON DELETE CASCADE)
  and mark the user revoked here after the commit (chatstore.live). A revocation is thus
  immediate for the fallback. When Redis cannot be told, this store refuses those sessions
  from then on and deletes their Redis copies before it next reads or writes Redis (also
  retried by chatstore.live's RedisSync). Both halves, and what is pending, are
  chatstore.realtime.session_revocation.
- Another process, or this one after a crash, knows nothing of that pending deletion, so a
  Redis copy that outlived its row would be taken again once Redis is back. Bound: every
  Redis copy is checked against its row at least every `verify_seconds` (default 60, at
  most a quarter of the lifetime); a copy whose row is gone or expired is deleted and
  refused. That costs one primary-key read per active session per interval, on the get that
  falls due (and refreshes the row's expires_at). A per-user revocation marker in Redis was
  not chosen: it cannot be written while Redis is down, which is the case to cover. Nor a
  short Redis TTL that reloads from PostgreSQL on a miss: every unknown or logged-out token
  would then cost a PostgreSQL read. If PostgreSQL is down during a check, the Redis copy
  stands (a revocation then still deletes it in Redis) and is checked an interval later.
- Copies written before the table existed (no `checked`) get their row on first check.
Redis is expected to persist its data (appendonly, as compose.yaml runs it): a miss in Redis
is no session, and the rows are not read back into an emptied Redis.

Only the token's SHA-256 is stored anywhere: a leaked dump or log gives no usable token.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, cast

import redis.asyncio
from redis.typing import EncodableT, FieldT

from chatstore import validation
from chatstore.errors import NotFound, Unavailable
from chatstore.realtime.breaker import Breaker
from chatstore.realtime.connection import redis_errors
from chatstore.realtime.session_revocation import Revocations
from chatstore.realtime.session_store import (
    TOKEN_BYTES,
    TTL_MAX_SECONDS,
    Session,
    SessionData,
    SessionRows,
    SessionValue,
    copy_due,
    decode_hash,
    encode_data,
    forget_copy,
    index_key,
    pairs,
    session_id_of,
    session_key,
    valid_data,
)

if TYPE_CHECKING:
    from chatstore.db import Database

__all__ = ["Session", "SessionData", "SessionStore", "SessionValue"]

log = logging.getLogger("chatstore")

VERIFY_SECONDS = 60.0  # how stale a Redis copy may get before it is checked against its row
# With a database, a get waits at most this long for Redis, then reads the row; after a
# failure Redis is left alone for the cooldown (one trial then), so an outage costs gets
# one PostgreSQL read each, not redis-py's connect retries (0.7 s refused, seconds if lost).
READ_BUDGET_SECONDS = 0.5
READ_COOLDOWN_SECONDS = 1.0

# Sliding expiry in one atomic step on ONE key (cluster-safe: the key is declared in KEYS).
# A MULTI of HSET+EXPIRE+HGETALL could not check existence first, so a session expiring
# between calls would be resurrected as a hash holding only `expires`; the script can check.
_REFRESH_SCRIPT = """
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
redis.call('HSET', KEYS[1], 'expires', ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[1])
return redis.call('HGETALL', KEYS[1])
"""
# Stamp a confirmed copy, never recreating one deleted meanwhile (a bare HSET would, TTL-less).
_CHECKED_SCRIPT = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
return redis.call('HSET', KEYS[1], 'checked', ARGV[1])
"""


class SessionStore:
    """Create, look up (with sliding expiry) and revoke sessions.

    Without a database (`use_database`), Redis outages raise Unavailable; with one, see the
    module docstring. Refused Redis credentials raise ConfigurationError. Expiry is Redis's
    own EXPIRE (and the row's expires_at); times are stamped with this host's clock.
    """

    def __init__(
        self,
        redis_client: redis.asyncio.Redis,
        ttl_seconds: int,
        db: Database | None = None,
        *,
        verify_seconds: float = VERIFY_SECONDS,
    ) -> None:
        self._redis = redis_client
        self._ttl = validation.integer("ttl_seconds", ttl_seconds, low=1, high=TTL_MAX_SECONDS)
        self._verify_every = min(float(verify_seconds), self._ttl / 4)
        self._refresh = redis_client.register_script(_REFRESH_SCRIPT)
        self._stamp = redis_client.register_script(_CHECKED_SCRIPT)
        self._rows: SessionRows | None = None
        self._breaker = Breaker(budget=READ_BUDGET_SECONDS, cooldown=READ_COOLDOWN_SECONDS)
        self._revocations = Revocations(redis_client)
        if db is not None:
            self.use_database(db)

    def use_database(self, db: Database) -> None:
        """Keep the durable copy of every session created from now on in `db`."""
        if self._rows is None:
            self._rows = SessionRows(db)

    def _expires(self, now: datetime) -> datetime:
        return now + timedelta(seconds=self._ttl)

    async def create(
        self, user_id: uuid.UUID | str, data: SessionData | None = None
    ) -> tuple[str, Session]:
        """A new session; returns (token, session). Hand the token to the client only.
        NotFound("user") with a database when the user does not exist."""
        uid = validation.uuid_value("user_id", user_id)
        clean = valid_data(data)
        encoded = encode_data(clean)
        token = secrets.token_urlsafe(TOKEN_BYTES)
        session_id = hashlib.sha256(token.encode()).hexdigest()
        # First: a pending flush must not take this one too.
        await self._revocations.flush_if_pending()
        now = datetime.now(UTC)
        expires = self._expires(now)
        if self._rows is not None:
            now = await self._rows.insert(session_id, uid, encoded, expires) or now
        session = Session(uid, clean, now, expires)
        fields: dict[FieldT, EncodableT] = {
            "userId": str(uid),
            "data": encoded,
            "created": now.isoformat(),
            "expires": expires.isoformat(),
            "checked": repr(time.time()),
        }
        # Not a transaction (the keys have different hash tags), but sent in one round trip
        # and applied in order: index first, so revoke_all can always find the session.
        pipe = self._redis.pipeline(transaction=False)
        pipe.sadd(index_key(uid), session_id)
        pipe.expire(index_key(uid), self._ttl)
        pipe.hset(session_key(session_id), mapping=fields)
        pipe.expire(session_key(session_id), self._ttl)
        try:
            with redis_errors():
                await pipe.execute()
        except BaseException:
            if self._rows is not None:
                await self._undo_insert(session_id)
            raise
        return token, session

    async def _undo_insert(self, session_id: str) -> None:
        assert self._rows is not None
        try:
            await self._rows.delete(session_id)
        except Exception as exc:  # the caller gets the Redis error
            # Harmless: nobody holds this token, and the row is pruned once expired.
            log.warning("could not delete the row of a session never handed out: %s", exc)

    async def get(self, token: object) -> Session | None:
        """The session for `token`, extending its lifetime; None if unknown or expired."""
        session_id = session_id_of(token)
        if session_id is None:
            return None
        expires = self._expires(datetime.now(UTC))
        if self._rows is None:
            return await self._slide(session_id, expires)
        if self._breaker.allow():
            try:
                session = await self._slide(session_id, expires)
            except BaseException as exc:
                self._breaker.failed()
                if not isinstance(exc, Unavailable):
                    raise
            else:
                self._breaker.succeeded()
                return session
        # Redis does not answer: the row does (and slides once half its lifetime is gone).
        return await self._rows.check(session_id, expires)

    async def touch(self, token: object) -> bool:
        """Extend the session's lifetime; False if unknown or expired."""
        return await self.get(token) is not None

    async def _slide(self, session_id: str, expires: datetime) -> Session | None:
        try:
            async with asyncio.timeout(None if self._rows is None else self._breaker.budget):
                await self._revocations.flush_if_pending()
                with redis_errors():
                    flat = await self._refresh(
                        keys=[session_key(session_id)], args=[self._ttl, expires.isoformat()]
                    )
        except TimeoutError:
            raise Unavailable(f"Redis did not answer within {self._breaker.budget:g}s") from None
        if not flat:
            return None
        fields = pairs(cast(list[str], flat))
        session = decode_hash(fields)
        if session is None:
            return None
        if self._revocations.refuses(session_id, session.user_id):
            return None
        due = self._rows is not None and copy_due(fields.get("checked"), self._verify_every)
        if due and not await self._confirm(session_id, session, fields, expires):
            return None
        # The index must outlive every session it lists; refreshed separately (other tag).
        with redis_errors():
            await self._redis.expire(index_key(session.user_id), self._ttl)
        return session

    async def _confirm(
        self, session_id: str, session: Session, fields: dict[str, str], expires: datetime
    ) -> bool:
        """Check a Redis copy against its row; False (and the copy deleted) if it is gone."""
        assert self._rows is not None
        try:
            if "checked" in fields:
                alive = await self._rows.check(session_id, expires) is not None
            else:  # a copy from before the table existed: its row is written now
                await self._rows.insert(session_id, session.user_id, fields["data"], expires)
                alive = True
        except NotFound:  # its user is gone
            alive = False
        except Unavailable as exc:
            log.warning("session not checked against PostgreSQL, kept for now: %s", exc)
            alive = True
        if not alive:
            await forget_copy(self._redis, session_id)
            return False
        with redis_errors():
            await self._stamp(keys=[session_key(session_id)], args=[repr(time.time())])
        return True

    async def revoke(self, token: object) -> bool:
        """End one session (logout); False if it did not exist. With a database the row
        goes first, then the Redis copy: now, or before this store next uses Redis."""
        session_id = session_id_of(token)
        if session_id is None:
            return False
        return await self._revocations.session(session_id, self._rows)

    async def revoke_all(self, user_id: uuid.UUID | str) -> int:
        """End every session of a user ("log out everywhere", account locked); the count
        (from Redis, or from PostgreSQL while Redis is down: rows, expired ones included)."""
        uid = validation.uuid_value("user_id", user_id)
        return await self._revocations.user(uid, self._rows)

    def mark_revoked(self, user_id: uuid.UUID) -> None:
        """The user's rows were deleted by a committed transaction (password change, user
        deletion): refuse their Redis copies from now on, and delete them at the next
        flush_revoked (which every create and get runs first while any is pending)."""
        self._revocations.mark_user(user_id)

    async def flush_revoked(self) -> None:
        """Delete the Redis copies of sessions revoked while Redis did not answer.
        Unavailable when it still does not; what is left stays pending."""
        await self._revocations.flush()
