"""Noticing that the event hub's Redis subscriber connection went silently dead.

A black-holed connection (packets dropped, no FIN or RST: a pulled cable, a rebooted NAT or
load balancer, a partitioned host) never raises. A subscriber only reads, so it sits on the
dead socket until TCP gives up: redis-py's keepalive (30 s idle, then 3 probes 5 s apart)
notices only a fully idle socket with nothing in between it and Redis that answers probes
itself (a proxy does), and unacknowledged data takes the kernel ~15 minutes of retransmits.

So the hub checks its own connection, on that connection: after `interval` seconds in which
nothing arrived it sends PING (in RESP2 pub/sub mode Redis answers with a `pong` message, in
order with the events), and if still nothing at all has arrived `timeout` seconds after the
PING went out, the connection is declared dead. The hub then drops it, reconnects with
backoff, re-subscribes every channel and tells every listener to resync
(chatstore.realtime.pubsub). A dead subscriber connection is thus noticed within
`interval + timeout` seconds: HEALTH_CHECK_BOUND_SECONDS (5 s) at the defaults.

Any message counts as a sign of life, not only the `pong`: it proves Redis and the path back
are alive, and a busy connection then costs no PINGs at all.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from redis.asyncio.connection import AbstractConnection

# Silence before the hub asks. One tiny command per process every 2 s of silence is
# nothing for Redis, and it keeps the bound short.
HEALTH_CHECK_INTERVAL_SECONDS = 2.0
# How long a PING may go unanswered. Far above any healthy round trip (well under 1 ms on
# loopback, ~100 ms across regions), so only a dead path or a Redis stuck for seconds (a
# huge command, a slow fork on a full machine) trips it; a false alarm costs one reconnect
# and one catch-up per listener, so a hair trigger would not pay.
HEALTH_CHECK_TIMEOUT_SECONDS = 3.0
HEALTH_CHECK_BOUND_SECONDS = HEALTH_CHECK_INTERVAL_SECONDS + HEALTH_CHECK_TIMEOUT_SECONDS
# Not redis-py's own health-check message: redis-py swallows the reply to that one, and the
# hub must see its pong arrive.
PING_MESSAGE = "chatstore-hub-health"


class ConnectionSilent(Exception):
    """The subscriber connection did not answer a PING in time: treat it as dead."""


class Liveness:
    """When the reader must PING its connection, and when silence means the connection is dead.

    Used by the hub's reader task only: `heard()` after every read that returned something,
    `await check(conn)` before each read, and a read timeout of at most `wait()` so the
    reader is back for the next check on time.
    """

    def __init__(
        self,
        interval: float = HEALTH_CHECK_INTERVAL_SECONDS,
        timeout: float = HEALTH_CHECK_TIMEOUT_SECONDS,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not (interval > 0 and timeout > 0):
            raise ValueError("health check interval and timeout must be more than 0")
        self.interval = interval
        self.timeout = timeout
        self._clock = clock
        self._heard = clock()
        self._pinged: float | None = None  # when the unanswered PING went out
        self.pings = 0  # PINGs sent, for tests and the closing report
        self.silent = 0  # connections declared dead

    @property
    def bound(self) -> float:
        """Seconds within which a dead connection is noticed."""
        return self.interval + self.timeout

    def heard(self) -> None:
        """Something arrived (or a fresh connection was made): the connection is alive."""
        self._heard = self._clock()
        self._pinged = None

    def wait(self, longest: float) -> float:
        """How long the next read may wait (at most `longest`) before the next check is due."""
        pinged = self._pinged
        due = self._heard + self.interval if pinged is None else pinged + self.timeout
        return max(0.0, min(longest, due - self._clock()))

    async def check(self, conn: AbstractConnection) -> None:
        """PING after `interval` of silence; raise ConnectionSilent once a PING has gone
        unanswered for `timeout`. A connection being (re)made is left alone: redis-py bounds
        the connect and its handshake itself."""
        if not conn.is_connected:
            return
        now = self._clock()
        if self._pinged is not None:
            if now - self._pinged >= self.timeout:
                self.silent += 1
                raise ConnectionSilent(f"no reply to PING within {self.timeout:g} s")
            return
        if now - self._heard < self.interval:
            return
        self._pinged = now
        self.pings += 1
        try:
            # Bounded apart: with the socket's send buffer full (a dead path under load) the
            # send itself would wait; that is as dead as a missing pong. check_health=False:
            # redis-py's own check would read a reply here, and replies belong to the reader.
            async with asyncio.timeout(self.timeout):
                await conn.send_command("PING", PING_MESSAGE, check_health=False)
        except TimeoutError:
            self.silent += 1
            raise ConnectionSilent(f"PING not even sent within {self.timeout:g} s") from None
