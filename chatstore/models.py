"""Frozen dataclasses the repositories return. None of them ever carries a password hash."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal
from uuid import UUID

if TYPE_CHECKING:  # these modules import this one: names for annotations only
    from chatstore.conversation_models import MessagePreview, ReactionCount, UserSummary
    from chatstore.thread_models import ThreadSummary

RoomKind = Literal["public", "private", "direct"]
Role = Literal["owner", "admin", "member"]
MessageKind = Literal["text", "image", "file", "system"]


@dataclass(frozen=True, slots=True)
class User:
    id: UUID
    email: str
    username: str
    display_name: str | None
    is_online: bool
    last_seen_at: datetime | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class Room:
    id: UUID
    kind: RoomKind
    name: str | None
    description: str | None
    created_by: UUID | None
    last_seq: int
    last_message_at: datetime | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class Member:
    room_id: UUID
    user_id: UUID
    role: Role
    joined_at: datetime
    last_read_seq: int
    last_read_at: datetime | None


@dataclass(frozen=True, slots=True)
class UserRoom:
    """One entry of a user's room list: the room, the user's role and unread counts
    (messages and mentions), what the list shows of the room's last message, and who a
    direct room is with."""

    room: Room
    role: Role
    last_read_seq: int
    unread_count: int
    # None when the room has no message yet.
    last_message: MessagePreview | None = None
    # The other user of a direct room; None for other rooms and once that user is deleted.
    direct_user: UserSummary | None = None
    # Of the unread messages, those that name the user or mention the whole room (each
    # once; exact, as unread_count).
    unread_mention_count: int = 0


@dataclass(frozen=True, slots=True)
class Attachment:
    """Metadata of an uploaded file; chatstore stores where it is, not the bytes."""

    url: str
    name: str
    mime_type: str
    size: int


@dataclass(frozen=True, slots=True)
class CreateMessage:
    """What a client sends. `client_id` makes a retried send return the first message."""

    room_id: UUID | str
    sender_id: UUID | str
    content: str = ""
    kind: MessageKind = "text"
    attachment: Attachment | None = None
    client_id: str | None = None
    # The message of the same room this one replies to (quotes); it must not be deleted.
    reply_to_id: UUID | str | None = None
    # The root of the thread this message replies in: a message of the same room, not
    # deleted and not a thread reply itself. A thread reply stays in its thread unless
    # `also_to_room` (then room pages that leave thread replies out show it too).
    thread_root_id: UUID | str | None = None
    also_to_room: bool = False
    # Users this message mentions (members only: anyone else is dropped, not refused), and
    # whether it mentions the whole room (owners and admins, or a direct room's users).
    mention_ids: tuple[UUID | str, ...] = ()
    mentions_room: bool = False


@dataclass(frozen=True, slots=True)
class Message:
    """A message as normal reads return it: a soft-deleted one has no content, attachment or
    quote."""

    id: UUID
    room_id: UUID
    seq: int
    sender_id: UUID | None
    kind: MessageKind
    content: str | None
    attachment: Attachment | None
    client_id: str | None
    created_at: datetime
    edited_at: datetime | None
    edit_count: int
    deleted_at: datetime | None
    # What this message quotes, as every read shows it (a deleted original as deleted,
    # never its content); None when it quotes nothing, and for a deleted message.
    reply_to: MessagePreview | None = None
    # A thread reply's root and its position in the thread (None outside threads), and
    # whether room pages that leave thread replies out show it (True outside threads).
    thread_root_id: UUID | None = None
    thread_seq: int | None = None
    shown_in_room: bool = True
    # The members it mentions, in the order given (empty for a deleted message), and
    # whether it mentions the whole room.
    mentioned_ids: tuple[UUID, ...] = ()
    mentions_room: bool = False
    # Filled by history pages and `get` (empty or None elsewhere): the reactions with
    # counts and whether the reader reacted, first used first; and, on a thread's root,
    # the thread's summary (None when nobody replied or followed yet).
    reactions: tuple[ReactionCount, ...] = ()
    thread: ThreadSummary | None = None

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None


@dataclass(frozen=True, slots=True)
class MessageRevision:
    """A previous version of an edited message (revision 1 is the original)."""

    message_id: UUID
    revision: int
    content: str
    edited_by: UUID | None
    written_at: datetime
    replaced_at: datetime


@dataclass(frozen=True, slots=True)
class MessagePage:
    """Messages in ascending seq order, and the cursors to fetch the neighbouring pages."""

    messages: tuple[Message, ...]
    # Pass as `before_seq` for older messages / `after_seq` for newer; None when no more.
    older_cursor: int | None
    newer_cursor: int | None


@dataclass(frozen=True, slots=True)
class Receipt:
    room_id: UUID
    message_id: UUID
    user_id: UUID
    read_at: datetime


@dataclass(frozen=True, slots=True)
class UnreadCount:
    """A member's unread messages in a room (`count`, exact: deleted ones left out) and,
    of those, how many name them or mention the whole room (`unread_mention_count`)."""

    room_id: UUID
    count: int
    last_seq: int
    last_read_seq: int
    unread_mention_count: int


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One entry of a room's change log: what a listener needs to apply one change.

    `event_seq` is gap-free per room in commit order. `type` is one of chatstore's
    (`message.created`, `message.edited`, `message.deleted`, `member.joined`, `member.left`,
    `member.removed`, `member.role_changed`, `room.updated`, `reaction.added`,
    `reaction.removed`, `message.pinned`, `message.unpinned`, `thread.followed`,
    `thread.unfollowed`) or an application's own.
    """

    room_id: UUID
    event_seq: int
    type: str
    actor_id: UUID | None
    payload: dict[str, Any]
    created_at: datetime


@dataclass(frozen=True, slots=True)
class RoomHead:
    """Where a room's change log stands."""

    room_id: UUID
    last_event_seq: int
    # Entries up to this event_seq were pruned by retention: a cursor below it cannot be
    # resumed (the client must reload the room).
    pruned_through: int


@dataclass(frozen=True, slots=True)
class Membership:
    """A user's membership of a room, as a stream needs it."""

    room_id: UUID
    role: Role
    # The event_seq of the member.joined entry that made the user a member: a stream that
    # follows a join starts there.
    joined_event_seq: int
    last_event_seq: int
    pruned_through: int
