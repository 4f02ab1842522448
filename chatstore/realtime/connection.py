"""Opening the Redis client, and turning redis-py exceptions into chatstore's.

TLS: a `rediss://` REDIS_URL verifies the server's certificate and host name (redis-py's
defaults). CHATSTORE_REDIS_TLS_CA names a private CA, CHATSTORE_REDIS_TLS_CERT and
CHATSTORE_REDIS_TLS_KEY a client certificate; each wins over the URL's `ssl_ca_certs`,
`ssl_certfile` or `ssl_keyfile`, and is refused beside a URL that is not `rediss://`, where
it would be ignored. CHATSTORE_REQUIRE_TLS refuses a `redis://` or `unix://` URL and the
query parameters that weaken verification (`ssl_cert_reqs=none` or `optional`,
`ssl_check_hostname=false`). A certificate that does not verify fails with
ConfigurationError, not Unavailable: retrying cannot help.
"""

from __future__ import annotations

import ssl
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, TypeVar

import redis.asyncio
from redis.asyncio.connection import SSLConnection, parse_url
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import (
    AuthenticationError,
    AuthenticationWrongNumberOfArgsError,
    RedisError,
    ResponseError,
)
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from chatstore.config import Settings
from chatstore.errors import ConfigurationError, Unavailable

# Module constants rather than settings: they bound how long a caller waits on a dead Redis,
# and the defaults suit loopback and LAN deployments alike.
CONNECT_TIMEOUT_SECONDS = 2.0
COMMAND_TIMEOUT_SECONDS = 2.0
# A few quick retries ride out a failover or restart without making callers wait for long.
RETRIES = 3
BACKOFF_BASE_SECONDS = 0.05
BACKOFF_CAP_SECONDS = 1.0
# PING an idle pooled connection before reusing it, so a silently dropped one is replaced.
HEALTH_CHECK_INTERVAL_SECONDS = 30

T = TypeVar("T")

_AUTH_MARKERS = ("WRONGPASS", "NOAUTH", "INVALID PASSWORD", "INVALID USERNAME")


def _is_auth_error(error: RedisError) -> bool:
    if isinstance(error, AuthenticationError | AuthenticationWrongNumberOfArgsError):
        return True
    return isinstance(error, ResponseError) and str(error).upper().startswith(_AUTH_MARKERS)


def _tls_failure(error: BaseException) -> ConfigurationError | None:
    """The TLS handshake's refusal inside `error`'s chain, as a ConfigurationError: a
    certificate that does not verify (either side's) or a server port that speaks no TLS."""
    cause: BaseException | None = error
    while cause is not None and not isinstance(cause, ssl.SSLError):
        cause = cause.__cause__ or cause.__context__
    if isinstance(cause, ssl.SSLCertVerificationError):
        mismatch = "mismatch" in str(cause.verify_message)
        setting = "REDIS_URL" if mismatch else "CHATSTORE_REDIS_TLS_CA"
        return ConfigurationError(setting, f"TLS: the server's certificate was refused: {cause}")
    reason = str(getattr(cause, "reason", None) or "")
    if "CERTIFICATE" in reason or "UNKNOWN_CA" in reason:
        return ConfigurationError(
            "CHATSTORE_REDIS_TLS_CERT", f"TLS: the server refused the client certificate: {cause}"
        )
    if reason == "WRONG_VERSION_NUMBER":
        return ConfigurationError("REDIS_URL", "TLS: the server's port does not speak TLS")
    return None


class _RetryExceptAuth(Retry):
    """Retry that gives up at once on refused credentials or a refused TLS handshake.

    redis-py's AuthenticationError subclasses ConnectionError, so a plain Retry would back off
    and reconnect on a wrong password as if Redis were merely down.
    """

    async def call_with_retry(
        self,
        do: Callable[[], Awaitable[T]],
        fail: Callable[[Exception], Any] | Callable[[Exception, int], Any],
        is_retryable: Callable[[Exception], bool] | None = None,
        with_failure_count: bool = False,
    ) -> T:
        def retryable(error: Exception) -> bool:
            if isinstance(error, AuthenticationError) or _tls_failure(error) is not None:
                return False
            return is_retryable is None or is_retryable(error)

        return await super().call_with_retry(do, fail, retryable, with_failure_count)


@contextmanager
def redis_errors() -> Iterator[None]:
    """Translate redis-py exceptions; no raw driver exception reaches a caller."""
    try:
        yield
    except RedisError as error:
        # Checked first: AuthenticationError subclasses ConnectionError, yet retrying is futile.
        if _is_auth_error(error):
            raise ConfigurationError("REDIS_URL", "Redis refused the credentials") from error
        tls_error = _tls_failure(error)
        if tls_error is not None:
            raise tls_error from error
        if isinstance(error, RedisConnectionError | RedisTimeoutError):
            raise Unavailable(f"Redis is unreachable: {error}") from error
        # Anything else (OOM, READONLY after a failover, ...) is a server-side state that
        # may clear; callers treat it like an outage.
        raise Unavailable(f"Redis failed: {error}") from error


