"""Opening the Redis client, and turning redis-py exceptions into chatstore's.

TLS: a `rediss://` REDIS_URL verifies the server certificate by default (redis-py's
`ssl_cert_reqs="required"`); add `?ssl_ca_certs=/path/ca.pem` to the URL for a private CA.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import redis.asyncio
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


class _RetryExceptAuth(Retry):
    """Retry that gives up at once on refused credentials.

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
            if isinstance(error, AuthenticationError):
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
        if isinstance(error, RedisConnectionError | RedisTimeoutError):
            raise Unavailable(f"Redis is unreachable: {error}") from error
        # Anything else (OOM, READONLY after a failover, ...) is a server-side state that
        # may clear; callers treat it like an outage.
        raise Unavailable(f"Redis failed: {error}") from error


def _client(settings: Settings) -> redis.asyncio.Redis:
    try:
        # A blocking pool: past redis_pool_max connections a caller waits up to
        # redis_pool_timeout for one to come back, instead of failing at once (redis-py's
        # default pool raises "Too many connections" the moment its cap is reached).
        pool = redis.asyncio.BlockingConnectionPool.from_url(
            settings.redis_url,
            max_connections=settings.redis_pool_max,
            timeout=settings.redis_pool_timeout,
            # Strings everywhere: every value chatstore stores is text (JSON or ISO dates).
            decode_responses=True,
            socket_connect_timeout=CONNECT_TIMEOUT_SECONDS,
            socket_timeout=COMMAND_TIMEOUT_SECONDS,
            retry=_RetryExceptAuth(
                ExponentialBackoff(cap=BACKOFF_CAP_SECONDS, base=BACKOFF_BASE_SECONDS), RETRIES
            ),
            retry_on_error=[RedisConnectionError, RedisTimeoutError],
            health_check_interval=HEALTH_CHECK_INTERVAL_SECONDS,
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
