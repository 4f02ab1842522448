"""bcrypt password hashing, always run off the event loop.

A bcrypt hash takes about 60 ms at cost 10 and 234 ms at cost 12. Run inline it would stall
every other task for that long; bcrypt releases the GIL, so worker threads keep the loop
responsive and put every core to work.

Callers validate passwords first (at most 72 UTF-8 bytes, no NUL): bcrypt 5 refuses longer
input with ValueError instead of silently cutting it, and chatstore never truncates.

A failed login must not tell an unknown login from a wrong password, and the stored hash's
cost would (a cost-12 check takes 4x a cost-10 one). So every failed check_login does the
work of one check at the same cost, the costliest in use (FailureCost): an unknown login
checks a dummy hash of that cost, and a wrong password on a cheaper hash is topped up with
checks of dummy hashes (Django's harden_runtime). Real bcrypt work, never a sleep: machine
load then slows both failures alike, and a sleep would show as idle CPU.
"""

from __future__ import annotations

import asyncio
import time

import bcrypt

from chatstore.config import MAX_BCRYPT_ROUNDS

# Salt and digest of a real bcrypt hash (of a random secret nobody kept). With any cost put
# in front it checks exactly as slowly as a user's hash of that cost and never matches.
_DUMMY_SALT_AND_DIGEST = "Mse5gwDfWR.JHhcwFFuGBu28qaPcM37HheyXIj7NthwPmaBbRFK6i"
# bcrypt's lowest cost: a stored cost below it (no valid hash has one) is topped up whole.
_MIN_COST = 4
# How long FailureCost trusts the highest stored cost it read. Read again more often costs
# one index probe; a staler value only matters while another process writes costlier hashes
# than this one has seen (a rolling deploy raising BCRYPT_ROUNDS).
FAILURE_COST_TTL_SECONDS = 10.0


async def hash_password(password: str, rounds: int) -> str:
    """A new bcrypt hash ($2b$) of the password at this cost, computed in a worker thread."""
    return await asyncio.to_thread(_hash, password, rounds)


async def verify_password(password: str, password_hash: str) -> bool:
    """Whether the password matches the hash, checked in a worker thread."""
    return await asyncio.to_thread(_check, password, password_hash)


async def check_login(password: str, password_hash: str | None, failure_cost: int) -> bool:
    """Whether the password matches password_hash (None: there is no such user).

    Every False costs the bcrypt work of one check at `failure_cost`, whatever the stored
    hash's cost, as long as that is at most `failure_cost` (FailureCost sees to it): a cost-c
    check is 2^c rounds, and a failed check at cost s < t is followed by dummy checks at
    s, s+1, ..., t-1, adding up to 2^s + (2^t - 2^s) = 2^t. All in one worker thread, so both
    failures also pay the same thread hand-offs. A match returns without extra work.
    """
    return await asyncio.to_thread(_check_login, password, password_hash, failure_cost)


class FailureCost:
    """The bcrypt cost every failed login pays: the costliest hash in use, which is the
    configured cost or the highest cost among the stored hashes, whichever is higher.

    The configured cost alone is not enough: hashes made under an earlier, higher
    BCRYPT_ROUNDS stay (a login never re-hashes down, see needs_rehash), and a wrong password
    on one of them would take longer than an unknown login. The highest stored cost is read
    by the caller (one index probe, users.max_password_cost) when `stale`, and trusted for
    FAILURE_COST_TTL_SECONDS; a costlier hash seen in between (`saw`) raises it at once.
    Capped at MAX_BCRYPT_ROUNDS: chatstore never writes a costlier hash, and one put in by
    hand must not make every failed login take seconds (its own account stays tellable).
    One per UserRepository (per store, so per process); asyncio runs it on one thread, so
    it needs no lock.
    """

    def __init__(self, configured: int) -> None:
        self._configured = configured
        self._cost = configured
        self._read_at: float | None = None

    @property
    def cost(self) -> int:
        return self._cost

    def stale(self) -> bool:
        """True when the highest stored cost should be read again (and before the first)."""
        return self._read_at is None or time.monotonic() - self._read_at >= FAILURE_COST_TTL_SECONDS

    def refresh(self, highest_stored: int | None) -> None:
        """Take the highest stored cost just read (None: no users). It replaces the cached
        one, so a costlier hash that went away stops costing every failed login."""
        self._cost = min(max(self._configured, highest_stored or 0), MAX_BCRYPT_ROUNDS)
        self._read_at = time.monotonic()

    def saw(self, password_hash: str) -> None:
        """A stored hash met on the way (a login's row): raise the cost now if it is costlier,
        before the failure that checks it, rather than at the next read."""
        self._cost = max(self._cost, min(hash_cost(password_hash), MAX_BCRYPT_ROUNDS))


def dummy_hash(rounds: int) -> str:
    """A well-formed hash of the given cost that no password matches."""
    return f"$2b${rounds:02d}${_DUMMY_SALT_AND_DIGEST}"


def hash_cost(password_hash: str) -> int:
    """The cost recorded in a bcrypt hash (`$2b$12$...` -> 12); 0 when it is not one."""
    parts = password_hash.split("$")
    if len(parts) != 4 or not parts[2].isdigit():
        return 0
    return int(parts[2])


def needs_rehash(password_hash: str, rounds: int) -> bool:
    """True when the hash is cheaper than the configured cost.

    Never true for a costlier hash: re-hashing down would weaken a stored hash against
    offline cracking, and while a deploy raising BCRYPT_ROUNDS rolls out, processes on the
    old and the new setting would re-hash the same accounts back and forth at every login.
    The price: after BCRYPT_ROUNDS is lowered, failed logins keep the cost of the costliest
    hash still stored (FailureCost), since anything cheaper would tell those accounts apart.
    """
    return hash_cost(password_hash) < rounds


def _hash(password: str, rounds: int) -> str:
    return bcrypt.hashpw(password.encode("utf-8"), bcrypt.gensalt(rounds)).decode("ascii")


def _check(password: str, password_hash: str) -> bool:
    try:
        return bcrypt.checkpw(password.encode("utf-8"), password_hash.encode("ascii"))
    except ValueError:
        # An over-long password or a malformed stored hash: neither can be a match, and the
        # caller must see a failed check rather than a raw bcrypt error.
        return False


def _check_login(password: str, password_hash: str | None, failure_cost: int) -> bool:
    if password_hash is None:
        _check(password, dummy_hash(failure_cost))
        return False
    if _check(password, password_hash):
        return True
    for cost in _top_up_costs(hash_cost(password_hash), failure_cost):
        _check(password, dummy_hash(cost))
    return False


def _top_up_costs(spent: int, target: int) -> list[int]:
    """The costs of the dummy checks that bring a failed check at cost `spent` up to the
    work of one at `target`: 2^spent + 2^spent + 2^(spent+1) + ... + 2^(target-1) = 2^target.
    Only target - spent of them (two for 10 up to 12), each of cost 10 or more for any hash
    the database accepts, so a check's fixed overhead (well under a millisecond) does not
    add up; a cost below bcrypt's minimum spent nearly nothing, so one full check instead."""
    if spent >= target:
        return []
    if spent < _MIN_COST:
        return [target]
    return list(range(spent, target))
