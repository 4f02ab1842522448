"""Frozen dataclasses for reactions and pins (store.reactions, store.pins), the room list's
previews, the public room directory, read markers and presence snapshots."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from chatstore.models import Message, MessageKind, Room


@dataclass(frozen=True, slots=True)
class ReactionChange:
    """What adding or removing a reaction did. `changed` is False for a no-op: adding a
    reaction the user already had, removing one they did not have (nothing was written and
    nothing logged). `count` is how many users have this reaction on the message now."""

    room_id: UUID
    message_id: UUID
    user_id: UUID
    reaction: str
    changed: bool
    count: int


@dataclass(frozen=True, slots=True)
class ReactionCount:
    """One reaction key on one message: how many users reacted with it, and whether the
    reader is one of them."""

    message_id: UUID
    reaction: str
    count: int
    reacted_by_me: bool


@dataclass(frozen=True, slots=True)
class Reactor:
    """A user who reacted with a key, and when."""

    user_id: UUID
    username: str
    reacted_at: datetime


@dataclass(frozen=True, slots=True)
class ReactorCursor:
    """Where a page of reactors ended: pass it as `after` for the next page."""

    reacted_at: datetime
    user_id: UUID


@dataclass(frozen=True, slots=True)
class ReactorPage:
    """Reactors oldest first; `next_cursor` is None when this page is the last."""

    reactors: tuple[Reactor, ...]
    next_cursor: ReactorCursor | None


@dataclass(frozen=True, slots=True)
class PinChange:
    """What pinning or unpinning did. `changed` is False for a no-op: pinning a pinned
    message (`pinned_by` and `pinned_at` are then the earlier pin's), unpinning one that was
    not pinned. After an unpin `pinned_by` and `pinned_at` are None."""

    room_id: UUID
    message_id: UUID
    changed: bool
    # None once the user who pinned it is deleted (the pin stays).
    pinned_by: UUID | None
    pinned_at: datetime | None


@dataclass(frozen=True, slots=True)
class Pin:
    """A pinned message as normal reads return it (a deleted one has no content or
    attachment), who pinned it (None once that user is deleted) and when."""

    message: Message
    pinned_by: UUID | None
    pinned_at: datetime


@dataclass(frozen=True, slots=True)
class PinCursor:
    """Where a page of pins ended: pass it as `before` for the next (older) page."""

    pinned_at: datetime
    message_id: UUID


@dataclass(frozen=True, slots=True)
class PinPage:
    """Pins newest first; `next_cursor` is None when this page is the last."""

    pins: tuple[Pin, ...]
    next_cursor: PinCursor | None


@dataclass(frozen=True, slots=True)
class MessagePreview:
    """A room's last message as a room list shows it: `content` is its first 100
    characters, None when the message is deleted (a deleted message never shows content
    or attachment). An image or file message may have an empty caption: `kind` says what
    to show instead."""

    id: UUID
    seq: int
    # None once the sender is deleted (the message stays).
    sender_id: UUID | None
    kind: MessageKind
    created_at: datetime
    content: str | None
    is_deleted: bool


@dataclass(frozen=True, slots=True)
class UserSummary:
    """Who a user is, as a list names them."""

    id: UUID
    username: str
    display_name: str | None


@dataclass(frozen=True, slots=True)
class PublicRoom:
    """A room of the public directory: how many members it has and when it was last active
    (its last message, else its creation)."""

    room: Room
    member_count: int
    last_activity_at: datetime


@dataclass(frozen=True, slots=True)
class PublicRoomCursor:
    """Where a page of public rooms ended: pass it as `after` for the next page.
    `name_key` is the last room's name as PostgreSQL lowercases it (the order's key)."""

    name_key: str
    room_id: UUID


@dataclass(frozen=True, slots=True)
class PublicRoomPage:
    """Public rooms by name (case-insensitive, then id); `next_cursor` is None when this
    page is the last."""

    rooms: tuple[PublicRoom, ...]
    next_cursor: PublicRoomCursor | None


@dataclass(frozen=True, slots=True)
class ReadMarker:
    """A member's read marker after moving it: every message up to `last_read_seq` counts
    as read, and `unread_count` messages after it are unread (exact, deletions left out),
    `unread_mention_count` of them naming the member or mentioning the whole room.
    `moved` is False when the marker already stood there or further (nothing was written),
    and also when a first run whose answer was lost had moved it."""

    room_id: UUID
    user_id: UUID
    last_read_seq: int
    unread_count: int
    moved: bool
    # Last, with a default, so markers built by position before it existed still build.
    unread_mention_count: int = 0


@dataclass(frozen=True, slots=True)
class PresenceSnapshot:
    """A user's presence now: online while any device heartbeats, how many devices do, and
    when the user was last seen (their latest heartbeat while Redis still holds it, else
    when PostgreSQL last recorded them going online or offline; None: never seen)."""

    user_id: UUID
    online: bool
    devices: int
    last_seen_at: datetime | None


__all__ = [
    "MessagePreview",
    "Pin",
    "PinChange",
    "PinCursor",
    "PinPage",
    "PresenceSnapshot",
    "PublicRoom",
    "PublicRoomCursor",
    "PublicRoomPage",
    "ReactionChange",
    "ReactionCount",
    "Reactor",
    "ReactorCursor",
    "ReactorPage",
    "ReadMarker",
    "UserSummary",
]
