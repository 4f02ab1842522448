"""The event envelope every chatstore pub/sub message carries, and the channel names.

Wire format (JSON, one object per message):

    {"v": 1, "type": "message.created", "room_id": "<uuid>" | null, "seq": 42 | null,
     "payload": {...}, "at": "2026-11-25T12:00:00.123456+00:00"}

`v` lets a listener refuse an envelope it does not understand; `seq` is set for events about
a message (created, edited, deleted), so a listener can notice a gap and catch up.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal
from uuid import UUID

ENVELOPE_VERSION = 1

EventType = Literal[
    "message.created",
    "message.edited",
    "message.deleted",
    "typing.changed",
    "receipt.read",
    "presence.changed",
    # Emitted locally (never published) by a subscription: after Redis reconnects, or when a
    # room's seq jumped, events may have been missed; catch up with "messages after seq N".
    "subscription.resync",
]


def room_channel(room_id: UUID | str) -> str:
    """Per-room channel; the braces make Redis Cluster place it by room (sharded pub/sub)."""
    return f"room:{{{room_id}}}"


def user_channel(user_id: UUID | str) -> str:
    """Per-user channel: presence changes of that user."""
    return f"user:{{{user_id}}}"


@dataclass(frozen=True, slots=True)
class Event:
    type: EventType
    room_id: UUID | None = None
    seq: int | None = None
    payload: dict[str, Any] = field(default_factory=dict)
    at: datetime = field(default_factory=lambda: datetime.now(UTC))
    version: int = ENVELOPE_VERSION

    def to_json(self) -> str:
        return json.dumps(
            {
                "v": self.version,
                "type": self.type,
                "room_id": None if self.room_id is None else str(self.room_id),
                "seq": self.seq,
                "payload": self.payload,
                "at": self.at.isoformat(),
            },
            separators=(",", ":"),
            default=str,  # UUIDs and datetimes inside payloads
        )

    @classmethod
    def from_json(cls, raw: str | bytes) -> Event:
        """Parse an envelope; raises ValueError for anything that is not one of ours."""
        data = json.loads(raw)
        if not isinstance(data, dict) or data.get("v") != ENVELOPE_VERSION:
            raise ValueError("not a chatstore event envelope of a known version")
        room = data.get("room_id")
        return cls(
            type=data["type"],
            room_id=None if room is None else UUID(room),
            seq=data.get("seq"),
            payload=data.get("payload") or {},
            at=datetime.fromisoformat(data["at"]),
            version=data["v"],
        )
