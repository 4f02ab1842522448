"""Frozen dataclasses for threads and mentions (store.threads, store.mentions)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from chatstore.conversation_models import MessagePreview
from chatstore.models import Message


@dataclass(frozen=True, slots=True)
class ThreadSummary:
    """What a room page shows under a thread's root: how many replies (not deleted), the
    latest reply's thread_seq and time (None before the first), and the latest repliers,
    most recent first, at most three."""

    reply_count: int
    last_thread_seq: int
    last_reply_at: datetime | None
    participant_ids: tuple[UUID, ...]


@dataclass(frozen=True, slots=True)
class ThreadPage:
    """A thread's root and replies in ascending thread_seq order, with the cursors to the
    neighbouring pages (pass as `before_thread_seq` / `after_thread_seq`; None when no
    more)."""

    root: Message
    replies: tuple[Message, ...]
    older_cursor: int | None
    newer_cursor: int | None


@dataclass(frozen=True, slots=True)
class FollowChange:
    """What follow or unfollow did; `changed` is False when the user already followed (or
    did not follow): nothing was written or logged."""

    root_id: UUID
    room_id: UUID
    user_id: UUID
    following: bool
    changed: bool


@dataclass(frozen=True, slots=True)
class ThreadReadState:
    """A follower's read marker in a thread after marking it read, and what is still
    unread after it (0 and 0 for a user who does not follow the thread)."""

    root_id: UUID
    room_id: UUID
    user_id: UUID
    following: bool
    last_read_thread_seq: int
    unread_replies: int
    unread_mentions: int


@dataclass(frozen=True, slots=True)
class FollowedThread:
    """One thread a user follows, as their threads list shows it."""

    root: MessagePreview
    room_id: UUID
    summary: ThreadSummary
    last_activity_at: datetime
    last_read_thread_seq: int
    unread_replies: int
    unread_mentions: int


@dataclass(frozen=True, slots=True)
class FollowedThreadCursor:
    """Where the next page of followed threads starts (older activity than this)."""

    last_activity_at: datetime
    root_id: UUID


@dataclass(frozen=True, slots=True)
class FollowedThreadPage:
    threads: tuple[FollowedThread, ...]
    next_cursor: FollowedThreadCursor | None


@dataclass(frozen=True, slots=True)
class ResolvedMentions:
    """What `@username` tokens in a text name among a room's members: their ids in the
    order first written, each once (the caller's own left out, as a send drops the
    sender), whether `@room` was written (in any letter case; never a username), and the
    names that matched no member (unknown users, or users not in the room), each once."""

    user_ids: tuple[UUID, ...]
    mentions_room: bool
    unmatched: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Mention:
    """One entry of a user's mentions inbox: the message (as a normal read returns it) and
    whether it names the user or mentions the whole room."""

    message: Message
    by_name: bool


@dataclass(frozen=True, slots=True)
class MentionCursor:
    """Where a page of a mentions inbox ended: the last mention's message time and id; pass
    it as `before` for the next (older) page."""

    created_at: datetime
    message_id: UUID


@dataclass(frozen=True, slots=True)
class MentionPage:
    """A user's mentions, newest first; `next_cursor` is None when this page is the last."""

    mentions: tuple[Mention, ...]
    next_cursor: MentionCursor | None
