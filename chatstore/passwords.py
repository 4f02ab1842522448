"""bcrypt password hashing, always run off the event loop.

A bcrypt hash takes about 60 ms at cost 10 and 234 ms at cost 12. Run inline it would stall
every other task for that long; bcrypt releases the GIL, so worker threads keep the loop
responsive and put every core to work.

Callers validate passwords first (at most 72 UTF-8 bytes, no NUL): bcrypt 5 refuses longer
input with ValueError instead of silently cutting it, and chatstore never truncates.
"""

from __future__ import annotations

import asyncio

import bcrypt

# Salt and digest of a real bcrypt hash (of a random secret nobody kept). With the configured
# cost put in front it checks exactly as slowly as a user's hash and never matches, so a login
# for an unknown user costs what a wrong password costs.
_DUMMY_SALT_AND_DIGEST = "Mse5gwDfWR.JHhcwFFuGBu28qaPcM37HheyXIj7NthwPmaBbRFK6i"


async def hash_password(password: str, rounds: int) -> str:
    """A new bcrypt hash ($2b$) of the password at this cost, computed in a worker thread."""
    return await asyncio.to_thread(_hash, password, rounds)


async def verify_password(password: str, password_hash: str) -> bool:
    """Whether the password matches the hash, checked in a worker thread."""
    return await asyncio.to_thread(_check, password, password_hash)


async def spend_a_verification(password: str, rounds: int) -> None:
    """Spend what verify_password would on a hash of this cost; used when there is no user."""
    await verify_password(password, dummy_hash(rounds))


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
    """True when the hash is cheaper than the configured cost (never downgrades a hash)."""
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
