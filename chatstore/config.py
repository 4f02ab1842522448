"""Settings, read from environment variables only (a development .env is loaded by `just`)."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar

from chatstore.errors import ValidationError

MIN_BCRYPT_ROUNDS = 10  # below this a stolen hash is too cheap to brute-force
MAX_BCRYPT_ROUNDS = 16  # above this one login takes seconds on a server core
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"

N = TypeVar("N", int, float)


def _number(
    env: Mapping[str, str], name: str, default: N, low: N, high: N, parse: Callable[[str], N]
) -> N:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = parse(raw)
    except ValueError:
        kind = "a whole number" if parse is int else "a number"
        raise ValidationError(name, f"must be {kind}, got {raw!r}") from None
    if not low <= value <= high:
        raise ValidationError(name, f"must be between {low} and {high}, got {value}")
    return value


def _int(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    return _number(env, name, default, low, high, int)


def _float(env: Mapping[str, str], name: str, default: float, low: float, high: float) -> float:
    return _number(env, name, default, low, high, float)


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything chatstore can be configured with. `from_env()` documents the variable names."""

    database_url: str
    redis_url: str = DEFAULT_REDIS_URL
    pg_pool_min: int = 2
    pg_pool_max: int = 20
    pg_pool_timeout: float = 5.0
    pg_pool_max_idle: float = 300.0
    pg_pool_max_lifetime: float = 3600.0
    pg_statement_timeout_ms: int = 5000
    # None turns server-side prepared statements off (needed behind pgbouncer in
    # transaction mode); otherwise a statement is prepared after this many runs.
    pg_prepare_threshold: int | None = 5
    bcrypt_rounds: int = 12
    session_ttl_seconds: int = 14 * 24 * 3600
    # A device that has not heartbeated for this long is gone; its user goes offline when
    # it was the last one. The sweeper that notices runs every presence_sweep_seconds.
    presence_ttl_seconds: float = 30.0
    presence_sweep_seconds: float = 5.0
    typing_ttl_seconds: float = 5.0

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        database_url = env.get("DATABASE_URL", "").strip()
        if not database_url:
            raise ValidationError("DATABASE_URL", "must be set (see .env.example)")
        pool_min = _int(env, "CHATSTORE_PG_POOL_MIN", 2, 0, 1000)
        pool_max = _int(env, "CHATSTORE_PG_POOL_MAX", 20, 1, 1000)
        if pool_max < pool_min:
            raise ValidationError(
                "CHATSTORE_PG_POOL_MAX", f"must be at least CHATSTORE_PG_POOL_MIN ({pool_min})"
            )
        prepare_raw = env.get("CHATSTORE_PG_PREPARE_THRESHOLD", "").strip().lower()
        prepare: int | None = (
            None
            if prepare_raw in {"none", "off", "disabled"}
            else _int(env, "CHATSTORE_PG_PREPARE_THRESHOLD", 5, 0, 1_000_000)
        )
        return cls(
            database_url=database_url,
            redis_url=env.get("REDIS_URL", "").strip() or DEFAULT_REDIS_URL,
            pg_pool_min=pool_min,
            pg_pool_max=pool_max,
            pg_pool_timeout=_float(env, "CHATSTORE_PG_POOL_TIMEOUT", 5.0, 0.1, 600),
            pg_pool_max_idle=_float(env, "CHATSTORE_PG_POOL_MAX_IDLE", 300.0, 1, 86400),
            pg_pool_max_lifetime=_float(env, "CHATSTORE_PG_POOL_MAX_LIFETIME", 3600.0, 1, 604800),
            pg_statement_timeout_ms=_int(
                env, "CHATSTORE_PG_STATEMENT_TIMEOUT_MS", 5000, 0, 3_600_000
            ),
            pg_prepare_threshold=prepare,
            bcrypt_rounds=_int(env, "BCRYPT_ROUNDS", 12, MIN_BCRYPT_ROUNDS, MAX_BCRYPT_ROUNDS),
            session_ttl_seconds=_int(
                env, "CHATSTORE_SESSION_TTL_SECONDS", 14 * 24 * 3600, 60, 365 * 24 * 3600
            ),
            presence_ttl_seconds=_float(env, "CHATSTORE_PRESENCE_TTL_SECONDS", 30.0, 0.1, 3600),
            presence_sweep_seconds=_float(env, "CHATSTORE_PRESENCE_SWEEP_SECONDS", 5.0, 0.05, 3600),
            typing_ttl_seconds=_float(env, "CHATSTORE_TYPING_TTL_SECONDS", 5.0, 0.1, 600),
        )
