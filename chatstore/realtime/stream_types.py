"""What a client stream (chatstore.realtime.stream) needs from the rest of chatstore, as
protocols: the change log and memberships (`StreamLog`), presence (`StreamPresence`) and the
room list for the snapshot (`StreamRooms`). ChatStore hands it its event log and room
repositories and its Presence.

Apart from the stream so that it holds only the stream's own logic, not the shape of what
it calls.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Protocol
from uuid import UUID

from chatstore.models import LogEntry, Membership, UserRoom


class StreamLog(Protocol):
    async def after_many(
        self, cursors: Mapping[UUID, int], limit: int = ...
    ) -> dict[UUID, list[LogEntry]]: ...

    async def memberships(self, user_id: UUID) -> dict[UUID, Membership]: ...

    async def membership_versions(self, user_ids: Collection[UUID]) -> dict[UUID, int]: ...


class StreamPresence(Protocol):
    async def connect(self, user_id: UUID, device_id: str) -> bool: ...

    async def heartbeat(self, user_id: UUID, device_id: str) -> bool: ...

    async def disconnect(self, user_id: UUID, device_id: str) -> bool: ...

    async def online_many(self, user_ids: Collection[UUID]) -> dict[UUID, bool]: ...


class StreamRooms(Protocol):
    async def rooms_of_user(self, user_id: UUID) -> list[UserRoom]: ...
