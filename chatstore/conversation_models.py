"""Frozen dataclasses for reactions and pins (store.reactions, store.pins)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from chatstore.models import Message


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


__all__ = [
    "Pin",
    "PinChange",
    "PinCursor",
    "PinPage",
    "ReactionChange",
    "ReactionCount",
    "Reactor",
    "ReactorCursor",
    "ReactorPage",
]
