"""Settings, read from environment variables only.

The library never reads a `.env` file: an application passes `Settings` or sets the environment.
The `chatstore` command and `just` read `.env` from the current directory, as dbmate does.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from chatstore.errors import ConfigurationError

MIN_BCRYPT_ROUNDS = 10  # below this a stolen hash is too cheap to brute-force
MAX_BCRYPT_ROUNDS = 16  # above this one login takes seconds on a server core

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
        raise ConfigurationError(name, f"must be {kind}, got {raw!r}") from None
    if not low <= value <= high:
        raise ConfigurationError(name, f"must be between {low} and {high}, got {value}")
    return value


def _int(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    return _number(env, name, default, low, high, int)


def _float(env: Mapping[str, str], name: str, default: float, low: float, high: float) -> float:
    return _number(env, name, default, low, high, float)


def _required(env: Mapping[str, str], name: str) -> str:
    value = env.get(name, "").strip()
    if not value:
        raise ConfigurationError(name, "must be set (see .env.example)")
    return value


def _flag(env: Mapping[str, str], name: str) -> bool:
    raw = env.get(name, "").strip().lower()
    if raw in {"", "0", "false", "no", "off"}:
        return False
    if raw in {"1", "true", "yes", "on"}:
        return True
    raise ConfigurationError(name, f"must be true or false, got {raw!r}")


def _file(env: Mapping[str, str], name: str) -> Path | None:
    raw = env.get(name, "").strip()
    if not raw:
        return None
    path = Path(raw).expanduser()
    if not path.is_file():
        raise ConfigurationError(name, f"{path} is not a file")
    return path


def _cert_and_key(
    env: Mapping[str, str], cert_name: str, key_name: str
) -> tuple[Path | None, Path | None]:
    cert, key = _file(env, cert_name), _file(env, key_name)
    # A certificate alone is fine (its file may hold the key too); a key alone is a mistake.
    if key is not None and cert is None:
        raise ConfigurationError(key_name, f"is set without {cert_name}")
    return cert, key


# libpq's sslmode values, weakest first; only the last two check the server's certificate.
PG_SSLMODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
# libpq's own spelling for "the operating system's trusted roots" (libpq 16 and later).
SYSTEM_ROOTS = "system"


@dataclass(frozen=True, slots=True)
class PgTls:
    """PostgreSQL's TLS settings: each one set wins over the same parameter in DATABASE_URL;
    None leaves the URL's, else libpq's own (PGSSLMODE, ~/.postgresql/root.crt). Apart from
    Settings so `chatstore migrate`, which needs no REDIS_URL, reads them too."""

    sslmode: str | None = None
    rootcert: Path | None = None  # Path("system"): the operating system's trusted roots
    cert: Path | None = None
    key: Path | None = None
    require: bool = False  # CHATSTORE_REQUIRE_TLS: nothing less than verify-full

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> PgTls:
        env = os.environ if env is None else env
        sslmode = env.get("CHATSTORE_PG_SSLMODE", "").strip().lower() or None
        if sslmode is not None and sslmode not in PG_SSLMODES:
            raise ConfigurationError(
                "CHATSTORE_PG_SSLMODE", f"must be one of {', '.join(PG_SSLMODES)}, got {sslmode!r}"
            )
        system = env.get("CHATSTORE_PG_SSLROOTCERT", "").strip() == SYSTEM_ROOTS
        rootcert = Path(SYSTEM_ROOTS) if system else _file(env, "CHATSTORE_PG_SSLROOTCERT")
        cert, key = _cert_and_key(env, "CHATSTORE_PG_SSLCERT", "CHATSTORE_PG_SSLKEY")
        return cls(sslmode, rootcert, cert, key, _flag(env, "CHATSTORE_REQUIRE_TLS"))


def _paths(env: Mapping[str, str], name: str) -> tuple[Path, ...]:
    """Folders separated by the platform's path separator, as in PATH."""
    raw = env.get(name, "").strip()
    folders = tuple(Path(part).expanduser() for part in raw.split(os.pathsep) if part.strip())
    for folder in folders:
        if not folder.is_dir():
            raise ConfigurationError(name, f"{folder} is not a folder")
    return folders


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything chatstore can be configured with. `from_env()` documents the variable names."""

    database_url: str
    # Required, like database_url: a default would quietly connect to whatever Redis
    # listens on localhost:6379, which may belong to something else.
    redis_url: str
    pg_pool_min: int = 2
    pg_pool_max: int = 20
    pg_pool_timeout: float = 5.0
    pg_pool_max_idle: float = 300.0
    pg_pool_max_lifetime: float = 3600.0
    pg_statement_timeout_ms: int = 5000
    # The client-side bound on one call's work on its connection (a whole transaction()
    # block counts as one call); waiting for a free connection is bounded apart, by
    # pg_pool_timeout. A little above the server's statement timeout, so a slow statement is
    # still cancelled cleanly by the server (its connection kept) and only a silent server or
    # network reaches this bound, which fails the call with Unavailable and drops the
    # connection: psycopg alone would wait on it until TCP gives up, minutes later.
    pg_call_timeout_seconds: float = 6.0
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
    # Redis connections per process. Callers beyond this wait (up to redis_pool_timeout)
    # for a free one instead of failing at once.
    redis_pool_max: int = 50
    redis_pool_timeout: float = 5.0
    # Redis work a committed write still waits for (ending sessions) may take at most this
    # long; past it, or on a Redis error, the Redis half of writes is skipped for
    # redis_breaker_seconds. Publishes go through the outbox, off the caller's path.
    redis_write_budget_seconds: float = 0.1
    redis_breaker_seconds: float = 1.0
    # Delivery (chatstore.realtime.feed): how long an entry that arrived early waits for the
    # one before it before the gap is filled from the log, and how often each process checks
    # its rooms' log heads, which bounds how late a change whose publish was lost arrives.
    stream_gap_wait_seconds: float = 0.05
    stream_poll_seconds: float = 1.0
    # Change-log entries older than this are pruned; a client whose cursor is older gets a
    # stream.reset for the room (reload it) instead of a silent loss.
    log_retention_hours: float = 30 * 24.0
    # The application's own folders of aiosql query files, reached as
    # `store.queries.<file stem>.<query>` beside chatstore's own.
    sql_paths: tuple[Path, ...] = ()
    # TLS: see PgTls for PostgreSQL's (the same, by field). Redis's CA and client certificate
    # for a rediss:// redis_url win over its ssl_ca_certs, ssl_certfile and ssl_keyfile;
    # without a CA the system's trusted roots verify the server. require_tls refuses anything
    # less than verified TLS to either server, at ChatStore.open (and `chatstore check`).
    pg_sslmode: str | None = None
    pg_sslrootcert: Path | None = None
    pg_sslcert: Path | None = None
    pg_sslkey: Path | None = None
    redis_tls_ca: Path | None = None
    redis_tls_cert: Path | None = None
    redis_tls_key: Path | None = None
    require_tls: bool = False

    def __post_init__(self) -> None:
        # Settings built in code get the same floors as the environment's.
        if not MIN_BCRYPT_ROUNDS <= self.bcrypt_rounds <= MAX_BCRYPT_ROUNDS:
            raise ConfigurationError(
                "bcrypt_rounds",
                f"must be between {MIN_BCRYPT_ROUNDS} and {MAX_BCRYPT_ROUNDS}, "
                f"got {self.bcrypt_rounds}",
            )
        for name in ("database_url", "redis_url"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value.strip():
                raise ConfigurationError(name, "must be set to a non-empty URL")
        if self.redis_pool_max < 1:
            raise ConfigurationError("redis_pool_max", "must be at least 1")
        if self.pg_pool_max < max(1, self.pg_pool_min):
            raise ConfigurationError("pg_pool_max", "must be at least 1 and at least pg_pool_min")
        # Not `<= 0`: NaN must fail too; a zero or negative bound would fail every call.
        if not self.pg_call_timeout_seconds > 0:
            raise ConfigurationError("pg_call_timeout_seconds", "must be more than 0")
        self._check_tls()

    def _check_tls(self) -> None:
        if self.pg_sslmode is not None and self.pg_sslmode not in PG_SSLMODES:
            raise ConfigurationError("pg_sslmode", f"must be one of {', '.join(PG_SSLMODES)}")
        for name in ("pg_sslcert", "pg_sslkey", "redis_tls_ca", "redis_tls_cert", "redis_tls_key"):
            path = getattr(self, name)
            if path is not None and not Path(path).is_file():
                raise ConfigurationError(name, f"{path} is not a file")
        root = self.pg_sslrootcert
        if root is not None and str(root) != SYSTEM_ROOTS and not Path(root).is_file():
            raise ConfigurationError("pg_sslrootcert", f"{root} is not a file")
        for cert, key in (("pg_sslcert", "pg_sslkey"), ("redis_tls_cert", "redis_tls_key")):
            if getattr(self, key) is not None and getattr(self, cert) is None:
                raise ConfigurationError(key, f"is set without {cert}")

    @property
    def pg_tls(self) -> PgTls:
        return PgTls(
            self.pg_sslmode, self.pg_sslrootcert, self.pg_sslcert, self.pg_sslkey, self.require_tls
        )

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        database_url = _required(env, "DATABASE_URL")
        redis_url = _required(env, "REDIS_URL")
        pool_min = _int(env, "CHATSTORE_PG_POOL_MIN", 2, 0, 1000)
        pool_max = _int(env, "CHATSTORE_PG_POOL_MAX", 20, 1, 1000)
        if pool_max < pool_min:
            raise ConfigurationError(
                "CHATSTORE_PG_POOL_MAX", f"must be at least CHATSTORE_PG_POOL_MIN ({pool_min})"
            )
        pg_tls = PgTls.from_env(env)
        redis_cert, redis_key = _cert_and_key(
            env, "CHATSTORE_REDIS_TLS_CERT", "CHATSTORE_REDIS_TLS_KEY"
        )
        prepare_raw = env.get("CHATSTORE_PG_PREPARE_THRESHOLD", "").strip().lower()
        prepare: int | None = (
            None
            if prepare_raw in {"none", "off", "disabled"}
            else _int(env, "CHATSTORE_PG_PREPARE_THRESHOLD", 5, 0, 1_000_000)
        )
        return cls(
            database_url=database_url,
            redis_url=redis_url,
            pg_pool_min=pool_min,
            pg_pool_max=pool_max,
            pg_pool_timeout=_float(env, "CHATSTORE_PG_POOL_TIMEOUT", 5.0, 0.1, 600),
            pg_pool_max_idle=_float(env, "CHATSTORE_PG_POOL_MAX_IDLE", 300.0, 1, 86400),
            pg_pool_max_lifetime=_float(env, "CHATSTORE_PG_POOL_MAX_LIFETIME", 3600.0, 1, 604800),
            pg_statement_timeout_ms=_int(
                env, "CHATSTORE_PG_STATEMENT_TIMEOUT_MS", 5000, 0, 3_600_000
            ),
            pg_call_timeout_seconds=_float(
                env, "CHATSTORE_PG_CALL_TIMEOUT_SECONDS", 6.0, 0.1, 3600
            ),
            pg_prepare_threshold=prepare,
            bcrypt_rounds=_int(env, "BCRYPT_ROUNDS", 12, MIN_BCRYPT_ROUNDS, MAX_BCRYPT_ROUNDS),
            session_ttl_seconds=_int(
                env, "CHATSTORE_SESSION_TTL_SECONDS", 14 * 24 * 3600, 60, 365 * 24 * 3600
            ),
            presence_ttl_seconds=_float(env, "CHATSTORE_PRESENCE_TTL_SECONDS", 30.0, 0.1, 3600),
            presence_sweep_seconds=_float(env, "CHATSTORE_PRESENCE_SWEEP_SECONDS", 5.0, 0.05, 3600),
            typing_ttl_seconds=_float(env, "CHATSTORE_TYPING_TTL_SECONDS", 5.0, 0.1, 600),
            redis_pool_max=_int(env, "CHATSTORE_REDIS_POOL_MAX", 50, 1, 10_000),
            redis_pool_timeout=_float(env, "CHATSTORE_REDIS_POOL_TIMEOUT", 5.0, 0.1, 600),
            redis_write_budget_seconds=_float(
                env, "CHATSTORE_REDIS_WRITE_BUDGET_SECONDS", 0.1, 0.001, 60
            ),
            redis_breaker_seconds=_float(env, "CHATSTORE_REDIS_BREAKER_SECONDS", 1.0, 0.01, 600),
            sql_paths=_paths(env, "CHATSTORE_SQL_PATH"),
            stream_gap_wait_seconds=_float(env, "CHATSTORE_STREAM_GAP_WAIT_SECONDS", 0.05, 0, 10),
            stream_poll_seconds=_float(env, "CHATSTORE_STREAM_POLL_SECONDS", 1.0, 0.05, 60),
            log_retention_hours=_float(
                env, "CHATSTORE_LOG_RETENTION_HOURS", 30 * 24.0, 0.01, 10 * 365 * 24.0
            ),
            pg_sslmode=pg_tls.sslmode,
            pg_sslrootcert=pg_tls.rootcert,
            pg_sslcert=pg_tls.cert,
            pg_sslkey=pg_tls.key,
            redis_tls_ca=_file(env, "CHATSTORE_REDIS_TLS_CA"),
            redis_tls_cert=redis_cert,
            redis_tls_key=redis_key,
            require_tls=pg_tls.require,
        )
