"""Who is online, across devices, kept alive by heartbeats.

Layout:
    presence:{<user_id>}  sorted set: member = device id, score = that device's expiry
                          (unix seconds); plus the member "" at +inf, the marker that says
                          "this user was announced online". PEXPIRE = latest device expiry
                          + key_grace, so a dead user's key vanishes by itself.
    presence:due          sorted set: member = user id, score = that user's latest device
                          expiry; lets sweep() find users whose devices stopped heartbeating.

Every online/offline transition is decided by ONE Lua script on the one user key (so Redis
Cluster is fine with it): going online = adding the marker, going offline = removing it when
no live device is left. Whoever adds or removes the marker announces the transition, so each
transition is published once even with many processes connecting, disconnecting and sweeping
concurrently, and online/offline strictly alternate in Redis's order. The marker (rather than
"the set was empty") matters when a user's devices expired and the sweeper has not yet
announced that: a reconnect then must not announce a second "online" with no "offline" between.
Device ids are validated non-blank, so they never collide with the "" marker.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Collection
from datetime import UTC, datetime
from typing import Any, cast

import redis.asyncio

from chatstore import validation
from chatstore.conversation_models import PresenceSnapshot
from chatstore.errors import ChatStoreError, ValidationError
from chatstore.realtime.connection import redis_errors
from chatstore.realtime.due import DueIndex, score_arg, text_of
from chatstore.realtime.events import Event, user_channel
from chatstore.realtime.presence_snapshot import LastSeenLookup, read_snapshot

log = logging.getLogger(__name__)

Publish = Callable[[Event, str], Awaitable[object]]
PresenceChange = Callable[[uuid.UUID, bool], Awaitable[object]]

DEVICE_ID_MAX = 200
DUE_KEY = "presence:due"
MARKER = ""

# connect/heartbeat: drop expired devices, refresh this one, set the marker (1 = went online),
# re-arm the key's expiry from the latest device expiry. Returns {went_online, latest expiry}.
_TOUCH = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
redis.call('ZADD', KEYS[1], 'GT', ARGV[2], ARGV[3])
local went_online = redis.call('ZADD', KEYS[1], 'NX', '+inf', '')
local latest = redis.call('ZREVRANGEBYSCORE', KEYS[1], '(+inf', '-inf', 'WITHSCORES', 'LIMIT', 0, 1)
local ms = math.ceil((tonumber(latest[2]) - tonumber(ARGV[1]) + tonumber(ARGV[4])) * 1000)
redis.call('PEXPIRE', KEYS[1], ms)
return {went_online, latest[2]}
"""

# disconnect (ARGV[2] = device) and sweep (ARGV[2] = ""): drop the device and every expired
# one; if no live device is left, remove the marker. Returns {"offline"} when THIS call removed
# the marker, {"alive", latest expiry} while a device lives, {"gone"} when neither is there.
_SETTLE = """
if ARGV[2] ~= '' then redis.call('ZREM', KEYS[1], ARGV[2]) end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
local latest = redis.call('ZREVRANGEBYSCORE', KEYS[1], '(+inf', '-inf', 'WITHSCORES', 'LIMIT', 0, 1)
if #latest > 0 then return {'alive', latest[2]} end
if redis.call('ZREM', KEYS[1], '') == 1 then return {'offline'} end
return {'gone'}
"""


def presence_key(user_id: uuid.UUID) -> str:
    return f"presence:{{{user_id}}}"


def device_id(value: object) -> str:
    """A device id as presence stores it; ValidationError otherwise."""
    return validation.text("device_id", value, max_chars=DEVICE_ID_MAX)


_device = device_id


