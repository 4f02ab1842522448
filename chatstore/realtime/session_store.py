"""The parts of chatstore.realtime.sessions' SessionStore: the Session record, token and
data checks, the Redis key helpers, and SessionRows, the durable copy of each session in
PostgreSQL (sql/sessions.sql). See that module for when each copy is read and written.

Rows hold what the Redis hash holds: the token's SHA-256 in hex (never the token), the
owner, the data as the same JSON text, created_at and expires_at.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeAlias, cast

import redis.asyncio

from chatstore import validation
from chatstore.errors import NotFound, ValidationError
from chatstore.realtime.connection import redis_errors

if TYPE_CHECKING:
    from chatstore.db import Database

SessionValue: TypeAlias = str | int | float | bool | None
SessionData: TypeAlias = dict[str, SessionValue]


@dataclass(frozen=True, slots=True)
class Session:
    user_id: uuid.UUID
    data: SessionData
    created_at: datetime
    expires_at: datetime


TOKEN_BYTES = 32  # 256 random bits; token_urlsafe gives 43 characters
TOKEN_MAX_CHARS = 200  # anything longer is not one of ours; do not even hash it
DATA_MAX_CHARS = 4096  # sessions are read on every request, so keep them small
DATA_KEY_MAX_CHARS = 100
TTL_MAX_SECONDS = 365 * 24 * 3600


def session_id_of(token: object) -> str | None:
    """sha256 hex of a well-formed token, or None: a malformed token is simply no session."""
    if not isinstance(token, str) or not token or len(token) > TOKEN_MAX_CHARS:
        return None
    if "\x00" in token:
        return None
    try:
        raw = token.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates
        return None
    return hashlib.sha256(raw).hexdigest()


def session_key(session_id: str) -> str:
    return f"session:{{{session_id}}}"


def index_key(user_id: uuid.UUID) -> str:
    return f"user:{{{user_id}}}:sessions"


def valid_data(data: object) -> SessionData:
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ValidationError("data", "must be a dict of str to str, int, float, bool or None")
    for key, value in data.items():
        validation.text("data", key, max_chars=DATA_KEY_MAX_CHARS)
        if value is not None and not isinstance(value, str | int | float | bool):
            raise ValidationError("data", f"value of {key!r} must be str, int, float, bool or None")
        if isinstance(value, float) and not math.isfinite(value):
            raise ValidationError("data", f"value of {key!r} must be a finite number")
        # What JSON and Redis cannot take: lone surrogates (no UTF-8 form) and integers too
        # long for json.dumps. (NUL may stay: it travels as the JSON escape \u0000.)
        if isinstance(value, str):
            validation.unicode_text("data", value)
        if isinstance(value, int):
            validation.json_integer("data", value)
    return cast(SessionData, dict(data))


def encode_data(data: SessionData) -> str:
    encoded = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    if len(encoded) > DATA_MAX_CHARS:
        raise ValidationError("data", f"must be at most {DATA_MAX_CHARS} characters as JSON")
    return encoded


def decode_hash(fields: dict[str, str]) -> Session | None:
    """The stored hash as a Session; None if it is not a complete session hash."""
    try:
        return Session(
            user_id=uuid.UUID(fields["userId"]),
            data=json.loads(fields["data"]),
            created_at=datetime.fromisoformat(fields["created"]),
            expires_at=datetime.fromisoformat(fields["expires"]),
        )
    except (KeyError, ValueError):
        return None


def pairs(flat: list[str]) -> dict[str, str]:
    return dict(zip(flat[::2], flat[1::2], strict=True))


async def forget_copy(client: redis.asyncio.Redis, session_id: str) -> bool:
    """Delete one Redis copy and its index entry; whether there was a copy."""
    key = session_key(session_id)
    # Single key, so a transaction is cluster-safe: read the owner and delete together.
    pipe = client.pipeline(transaction=True)
    pipe.hget(key, "userId")
    pipe.delete(key)
    with redis_errors():
        owner, deleted = await pipe.execute()
    if owner:
        try:
            uid = uuid.UUID(owner)
        except ValueError:
            return bool(deleted)
        with redis_errors():
            await client.srem(index_key(uid), session_id)
    return bool(deleted)


async def forget_user_copies(client: redis.asyncio.Redis, uid: uuid.UUID) -> int:
    """Delete every Redis copy of the user's sessions and their index; how many."""
    index = index_key(uid)
    with redis_errors():
        members: Any = await client.smembers(index)
    session_ids = sorted(cast(set[str], members))
    # One DEL per key: the session keys live in other hash slots than the index.
    pipe = client.pipeline(transaction=False)
    for session_id in session_ids:
        pipe.delete(session_key(session_id))
    pipe.delete(index)
    with redis_errors():
        results = await pipe.execute()
    return sum(int(n) for n in results[:-1])


def copy_due(checked: str | None, every: float) -> bool:
    """Whether a copy last confirmed at `checked` (epoch seconds) must be checked again."""
    if checked is None:
        return True
    try:
        return time.time() - float(checked) >= every
    except ValueError:
        return True


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


class SessionRows:
    """The sessions table, through the pool (or the caller's store.transaction())."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def insert(
        self, session_id: str, user_id: uuid.UUID, data_json: str, expires_at: datetime
    ) -> datetime | None:
        """Store a session; its created_at, or None when a row with this id exists already.
        NotFound("user") when the user does not exist (or is being deleted)."""
        try:
            async with self._db.connection() as conn:
                row: dict[str, Any] | None = await self._db.queries.sessions.insert_session(
                    conn, session_id=session_id, user_id=user_id, payload=data_json, at=expires_at
                )
        except NotFound:  # sessions_user_id_fkey
            raise NotFound("user", user_id) from None
        return None if row is None else _utc(row["created_at"])

    async def check(self, session_id: str, expires_at: datetime) -> Session | None:
        """The session if its row exists and has not expired, else None. Its expires_at
        moves to `expires_at` when less than half of that lifetime is left."""
        async with self._db.connection() as conn:
            row: dict[str, Any] | None = await self._db.queries.sessions.check_session(
                conn, session_id=session_id, at=expires_at
            )
        if row is None:
            return None
        return Session(
            user_id=row["user_id"],
            data=json.loads(row["data"]),
            created_at=_utc(row["created_at"]),
            expires_at=_utc(row["expires_at"]),
        )

    async def delete(self, session_id: str) -> int:
        """Delete one session's row; 1 if there was one, else 0."""
        async with self._db.connection() as conn:
            deleted: int = await self._db.queries.sessions.delete_session(
                conn, session_id=session_id
            )
        return deleted

    async def delete_user(self, user_id: uuid.UUID) -> int:
        """Delete every session row of the user; how many there were."""
        async with self._db.connection() as conn:
            deleted: int = await self._db.queries.sessions.delete_user_sessions(
                conn, user_id=user_id
            )
        return deleted
