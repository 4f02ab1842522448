"""The mixed operations of the open-loop load: what a chat server asks of its data layer.

Weights, per 100 operations, and why:
- get user 20: names and avatars behind every message list, member list and mention; the
  most frequent read, even with a client-side cache.
- history page 15: opening a room shows its newest page (depth 0 mostly); scrolling back
  asks for older ones.
- mark read 20: every client viewing a room marks what it saw, so receipts outnumber sends.
- send 15: 12 in small (direct) rooms, 3 in the biggest room (a fifth of all messages).
- catch-up 10: a reconnecting client fetches what it missed (100 messages behind).
- unread counts 12 and room list 8: the sidebar, on connect and on refresh.
Live delivery (Redis pub/sub, the realtime section) and logins (the clients' part) are
measured elsewhere. Arguments are drawn from a seeded generator, so chatstore and raw
psycopg are offered the very same sequence of calls.
"""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass
from functools import partial
from typing import Any
from uuid import UUID

from psycopg.rows import dict_row

from bench.arrivals import Call, Pick
from bench.fixtures import Fixtures
from bench.peers import RawPeer
from bench.workloads import CATCH_UP_BEHIND, Peer

MIX: dict[str, int] = {
    "get_user": 20,
    "history_page": 15,
    "mark_read": 20,
    "send": 12,
    "send_big": 3,
    "catch_up": 10,
    "unread_counts": 12,
    "room_list": 8,
}
LABELS = {
    "get_user": "get user",
    "history_page": "history page",
    "mark_read": "mark read",
    "send": "send, direct room",
    "send_big": "send, biggest room",
    "catch_up": "catch-up",
    "unread_counts": "unread counts",
    "room_list": "room list",
}
# Depths of the history pages asked for: mostly the newest page, sometimes scrolled back.
DEPTHS = (0, 0, 0, 0, 50, 100, 200, 500)
DIRECT_ROOMS = 200  # sends spread over these, as a server's would over its rooms

DIRECT_SQL = """
SELECT r.id, r.direct_user_low, r.direct_user_high
FROM rooms AS r
WHERE r.kind = 'direct'
ORDER BY r.last_seq DESC, r.id ASC
LIMIT %(limit)s
"""
LAST_SEQ_SQL = "SELECT r.last_seq FROM rooms AS r WHERE r.id = %(room_id)s"


@dataclass
class Targets:
    fx: Fixtures
    direct: list[tuple[UUID, UUID, UUID]]  # direct room, its two users
    hot_last_seq: int  # refreshed before every stretch: sends move it

    @classmethod
    async def load(cls, raw: RawPeer, fx: Fixtures) -> Targets:
        async with raw.pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            await cur.execute(DIRECT_SQL, {"limit": DIRECT_ROOMS})
            rows = await cur.fetchall()
        direct = [(r["id"], r["direct_user_low"], r["direct_user_high"]) for r in rows]
        if not direct:
            direct = [(fx.direct_room, *fx.direct_users)]
        return cls(fx, direct, fx.hot_last_seq)

    async def refresh(self, raw: RawPeer) -> None:
        """The hot room's newest seq now, so the newest page and the catch-up read the same
        number of messages in every step, however many the earlier steps sent."""
        async with raw.pool.connection() as conn:
            cursor = await conn.execute(LAST_SEQ_SQL, {"room_id": self.fx.hot_room})
            row: Any = await cursor.fetchone()
        self.hot_last_seq = int(row["last_seq"])


class MarkWalk:
    """(user, message) pairs never marked before by this walk: the markers in turn, each
    pass one message further through the hot room's newest. Each peer walks its own slot's
    messages, so no peer finds the other's receipts already there."""

    def __init__(self, fx: Fixtures, slot: int, slots: int = 2) -> None:
        self.fx = fx
        self.slot = slot
        self.slots = slots
        self.count = itertools.count()

    def next(self) -> tuple[UUID, UUID]:
        k = next(self.count)
        markers, newest = self.fx.markers, self.fx.newest
        user = markers[k % len(markers)]
        message = newest[((k // len(markers)) * self.slots + self.slot) % len(newest)]
        return user, message


def picker(peer: Peer, targets: Targets, walk: MarkWalk, seed: int) -> Pick:
    """pick(n) for `offer`: the n-th call, drawn from MIX with a generator seeded `seed`."""
    rng = random.Random(seed)  # noqa: S311 - reproducible draws, not secrets
    names = list(MIX)
    cumulative = list(itertools.accumulate(MIX.values()))
    fx = targets.fx

    def pick(n: int) -> tuple[str, Call]:
        name = rng.choices(names, cum_weights=cumulative)[0]
        reader = rng.choice(fx.readers)
        top = targets.hot_last_seq
        call: Call
        if name == "get_user":
            call = partial(peer.get_user, rng.choice(fx.users))
        elif name == "history_page":
            before = max(1, top - rng.choice(DEPTHS) + 1)
            call = partial(peer.page_before, fx.hot_room, reader, before)
        elif name == "mark_read":
            user, message = walk.next()
            call = partial(peer.mark_read, message, user)
        elif name == "send":
            room, low, high = rng.choice(targets.direct)
            call = partial(peer.send, room, rng.choice((low, high)), f"load {n}")
        elif name == "send_big":
            call = partial(peer.send, fx.hot_room, reader, f"load {n}")
        elif name == "catch_up":
            call = partial(peer.catch_up, fx.hot_room, reader, max(0, top - CATCH_UP_BEHIND))
        elif name == "unread_counts":
            call = partial(peer.unread_counts, rng.choice(fx.users))
        else:
            call = partial(peer.room_list, rng.choice(fx.users))
        return name, call

    return pick
