"""The event envelope every chatstore pub/sub message carries, and the channel names.

Wire format (JSON, one object per message):

    {"v": 1, "type": "message.created", "room_id": "<uuid>" | null, "seq": 42 | null,
     "event_seq": 97 | null, "payload": {...}, "at": "2026-11-25T12:00:00.123456+00:00"}

`v` lets a listener refuse an envelope it does not understand. `event_seq` is set on every
entry of a room's change log (gap-free per room in commit order: the order a client applies
them in); ephemeral events (typing, presence, receipts, an application's ephemeral events)
have none. `seq` is the message seq for events about a message.

The set of types is open: chatstore's are listed in KNOWN_EVENT_TYPES; an application adds
its own (dotted lowercase names) to the log or as ephemeral events.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final
from uuid import UUID

from chatstore.errors import ValidationError
from chatstore.models import LogEntry

ENVELOPE_VERSION = 1

# An event's type: one of KNOWN_EVENT_TYPES or an application's own.
EventType = str

KNOWN_EVENT_TYPES: Final = frozenset(
    {
        # Change-log entries (reliable, with event_seq):
        "message.created",
        "message.edited",
        "message.deleted",
        "member.joined",
        "member.left",
        "member.removed",
        "member.role_changed",
        "room.updated",
        "reaction.added",
        "reaction.removed",
        "message.pinned",
        "message.unpinned",
        "thread.followed",
        "thread.unfollowed",
        # Derived by a client stream from a message entry that mentions its user (no
        # event_seq of its own: it follows that entry, exactly once as the entry does).
        "mention.received",
        # Ephemeral (no event_seq):
        "typing.changed",
        "receipt.read",
        # On the user's own channel: their read markers moved (one room / every room).
        "marker.moved",
        "marker.all_read",
        "thread.marker_moved",
        "presence.changed",
        "room.deleted",
        # Local to a process, never published: a client stream's notices.
        "stream.reset",
        "stream.room_closed",
        "subscription.resync",
    }
)


def room_channel(room_id: UUID | str) -> str:
    """Per-room channel; the braces make Redis Cluster place it by room (sharded pub/sub)."""
    return f"room:{{{room_id}}}"


def user_channel(user_id: UUID | str) -> str:
    """Per-user channel: presence changes of that user, and their read markers moving."""
    return f"user:{{{user_id}}}"


@dataclass(frozen=True, slots=True)
class Event:
    type: EventType
    room_id: UUID | None = None
    seq: int | None = None
    payload: dict[str, Any] = field(default_factory=dict)
    at: datetime = field(default_factory=lambda: datetime.now(UTC))
    version: int = ENVELOPE_VERSION
    event_seq: int | None = None

    def to_json(self) -> str:
        return json.dumps(
            {
                "v": self.version,
                "type": self.type,
                "room_id": None if self.room_id is None else str(self.room_id),
                "seq": self.seq,
                "event_seq": self.event_seq,
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
        event_seq = data.get("event_seq")
        if not isinstance(data["type"], str) or not (
            event_seq is None or (isinstance(event_seq, int) and event_seq > 0)
        ):
            raise ValueError("an envelope with a malformed type or event_seq")
        return cls(
            type=data["type"],
            event_seq=event_seq,
            room_id=None if room is None else UUID(room),
            seq=data.get("seq"),
            payload=data.get("payload") or {},
            at=datetime.fromisoformat(data["at"]),
            version=data["v"],
        )


def encoded(event: object) -> str:
    """The wire form of an event handed to publish; ValidationError("event") for anything
    that is not an Event or does not encode as JSON: a payload json.dumps cannot write (a
    cycle, a key of an odd type, an integer too long to write out) or an `at` that is no
    datetime. The caller's object, so the caller's error, not a raw exception."""
    if not isinstance(event, Event):
        raise ValidationError("event", "must be an Event")
    try:
        return event.to_json()
    except (TypeError, ValueError, AttributeError) as error:
        raise ValidationError("event", f"must encode as JSON ({error})") from None


def entry_event(entry: LogEntry) -> Event:
    """The live form of a change-log entry, as published and as a stream yields it."""
    seq = entry.payload.get("seq") if entry.type.startswith("message.") else None
    return Event(
        type=entry.type,
        room_id=entry.room_id,
        seq=seq if isinstance(seq, int) else None,
        payload=entry.payload,
        at=entry.created_at,
        event_seq=entry.event_seq,
    )
