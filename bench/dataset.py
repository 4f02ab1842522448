"""The benchmark dataset: what it holds, generated row by row from a seed.

Everything is a pure function of the `DatasetSpec` (ids are hashes of the seed and an index,
timestamps a formula of the room and the seq), so two runs with the same spec load the same
rows, and rows that refer to each other (a receipt to its message) are computed, not looked
up. The shape follows the issue: one room holds a fifth of all messages and is also the
largest room; most other rooms are small, a few large; a share of 2-member direct rooms;
edits (with their revisions), soft deletes, read markers and one receipt per marker.

The change log (room_events) is left empty with every rooms.last_event_seq at 0 and every
room_users.joined_event_seq at 0, which the schema documents as "memberships older than the
log": the log then starts with the benchmark's own writes.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Any
from uuid import UUID

import bcrypt

# Bumped whenever the generator's output changes, so a kept dataset is rebuilt.
GENERATOR_VERSION = 1
PASSWORD = "bench-password-0001"  # noqa: S105 - every dataset user's password, on purpose
EPOCH = datetime(2026, 1, 1, tzinfo=UTC)
SPAN = timedelta(days=150)
_TEXT = (
    "the a to and of in is it you that for on with this was are be have not at but we "
    "they so what can will just about meeting deploy review lunch tomorrow today ticket "
    "build release fix bug test green red merge branch coffee call later thanks ok sure "
    "please agreed sounds good see notes doc link screenshot figure number plan week"
)
WORDS = _TEXT.split()  # content is drawn from these
ROLES_BY_POSITION = ("owner", "admin")  # the first members of a room; the rest are 'member'


@dataclass(frozen=True, slots=True)
class DatasetSpec:
    users: int
    rooms: int
    messages: int
    max_members: int  # the biggest room's size (the hot room)
    probe_users: int  # users in exactly probe_rooms rooms, for unread counts and room lists
    probe_rooms: int
    bcrypt_rounds: int
    seed: int
    hot_share: float = 0.2
    direct_share: float = 0.4
    edit_share: float = 0.02
    delete_share: float = 0.01

    def key(self, migrations: Sequence[str]) -> str:
        """Names a built dataset: the spec, the generator and the schema it was loaded into."""
        text = json.dumps([asdict(self), GENERATOR_VERSION, sorted(migrations)], sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:12]


FULL = DatasetSpec(
    users=10_000,
    rooms=1_000,
    messages=1_000_000,
    max_members=5_000,
    probe_users=64,
    probe_rooms=50,
    bcrypt_rounds=12,
    seed=9,
)
QUICK = DatasetSpec(
    users=500,
    rooms=50,
    messages=50_000,
    max_members=500,
    probe_users=16,
    probe_rooms=20,
    bcrypt_rounds=10,
    seed=9,
)


def _capped_shares(weights: list[float], total: float, cap: float) -> list[float]:
    """`total` split in proportion to `weights`, no share above `cap`: what a capped room
    cannot take goes to the others in proportion, so the hot room stays the busiest."""
    shares = [0.0] * len(weights)
    free = [i for i, w in enumerate(weights) if w > 0]
    left = total
    while free and left > 0:
        weight = sum(weights[i] for i in free)
        over = [i for i in free if left * weights[i] / weight > cap]
        if not over:
            for i in free:
                shares[i] = left * weights[i] / weight
            break
        for i in over:
            shares[i] = cap
            left -= cap
            free.remove(i)
    return shares


def _uuid(seed: int, kind: str, *parts: int) -> UUID:
    digest = hashlib.blake2b(f"{seed}:{kind}:{parts}".encode(), digest_size=16).digest()
    return UUID(bytes=digest, version=4)


class Dataset:
    """The rows of one spec. Rooms and memberships are computed once (small); messages,
    revisions and receipts are generated as they are copied."""

    def __init__(self, spec: DatasetSpec) -> None:
        self.spec = spec
        # One seeded generator per part, so each part is reproducible on its own.
        self._rng = random.Random(spec.seed)  # noqa: S311 - test data, not secrets

    def user_id(self, index: int) -> UUID:
        return _uuid(self.spec.seed, "user", index)

    def room_id(self, index: int) -> UUID:
        return _uuid(self.spec.seed, "room", index)

    def message_id(self, room: int, seq: int) -> UUID:
        return _uuid(self.spec.seed, "message", room, seq)

    @cached_property
    def password_hash(self) -> str:
        # A fixed salt keeps the dataset deterministic; bcrypt wants 22 characters whose
        # last one carries only 2 bits, hence the fixed final "e".
        salt = hashlib.sha256(f"{self.spec.seed}".encode()).hexdigest()[:21] + "e"
        prefix = f"$2b${self.spec.bcrypt_rounds:02d}$".encode()
        return bcrypt.hashpw(PASSWORD.encode(), prefix + salt.encode()).decode()

    @cached_property
    def members(self) -> list[list[int]]:
        """Per room, its members' user indexes, the owner first. Room 0 is the biggest and
        the hot room; probe users are in room 0 and in probe_rooms - 1 other group rooms."""
        spec, rng = self.spec, self._rng
        probes = range(spec.probe_users)
        others = list(range(spec.probe_users, spec.users))
        rooms: list[list[int]] = [[] for _ in range(spec.rooms)]
        direct = [i == 1 or (i > 1 and rng.random() < spec.direct_share) for i in range(spec.rooms)]
        groups = [i for i in range(1, spec.rooms) if not direct[i]]
        sizes = [min(len(others), self._group_size(rng)) for _ in range(spec.rooms)]
        sizes[0] = spec.max_members
        pairs: set[tuple[int, int]] = set()
        for room in range(spec.rooms):
            if direct[room]:
                pair = self._new_pair(rng, others, pairs)
                rooms[room] = list(pair)
        for user in probes:
            rooms[0].append(user)
            for room in rng.sample(groups, min(len(groups), spec.probe_rooms - 1)):
                rooms[room].append(user)
        for room in range(spec.rooms):
            if direct[room]:
                continue
            present = set(rooms[room])
            wanted = max(0, sizes[room] - len(present))
            fill = rng.sample(others, min(len(others), wanted + len(present)))
            chosen = [u for u in fill if u not in present][:wanted]
            # The owner is a regular (non-probe) user, so probes stay plain members.
            rooms[room] = chosen[:1] + rooms[room] + chosen[1:]
        return rooms

    def _group_size(self, rng: random.Random) -> int:
        # Cubing a uniform draw skews sizes towards small rooms with a long tail of large
        # ones (median around 10, a few in the thousands for the full spec).
        size: float = 3 * (self.spec.max_members / 3) ** (rng.random() ** 3)
        return max(3, round(size))

    @staticmethod
    def _new_pair(
        rng: random.Random, users: list[int], taken: set[tuple[int, int]]
    ) -> tuple[int, int]:
        while True:
            a, b = rng.sample(users, 2)
            pair = (min(a, b), max(a, b))
            if pair not in taken:
                taken.add(pair)
                return pair

    @cached_property
    def message_counts(self) -> list[int]:
        """Messages per room: the hot share for room 0, the rest by size with some noise."""
        spec, rng = self.spec, self._rng
        hot = round(spec.messages * spec.hot_share)
        weights = [0.0] + [len(m) ** 0.7 * rng.lognormvariate(0, 1) for m in self.members[1:]]
        rest = spec.messages - hot
        shares = _capped_shares(weights, rest, cap=hot / 2)
        counts = [int(s) for s in shares]
        leftovers = sorted(range(spec.rooms), key=lambda i: counts[i] - shares[i])
        for room in leftovers[: rest - sum(counts)]:
            counts[room] += 1
        counts[0] = hot
        return counts

    @cached_property
    def room_starts(self) -> list[datetime]:
        return [EPOCH + timedelta(days=self._rng.uniform(0, 30)) for _ in range(self.spec.rooms)]

    def created_at(self, room: int, seq: int) -> datetime:
        """Messages of a room are spread evenly over SPAN, in seq order."""
        return self.room_starts[room] + SPAN * (seq / (self.message_counts[room] + 1))

    def room_kind(self, room: int) -> str:
        if len(self.members[room]) == 2 and room != 0:
            return "direct"
        return "private" if room % 5 == 4 else "public"

    # -- rows, in the column order of bench/dataset.sql's COPY statements -----------------

    def user_rows(self) -> Iterator[tuple[Any, ...]]:
        memberships = [0] * self.spec.users
        for room_members in self.members:
            for user in room_members:
                memberships[user] += 1
        for i in range(self.spec.users):
            name = f"user{i:05d}"
            yield (
                self.user_id(i),
                f"{name}@bench.example",
                name,
                f"User {i}",
                self.password_hash,
                EPOCH,
                EPOCH,
                memberships[i],  # what the room_users trigger would have counted
            )

    def room_rows(self) -> Iterator[tuple[Any, ...]]:
        for room, room_members in enumerate(self.members):
            kind = self.room_kind(room)
            count = self.message_counts[room]
            low = high = None
            if kind == "direct":
                low, high = sorted(self.user_id(u) for u in room_members)
            yield (
                self.room_id(room),
                kind,
                None if kind == "direct" else f"room-{room:04d}",
                self.user_id(room_members[0]),
                low,
                high,
                count,
                self.created_at(room, count) if count else None,
                self.room_starts[room],
                self.room_starts[room],
            )

    def member_rows(self) -> Iterator[tuple[Any, ...]]:
        rng = random.Random(self.spec.seed + 1)  # noqa: S311 - test data, not secrets
        for room, room_members in enumerate(self.members):
            last = self.message_counts[room]
            direct = self.room_kind(room) == "direct"
            for position, user in enumerate(room_members):
                role = "member"
                if not direct and position < len(ROLES_BY_POSITION):
                    role = ROLES_BY_POSITION[position]
                # Half the members are caught up; the others stopped somewhere in history.
                marker = last if rng.random() < 0.5 else rng.randint(0, last)
                read_at = self.created_at(room, marker) if marker else None
                yield (
                    self.room_id(room),
                    self.user_id(user),
                    role,
                    self.room_starts[room],
                    marker,
                    read_at,
                )

    def receipt_rows(self) -> Iterator[tuple[Any, ...]]:
        """One receipt per member at their read marker (re-deriving the markers)."""
        for room_id, user_id, _, _, marker, read_at in self.member_rows():
            if marker:
                room = self._room_index[room_id]
                yield (room_id, self.message_id(room, marker), user_id, read_at)

    @cached_property
    def _room_index(self) -> dict[UUID, int]:
        return {self.room_id(i): i for i in range(self.spec.rooms)}