_TLS_SETTINGS = {
    "ssl_ca_certs": "CHATSTORE_REDIS_TLS_CA",
    "ssl_certfile": "CHATSTORE_REDIS_TLS_CERT",
    "ssl_keyfile": "CHATSTORE_REDIS_TLS_KEY",
}


def tls_options(settings: Settings, url: Mapping[str, Any]) -> dict[str, Any]:
    """The TLS keyword arguments that go over `url` (redis-py's parse_url of REDIS_URL),
    after the checks the module docstring lists."""
    paths = {
        "ssl_ca_certs": settings.redis_tls_ca,
        "ssl_certfile": settings.redis_tls_cert,
        "ssl_keyfile": settings.redis_tls_key,
    }
    options: dict[str, Any] = {key: str(path) for key, path in paths.items() if path is not None}
    encrypted = url.get("connection_class") is SSLConnection
    if settings.require_tls and not encrypted:
        raise ConfigurationError(
            "REDIS_URL", "is not rediss:// (TLS); CHATSTORE_REQUIRE_TLS refuses plain text"
        )
    if options and not encrypted:
        raise ConfigurationError(
            _TLS_SETTINGS[next(iter(options))], "applies to a rediss:// REDIS_URL only"
        )
    cert_reqs = url.get("ssl_cert_reqs", "required")
    if cert_reqs != "required" and (settings.require_tls or "ssl_ca_certs" in options):
        why = (
            "CHATSTORE_REQUIRE_TLS refuses"
            if settings.require_tls
            else "contradicts CHATSTORE_REDIS_TLS_CA, a CA to verify against"
        )
        raise ConfigurationError(
            "REDIS_URL",
            f"ssl_cert_reqs={cert_reqs} stops requiring a valid certificate, which {why}",
        )
    if settings.require_tls:
        if url.get("ssl_check_hostname") is False:
            raise ConfigurationError(
                "REDIS_URL",
                "ssl_check_hostname=false accepts a certificate issued for any host, "
                "which CHATSTORE_REQUIRE_TLS refuses",
            )
        # Pinned rather than left to redis-py's defaults, which could change.
        options |= {"ssl_cert_reqs": "required", "ssl_check_hostname": True}
    return options


def _client(settings: Settings) -> redis.asyncio.Redis:
    try:
        url = dict(parse_url(settings.redis_url))
        # Built from the parsed URL rather than by from_url, whose URL query parameters win
        # over every keyword argument: here they still win over chatstore's own, and the TLS
        # settings win over them.
        pool = redis.asyncio.BlockingConnectionPool(
            **{
                # A blocking pool: past redis_pool_max connections a caller waits up to
                # redis_pool_timeout for one to come back, instead of failing at once
                # (redis-py's default pool raises "Too many connections" at its cap).
                "max_connections": settings.redis_pool_max,
                "timeout": settings.redis_pool_timeout,
                # Strings everywhere: every value chatstore stores is text (JSON or ISO dates).
                "decode_responses": True,
                "socket_connect_timeout": CONNECT_TIMEOUT_SECONDS,
                "socket_timeout": COMMAND_TIMEOUT_SECONDS,
                "retry": _RetryExceptAuth(
                    ExponentialBackoff(cap=BACKOFF_CAP_SECONDS, base=BACKOFF_BASE_SECONDS), RETRIES
                ),
                "retry_on_error": [RedisConnectionError, RedisTimeoutError],
                "health_check_interval": HEALTH_CHECK_INTERVAL_SECONDS,
                **url,
                **tls_options(settings, url),
            }
        )
    except ValueError:
        # The message could echo the URL and its password, so it is not passed on.
        raise ConfigurationError(
            "REDIS_URL", "is not a valid redis://, rediss:// or unix:// URL"
        ) from None
    # from_pool: closing the client closes the pool and its connections too.
    return redis.asyncio.Redis.from_pool(pool)


async def open_redis(settings: Settings) -> redis.asyncio.Redis:
    """A connected client: PINGs once so bad credentials fail now, not on first use.

    Raises ConfigurationError("REDIS_URL", ...) for a malformed URL or refused credentials
    and Unavailable when nothing answers. The caller owns the client (`await client.aclose()`).
    """
    client = _client(settings)
    try:
        with redis_errors():
            await client.ping()
    except BaseException:
        await client.aclose()
        raise
    return client