def _positive(field: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise ValidationError(field, "must be a positive number of seconds")
    return float(value)


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat()


def _presence_event(uid: uuid.UUID, online: bool, last_seen: float) -> Event:
    return Event(
        type="presence.changed",
        payload={"user_id": str(uid), "online": online, "last_seen": _iso(last_seen)},
    )


class Presence:
    """Multi-device presence. Redis outages raise Unavailable from every public method."""

    def __init__(
        self,
        redis_client: redis.asyncio.Redis,
        publish: Publish,
        *,
        heartbeat_ttl: float = 30.0,
        on_presence_change: PresenceChange | None = None,
        clock: Callable[[], float] = time.time,
        key_grace: float = 60.0,
        last_seen: LastSeenLookup | None = None,
    ) -> None:
        self._redis = redis_client
        self._publish = publish
        self._ttl = _positive("heartbeat_ttl", heartbeat_ttl)
        # How long a user key outlives its last device: long enough for a lagging sweeper to
        # still find the marker and announce "offline" the normal way.
        self._grace = _positive("key_grace", key_grace)
        self._on_change = on_presence_change
        # PostgreSQL's last_seen_at, for users Redis holds nothing of (snapshot).
        self._last_seen = last_seen
        self._clock = clock
        self._touch = redis_client.register_script(_TOUCH)
        self._settle = redis_client.register_script(_SETTLE)
        self._due = DueIndex(redis_client, DUE_KEY)

    async def connect(self, user_id: uuid.UUID | str, device_id: str) -> bool:
        """Register a live device; True if this made the user go online."""
        return await self.heartbeat(user_id, device_id)

    async def heartbeat(self, user_id: uuid.UUID | str, device_id: str) -> bool:
        """Keep a device alive for heartbeat_ttl more seconds; an unknown or expired device
        counts as a connect. True if this made the user go online."""
        uid = validation.uuid_value("user_id", user_id)
        device = _device(device_id)
        now = self._clock()
        args = [score_arg(now), score_arg(now + self._ttl), device, score_arg(self._grace)]
        with redis_errors():
            raw: Any = await self._touch(keys=[presence_key(uid)], args=args)
        went_online, latest = int(raw[0]), float(raw[1])
        # Written before announcing, so a sweep never misses a user who is announced online.
        await self._due.put(str(uid), latest, "GT")
        if went_online:
            await self._go_online(uid, device, now)
        return bool(went_online)

    async def _go_online(self, uid: uuid.UUID, device: str, now: float) -> None:
        """Write the transition through, then publish it. The write-through comes first
        because it is what knows the user: for one PostgreSQL does not have (NotFound), or
        while it is down, the claim is taken back before anything was announced, so the
        failed call leaves no presence behind and the next heartbeat claims it afresh."""
        if self._on_change is not None:
            try:
                await self._on_change(uid, True)
            except ChatStoreError:
                await self._take_back(uid, device, now)
                raise
        await self._publish(_presence_event(uid, True, now), user_channel(uid))

    async def _take_back(self, uid: uuid.UUID, device: str, now: float) -> None:
        """Undo a heartbeat's claim: drop the device, and with it the marker and the due
        entry unless another device went live meanwhile (that one keeps the user online)."""
        try:
            if (await self._settle_user(uid, now, device))[0] == "offline":
                await self._forget_due(uid, now)
        except ChatStoreError as error:  # Redis down: the key still expires by itself
            log.warning("could not take back the presence of %s: %s", uid, error)

    async def disconnect(self, user_id: uuid.UUID | str, device_id: str) -> bool:
        """Remove a device; True if this made the user go offline."""
        uid = validation.uuid_value("user_id", user_id)
        device = _device(device_id)
        now = self._clock()
        outcome = await self._settle_user(uid, now, device)
        if outcome[0] != "offline":
            return False
        await self._forget_due(uid, now)
        await self._announce_offline(uid, last_seen=now)
        return True

    async def is_online(self, user_id: uuid.UUID | str) -> bool:
        """True while any device of the user is alive."""
        return bool(await self.online_devices(user_id))

    async def online_devices(self, user_id: uuid.UUID | str) -> list[str]:
        """The user's live device ids (expired ones are left for the sweeper to announce)."""
        uid = validation.uuid_value("user_id", user_id)
        now = self._clock()
        # Exclusive bounds: "(now" skips just-expired devices, "(+inf" skips the marker.
        with redis_errors():
            devices: Any = await self._redis.zrangebyscore(
                presence_key(uid), f"({score_arg(now)}", "(+inf"
            )
        return sorted(text_of(device) for device in cast(list[Any], devices))

    async def online_many(self, user_ids: Collection[uuid.UUID | str]) -> dict[uuid.UUID, bool]:
        """Whether each user is online, in one pipelined round trip whatever their number."""
        users = validation.uuid_list("user_ids", user_ids)
        if not users:
            return {}
        now = score_arg(self._clock())
        with redis_errors():
            # Not a transaction: each command touches one user's key (one hash tag), so
            # under Redis Cluster the client splits the batch by node.
            async with self._redis.pipeline(transaction=False) as pipe:
                for user in users:
                    pipe.zcount(presence_key(user), f"({now}", "(+inf")
                counts: list[Any] = await pipe.execute()
        return {user: int(count) > 0 for user, count in zip(users, counts, strict=True)}

    async def snapshot(
        self, user_ids: Collection[uuid.UUID | str]
    ) -> dict[uuid.UUID, PresenceSnapshot]:
        """Per user (at most 1,000): online, live devices and last seen, in one pipelined
        round trip plus at most one PostgreSQL query (chatstore.realtime.presence_snapshot)."""
        return await read_snapshot(
            self._redis,
            user_ids,
            key=presence_key,
            now=self._clock(),
            ttl=self._ttl,
            last_seen=self._last_seen,
        )

    async def sweep(self) -> list[uuid.UUID]:
        """Announce users whose devices all stopped heartbeating; the users that went offline.

        Safe to run from several processes at once: each transition is claimed by exactly one.
        """
        now = self._clock()
        went_offline: list[uuid.UUID] = []
        for member, due_at in await self._due.due(now):
            try:
                uid = uuid.UUID(member)
            except ValueError:
                await self._due.remove_if_at_most(member, due_at)  # not ours; drop it
                continue
            if await self._sweep_user(uid, due_at, now):
                went_offline.append(uid)
        return went_offline

    async def run_sweeper(self, interval: float) -> None:
        """sweep() every `interval` seconds until cancelled; errors are logged, never fatal."""
        pause = _positive("interval", interval)
        while True:
            try:
                await self.sweep()
            except Exception:
                # Redis or PostgreSQL (write-through) down: the users stay due; retry next time.
                log.exception("presence sweep failed; retrying in %s s", pause)
            await asyncio.sleep(pause)

    async def _sweep_user(self, uid: uuid.UUID, due_at: float, now: float) -> bool:
        outcome = await self._settle_user(uid, now, MARKER)
        if outcome[0] == "alive":
            # Another device heartbeated; its latest expiry is the next time to look.
            await self._due.put(str(uid), float(outcome[1]), "GT")
            return False
        if outcome[0] == "gone" and not await self._claim_vanished(uid, due_at, now):
            return False
        if outcome[0] == "offline":
            await self._forget_due(uid, now)
        await self._announce_offline(uid, last_seen=due_at - self._ttl)
        return True

    async def _claim_vanished(self, uid: uuid.UUID, due_at: float, now: float) -> bool:
        """Neither device nor marker: someone else just announced "offline", or the key
        expired before any sweep ran (sweepers down longer than key_grace). Only the latter
        is ours to announce; it is told apart by the key having certainly expired by now, and
        the compare-and-delete on the index lets exactly one sweeper claim it."""
        if due_at + self._grace > now:
            return False
        return await self._due.remove_if_at_most(str(uid), due_at)

    async def _forget_due(self, uid: uuid.UUID, now: float) -> None:
        # Every heartbeat before the offline claim set a score <= now + ttl; one after it (a
        # reconnect) set a later one, which must stay for the next sweep to see.
        await self._due.remove_if_at_most(str(uid), now + self._ttl)

    async def _settle_user(self, uid: uuid.UUID, now: float, device: str) -> list[str]:
        with redis_errors():
            raw: Any = await self._settle(keys=[presence_key(uid)], args=[score_arg(now), device])
        return [text_of(part) for part in cast(list[Any], raw)]

    async def _announce_offline(self, uid: uuid.UUID, *, last_seen: float) -> None:
        """Publish the transition, then write it through; the write-through runs even if
        publishing failed, since the transition is already claimed and won't be seen again."""
        try:
            await self._publish(_presence_event(uid, False, last_seen), user_channel(uid))
        finally:
            if self._on_change is not None:
                await self._on_change(uid, False)
