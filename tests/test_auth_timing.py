"""authenticate() has no timing oracle: an unknown login and a wrong password cost the same,
whatever the cost of the stored hash (real bcrypt, real database).

The stored hash is written directly, as an older BCRYPT_ROUNDS (or another process) would
have left it: chatstore itself only ever writes hashes at the configured cost.
"""

from __future__ import annotations

import dataclasses
import time
import uuid
from collections.abc import AsyncIterator

import bcrypt
import pytest

from chatstore import ChatStore, passwords
from chatstore.errors import AuthenticationFailed
from chatstore.passwords import hash_cost

PASSWORD = "correct horse battery"
WRONG = "not her password"
UNKNOWN = "mallory"
# Interleaved attempts per path in a round of the wall-clock tests, and rounds at most: few
# enough to stay a behaviour test (about 0.3 s per attempt at cost 12 here).
ATTEMPTS = 4
ROUNDS = 3


async def make_alice(store: ChatStore, stored_cost: int) -> uuid.UUID:
    """Alice, whose stored hash has `stored_cost` whatever the store's configured cost."""
    alice = await store.users.create(email="alice@example.com", username="alice", password=PASSWORD)
    await store_hash(store, alice.id, stored_cost)
    return alice.id


async def store_hash(store: ChatStore, user_id: uuid.UUID, cost: int) -> None:
    """Replace the user's hash with one of PASSWORD at `cost`, behind the store's back."""
    new_hash = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(cost)).decode()
    queries = store.db.queries.users
    async with store.db.connection() as conn:
        row = await queries.get_password_hash(conn, user_id=user_id)
        replaced = await queries.replace_password_hash(
            conn, user_id=user_id, old_hash=row["password_hash"], password_hash=new_hash
        )
    assert replaced == 1


async def failed_login_seconds(store: ChatStore, login: str) -> float:
    start = time.perf_counter()
    with pytest.raises(AuthenticationFailed):
        await store.users.authenticate(login, WRONG)
    return time.perf_counter() - start


async def wrong_to_unknown_ratio(store: ChatStore) -> float:
    """How long a wrong password for alice takes over how long an unknown login takes, each
    the fastest of ATTEMPTS interleaved tries: other work on the machine only ever adds
    time, so the fastest try is the closest to the cost of the path itself."""
    # One of each first, untimed: the first login of a store opens connections.
    await failed_login_seconds(store, "alice")
    await failed_login_seconds(store, UNKNOWN)
    wrong: list[float] = []
    unknown: list[float] = []
    for attempt in range(ATTEMPTS):
        # Alternate which path goes first, so a drift in machine load hits both alike.
        order = ["alice", UNKNOWN] if attempt % 2 == 0 else [UNKNOWN, "alice"]
        for login in order:
            (wrong if login == "alice" else unknown).append(
                await failed_login_seconds(store, login)
            )
    return min(wrong) / min(unknown)


async def assert_same_time(store: ChatStore) -> None:
    """The ratio within 0.75-1.33 in one of a few rounds: a busy shared machine can spoil a
    round, while a real difference (4x and 0.5x before the fix) spoils every one."""
    ratios = []
    for _ in range(ROUNDS):
        ratios.append(await wrong_to_unknown_ratio(store))
        if 0.75 <= ratios[-1] <= 1.33:
            return
    pytest.fail(f"a wrong password takes {', '.join(f'{r:.2f}' for r in ratios)}x an unknown login")


@pytest.fixture
async def store_at_11(store: ChatStore) -> AsyncIterator[ChatStore]:
    """A second store on the same database, configured with bcrypt cost 11."""
    async with ChatStore.open(dataclasses.replace(store.settings, bcrypt_rounds=11)) as opened:
        yield opened


class BcryptWork:
    """The bcrypt work done by each check, in units of one round (2^cost per check)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.costs: list[int] = []
        real_checkpw = bcrypt.checkpw

        def recording_checkpw(password: bytes, hashed_password: bytes) -> bool:
            self.costs.append(hash_cost(hashed_password.decode()))
            return real_checkpw(password, hashed_password)

        monkeypatch.setattr(bcrypt, "checkpw", recording_checkpw)

    async def of_failed_login(self, store: ChatStore, login: str) -> int:
        self.costs.clear()
        with pytest.raises(AuthenticationFailed):
            await store.users.authenticate(login, WRONG)
        return sum(2**cost for cost in self.costs)


# --- wall clock ----------------------------------------------------------------------------


async def test_a_costlier_stored_hash_does_not_reveal_the_account(store: ChatStore) -> None:
    assert store.settings.bcrypt_rounds == 10
    await make_alice(store, stored_cost=12)  # 4x the work of the configured cost

    await assert_same_time(store)


async def test_a_cheaper_stored_hash_does_not_reveal_the_account(store_at_11: ChatStore) -> None:
    await make_alice(store_at_11, stored_cost=10)  # half the work of the configured cost

    await assert_same_time(store_at_11)


# --- the work done, counted exactly ----------------------------------------------------------


@pytest.mark.parametrize(
    ("configured", "stored", "expected"),
    [(10, 10, 10), (10, 12, 12), (11, 10, 11)],
)
async def test_every_failed_login_does_the_work_of_the_costliest_hash(
    store: ChatStore,
    monkeypatch: pytest.MonkeyPatch,
    configured: int,
    stored: int,
    expected: int,
) -> None:
    settings = dataclasses.replace(store.settings, bcrypt_rounds=configured)
    async with ChatStore.open(settings) as configured_store:
        await make_alice(configured_store, stored_cost=stored)
        work = BcryptWork(monkeypatch)

        assert await work.of_failed_login(configured_store, "alice") == 2**expected
        assert await work.of_failed_login(configured_store, UNKNOWN) == 2**expected


async def test_a_costlier_hash_seen_at_login_raises_the_cost_at_once(
    store: ChatStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    alice = await make_alice(store, stored_cost=10)
    work = BcryptWork(monkeypatch)
    assert await work.of_failed_login(store, UNKNOWN) == 2**10  # the highest cost is cached

    # Another process (configured with cost 12) re-hashes alice's password.
    await store_hash(store, alice, 12)

    assert await work.of_failed_login(store, "alice") == 2**12
    # Within the cache's lifetime, yet an unknown login now costs what alice's hash does.
    assert await work.of_failed_login(store, UNKNOWN) == 2**12


async def test_the_highest_stored_cost_is_read_again_after_a_while(
    store: ChatStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    alice = await make_alice(store, stored_cost=12)
    work = BcryptWork(monkeypatch)
    assert await work.of_failed_login(store, UNKNOWN) == 2**12

    # The costliest hash goes away (another process deletes alice): once the cached highest
    # cost is stale, failed logins cost the configured cost again.
    await store.users.delete(alice)
    monkeypatch.setattr(passwords, "FAILURE_COST_TTL_SECONDS", 0.0)

    assert await work.of_failed_login(store, UNKNOWN) == 2**10


async def test_a_successful_login_keeps_a_costlier_hash(store: ChatStore) -> None:
    alice = await make_alice(store, stored_cost=11)

    assert (await store.users.authenticate("alice", PASSWORD)).id == alice

    async with store.db.connection() as conn:
        row = await store.db.queries.users.get_password_hash(conn, user_id=alice)
    assert hash_cost(row["password_hash"]) == 11
