"""Presence of many users in one call (store.presence.snapshot): online or not, how many
devices, and when each was last seen (the latest heartbeat while Redis holds it, else
users.last_seen_at from PostgreSQL), in one pipelined Redis round trip plus at most one
PostgreSQL query, for at most 1,000 users.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis.asyncio
from redis.asyncio.client import Pipeline

from chatstore import ChatStore, PresenceSnapshot, ValidationError
from chatstore.realtime.presence import Presence
from tests.servers import RedisServer, flushed_redis
from tests.test_change_log import make_users
from tests.test_presence_typing import Clock, Recorder
from tests.test_room_list import queries_sent

DB = 10  # away from the Redis databases other test modules use
TTL = 30.0


@pytest.fixture
async def client(redis_server: RedisServer) -> AsyncIterator[redis.asyncio.Redis]:
    async with flushed_redis(redis_server.url(DB)) as opened:
        yield opened


@contextmanager
def redis_round_trips(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Each round trip to Redis: a pipeline's execute, or a single command."""
    seen: list[str] = []
    execute_pipeline: Any = Pipeline.execute
    execute_command: Any = redis.asyncio.Redis.execute_command

    async def pipeline(self: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append(f"pipeline of {len(self.command_stack)}")
        return await execute_pipeline(self, *args, **kwargs)

    async def command(self: Any, *args: Any, **kwargs: Any) -> Any:
        if not isinstance(self, Pipeline):
            seen.append(str(args[0]))
        return await execute_command(self, *args, **kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(Pipeline, "execute", pipeline)
        patch.setattr(redis.asyncio.Redis, "execute_command", command)
        yield seen


class Recorded:
    """Stands in for PostgreSQL's last_seen_at lookup: answers from a dict, counts calls."""

    def __init__(self, known: Mapping[uuid.UUID, datetime | None]) -> None:
        self.known = dict(known)
        self.asked: list[list[uuid.UUID]] = []

    async def __call__(self, user_ids: list[uuid.UUID]) -> dict[uuid.UUID, datetime | None]:
        self.asked.append(list(user_ids))
        return {user: self.known[user] for user in user_ids if user in self.known}


def at(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, UTC)


async def test_online_devices_and_last_seen_from_redis_then_postgres(
    client: redis.asyncio.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock, rec = Clock(now=1_000_000.0), Recorder()
    phone_and_laptop, gone_quiet, disconnected, never, unknown = (uuid.uuid4() for _ in range(5))
    recorded_offline = at(999_000.0)
    lookup = Recorded({disconnected: recorded_offline, never: None})
    presence = Presence(
        client,
        rec.publish,
        heartbeat_ttl=TTL,
        on_presence_change=rec.on_change,
        clock=clock,
        last_seen=lookup,
    )
    await presence.connect(gone_quiet, "phone")  # heartbeats stop at 1,000,000
    await presence.connect(disconnected, "phone")
    await presence.disconnect(disconnected, "phone")  # gone from Redis at once
    clock.advance(TTL + 5)  # gone_quiet's device expired; the sweeper has not run
    await presence.connect(phone_and_laptop, "phone")
    clock.advance(2)
    await presence.connect(phone_and_laptop, "laptop")
    clock.advance(1)

    asked: list[uuid.UUID | str] = [
        phone_and_laptop,
        gone_quiet,
        str(disconnected),
        never,
        unknown,
        never,
    ]
    with redis_round_trips(monkeypatch) as trips:
        snapshot = await presence.snapshot(asked)
    assert trips == ["pipeline of 5"]
    assert lookup.asked == [[disconnected, never, unknown]]  # only those Redis knew nothing of
    assert list(snapshot) == [phone_and_laptop, gone_quiet, disconnected, never, unknown]
    now = clock.now
    assert snapshot == {
        phone_and_laptop: PresenceSnapshot(phone_and_laptop, True, 2, at(now - 1)),
        gone_quiet: PresenceSnapshot(gone_quiet, False, 0, at(1_000_000.0)),
        disconnected: PresenceSnapshot(disconnected, False, 0, recorded_offline),
        never: PresenceSnapshot(never, False, 0, None),
        unknown: PresenceSnapshot(unknown, False, 0, None),
    }
    # Agrees with online_many.
    online = await presence.online_many(asked)
    assert {user: state.online for user, state in snapshot.items()} == online


async def test_no_postgres_query_when_redis_knows_everyone(
    client: redis.asyncio.Redis,
) -> None:
    clock, rec = Clock(now=2_000_000.0), Recorder()
    lookup = Recorded({})
    presence = Presence(client, rec.publish, heartbeat_ttl=TTL, clock=clock, last_seen=lookup)
    users = [uuid.uuid4() for _ in range(3)]
    for user in users:
        await presence.connect(user, "phone")
    snapshot = await presence.snapshot(users)
    assert lookup.asked == []
    assert all(state.online and state.devices == 1 for state in snapshot.values())
    assert await presence.snapshot([]) == {}
    assert lookup.asked == []


async def test_without_a_lookup_unknown_last_seen_is_none(client: redis.asyncio.Redis) -> None:
    presence = Presence(client, Recorder().publish, heartbeat_ttl=TTL)
    user = uuid.uuid4()
    assert await presence.snapshot([user]) == {user: PresenceSnapshot(user, False, 0, None)}


@pytest.mark.parametrize(
    "bad",
    [
        [uuid.uuid4() for _ in range(1001)],
        "not a list",
        [str(uuid.uuid4()), "nope"],
        [None],
        7,
        {uuid.uuid4(): 1},
    ],
)
async def test_bad_input_is_refused_before_anything_is_asked(
    client: redis.asyncio.Redis, monkeypatch: pytest.MonkeyPatch, bad: Any
) -> None:
    lookup = Recorded({})
    presence = Presence(client, Recorder().publish, heartbeat_ttl=TTL, last_seen=lookup)
    with redis_round_trips(monkeypatch) as trips, pytest.raises(ValidationError) as raised:
        await presence.snapshot(bad)
    assert raised.value.field == "user_ids"
    assert (trips, lookup.asked) == ([], [])


async def test_a_thousand_users_is_one_round_trip(
    client: redis.asyncio.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    lookup = Recorded({})
    presence = Presence(client, Recorder().publish, heartbeat_ttl=TTL, last_seen=lookup)
    users = [uuid.uuid4() for _ in range(1000)]
    with redis_round_trips(monkeypatch) as trips:
        snapshot = await presence.snapshot(users + users[:10])  # duplicates count once
    assert trips == ["pipeline of 1000"]
    assert len(lookup.asked) == 1
    assert len(snapshot) == 1000


# -- through the store: PostgreSQL's last_seen_at ---------------------------------------


async def test_the_store_reads_last_seen_from_postgres_in_one_query(
    store: ChatStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    online, offline, never = await make_users(store, 3)
    await store.presence.connect(online, "phone")
    await store.presence.connect(offline, "phone")
    await store.presence.disconnect(offline, "phone")
    stamped = (await store.users.get(offline)).last_seen_at
    assert stamped is not None
    ghost = uuid.uuid4()

    # Presence lives a second in these tests: a fresh heartbeat keeps it through the call.
    await store.presence.heartbeat(online, "phone")
    with queries_sent(monkeypatch) as sent:
        snapshot = await store.presence.snapshot([online, offline, never, ghost])
    assert len(sent) == 1, sent
    assert snapshot[offline] == PresenceSnapshot(offline, False, 0, stamped)
    assert snapshot[never] == PresenceSnapshot(never, False, 0, None)
    assert snapshot[ghost] == PresenceSnapshot(ghost, False, 0, None)
    mine = snapshot[online]
    assert (mine.online, mine.devices) == (True, 1)
    assert mine.last_seen_at is not None
    assert abs(mine.last_seen_at - datetime.now(UTC)) < timedelta(seconds=30)

    # Everyone online: Redis answers alone.
    await store.presence.heartbeat(online, "phone")
    with queries_sent(monkeypatch) as sent:
        assert (await store.presence.snapshot([online]))[online].online
    assert sent == []
