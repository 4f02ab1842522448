"""The streams that asked the room feed (chatstore.realtime.feed) to tell them when their
user's set of rooms changes: `feed.watch(user_id, key, version, on_change)`.

Every poll tick of the feed reads the membership versions of all watched users in one query
and calls `on_change` for each watch whose version moved (or whose user is gone). Apart from
the feed because it has nothing to do with ordering a room's entries: it only rides on the
feed's poll, so that a process asks PostgreSQL once per tick, not once per stream.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from uuid import UUID

from chatstore.realtime.feed_types import LogReader


@dataclass
class MembershipWatch:
    version: int
    on_change: Callable[[], None]


class MembershipWatches:
    """The watches by user, then by key (one per stream)."""

    def __init__(self) -> None:
        self._watches: dict[UUID, dict[object, MembershipWatch]] = {}

    def __bool__(self) -> bool:
        return bool(self._watches)

    def add(self, user_id: UUID, key: object, version: int, on_change: Callable[[], None]) -> None:
        self._watches.setdefault(user_id, {})[key] = MembershipWatch(version, on_change)

    def remove(self, user_id: UUID, key: object) -> None:
        watches = self._watches.get(user_id)
        if watches is not None:
            watches.pop(key, None)
            if not watches:
                del self._watches[user_id]

    async def poll(self, log_reader: LogReader) -> None:
        """One query for every watched user; call back the watches whose version moved."""
        versions = await log_reader.membership_versions(list(self._watches))
        for user_id, watches in list(self._watches.items()):
            version = versions.get(user_id)
            for watch in list(watches.values()):
                if version is None or version != watch.version:
                    watch.version = -1 if version is None else version
                    watch.on_change()
