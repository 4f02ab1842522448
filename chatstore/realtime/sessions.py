"""Login sessions in Redis, addressed by an opaque bearer token.

Layout (one hash tag per key, so Redis Cluster can place each key on its own):
    session:{<sha256(token) hex>}  hash: userId, data (JSON), created, expires (ISO 8601 UTC);
                                   key TTL = session lifetime, refreshed by every get/touch
    user:{<user_id>}:sessions      set of sha256 hex ids of that user's sessions; TTL refreshed
                                   to the session lifetime so it outlives all of them

Only the token's SHA-256 is stored: a leaked Redis dump or MONITOR log gives no usable token.
The two keys carry different hash tags, so nothing here spans them atomically: the index is
written before the session (a session is never missing from it), and a member whose session
already expired is harmless.
"""

from __future__ import annotations

import hashlib
import json
import math
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeAlias, cast

import redis.asyncio
from redis.typing import EncodableT, FieldT

from chatstore import validation
from chatstore.errors import ValidationError
from chatstore.realtime.connection import redis_errors

SessionValue: TypeAlias = str | int | float | bool | None
SessionData: TypeAlias = dict[str, SessionValue]

TOKEN_BYTES = 32  # 256 random bits; token_urlsafe gives 43 characters
TOKEN_MAX_CHARS = 200  # anything longer is not one of ours; do not even hash it
DATA_MAX_CHARS = 4096  # sessions are read on every request, so keep them small
DATA_KEY_MAX_CHARS = 100
TTL_MAX_SECONDS = 365 * 24 * 3600

# Sliding expiry in one atomic step on ONE key (cluster-safe: the key is declared in KEYS).
# A MULTI of HSET+EXPIRE+HGETALL could not check existence first, so a session expiring
# between calls would be resurrected as a hash holding only `expires`; the script can check.
_REFRESH_SCRIPT = """
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
redis.call('HSET', KEYS[1], 'expires', ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[1])
return redis.call('HGETALL', KEYS[1])
"""


@dataclass(frozen=True, slots=True)
class Session:
    user_id: uuid.UUID
    data: SessionData
    created_at: datetime
    expires_at: datetime


def _session_id(token: object) -> str | None:
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


def _session_key(session_id: str) -> str:
    return f"session:{{{session_id}}}"


def _index_key(user_id: uuid.UUID) -> str:
    return f"user:{{{user_id}}}:sessions"


def _valid_data(data: object) -> SessionData:
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


def _encode_data(data: SessionData) -> str:
    encoded = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    if len(encoded) > DATA_MAX_CHARS:
        raise ValidationError("data", f"must be at most {DATA_MAX_CHARS} characters as JSON")
    return encoded


def _decode(fields: dict[str, str]) -> Session | None:
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


def _pairs(flat: list[str]) -> dict[str, str]:
    return dict(zip(flat[::2], flat[1::2], strict=True))


class SessionStore:
    """Create, look up (with sliding expiry) and revoke sessions.

    Redis outages raise Unavailable; refused credentials raise ConfigurationError.
    Expiry is Redis's own EXPIRE; created/expires are stamped with this host's clock.
    """

    def __init__(self, redis_client: redis.asyncio.Redis, ttl_seconds: int) -> None:
        self._redis = redis_client
        self._ttl = validation.integer("ttl_seconds", ttl_seconds, low=1, high=TTL_MAX_SECONDS)
        self._refresh = redis_client.register_script(_REFRESH_SCRIPT)

    def _expires(self, now: datetime) -> datetime:
        return now + timedelta(seconds=self._ttl)

    async def create(
        self, user_id: uuid.UUID | str, data: SessionData | None = None
    ) -> tuple[str, Session]:
        """A new session; returns (token, session). Hand the token to the client only."""
        uid = validation.uuid_value("user_id", user_id)
        clean = _valid_data(data)
        encoded = _encode_data(clean)
        token = secrets.token_urlsafe(TOKEN_BYTES)
        session_id = hashlib.sha256(token.encode()).hexdigest()
        now = datetime.now(UTC)
        session = Session(uid, clean, now, self._expires(now))
        fields: dict[FieldT, EncodableT] = {
            "userId": str(uid),
            "data": encoded,
            "created": now.isoformat(),
            "expires": session.expires_at.isoformat(),
        }
        # Not a transaction (the keys have different hash tags), but sent in one round trip
        # and applied in order: index first, so revoke_all can always find the session.
        pipe = self._redis.pipeline(transaction=False)
        pipe.sadd(_index_key(uid), session_id)
        pipe.expire(_index_key(uid), self._ttl)
        pipe.hset(_session_key(session_id), mapping=fields)
        pipe.expire(_session_key(session_id), self._ttl)
        with redis_errors():
            await pipe.execute()
        return token, session

    async def _slide(self, token: object) -> Session | None:
        session_id = _session_id(token)
        if session_id is None:
            return None
        expires = self._expires(datetime.now(UTC))
        with redis_errors():
            flat = await self._refresh(
                keys=[_session_key(session_id)], args=[self._ttl, expires.isoformat()]
            )
        if not flat:
            return None
        session = _decode(_pairs(cast(list[str], flat)))
        if session is not None:
            # The index must outlive every session it lists; refreshed separately (other tag).
            with redis_errors():
                await self._redis.expire(_index_key(session.user_id), self._ttl)
        return session

    async def get(self, token: object) -> Session | None:
        """The session for `token`, extending its lifetime; None if unknown or expired."""
        return await self._slide(token)

    async def touch(self, token: object) -> bool:
        """Extend the session's lifetime; False if unknown or expired."""
        return await self._slide(token) is not None

    async def revoke(self, token: object) -> bool:
        """End one session (logout); False if it did not exist."""
        session_id = _session_id(token)
        if session_id is None:
            return False
        key = _session_key(session_id)
        # Single key, so a transaction is cluster-safe: read the owner and delete together.
        pipe = self._redis.pipeline(transaction=True)
        pipe.hget(key, "userId")
        pipe.delete(key)
        with redis_errors():
            owner, deleted = await pipe.execute()
        if owner:
            await self._unindex(owner, session_id)
        return bool(deleted)

    async def _unindex(self, owner: str, session_id: str) -> None:
        try:
            uid = uuid.UUID(owner)
        except ValueError:
            return
        with redis_errors():
            await self._redis.srem(_index_key(uid), session_id)

    async def revoke_all(self, user_id: uuid.UUID | str) -> int:
        """End every session of a user (password change, "log out everywhere"); the count."""
        uid = validation.uuid_value("user_id", user_id)
        index = _index_key(uid)
        with redis_errors():
            members: Any = await self._redis.smembers(index)
        session_ids = sorted(cast(set[str], members))
        # One DEL per key: the session keys live in other hash slots than the index.
        pipe = self._redis.pipeline(transaction=False)
        for session_id in session_ids:
            pipe.delete(_session_key(session_id))
        pipe.delete(index)
        with redis_errors():
            results = await pipe.execute()
        return sum(int(n) for n in results[:-1])
