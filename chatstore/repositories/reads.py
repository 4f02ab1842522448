"""What chatstore's code reads from each query's rows, by column name, per `file.query`.

The guardrails compare this with the columns each query in `sql/` really returns
(chatstore.guardrails.column_problems), so renaming an alias or dropping a column the code
reads fails the tests with a message naming the query, the column and the reader, instead
of surfacing at run time. Every query in `sql/` that returns rows must have an entry; one
whose rows are only checked for existence says so with NOT_READ_BY_NAME.

When you change what a repository reads from a row, change its entry here.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Final

from chatstore.models import LogEntry, Member, Message, MessageRevision, Receipt, Room, User
from chatstore.repositories.room_list import DIRECT_USER_COLUMNS, LAST_MESSAGE_COLUMNS


def _fields(cls: type[Any]) -> frozenset[str]:
    """The columns a `from_row(cls, row)` (or a mapper naming every field) reads."""
    return frozenset(field.name for field in dataclasses.fields(cls))


USER: Final = _fields(User)
ROOM: Final = _fields(Room)
MEMBER: Final = _fields(Member)
# Every query that returns messages returns these; pages and `get` also the reactions and
# the thread summary (chatstore.repositories.messages.PAGE_ONLY_FIELDS).
MESSAGE: Final = _fields(Message) - {"reactions", "thread"}
PAGE_MESSAGE: Final = _fields(Message)
REVISION: Final = _fields(MessageRevision)
RECEIPT: Final = _fields(Receipt)
ENTRY: Final = _fields(LogEntry)
# What a write that appends to the change log returns beside its own row: the entry, under
# event_* names (chatstore.repositories.changelog.appended).
APPENDED: Final = frozenset(
    {
        "event_room_id",
        "event_seq",
        "event_type",
        "event_actor_id",
        "event_payload",
        "event_created_at",
    }
)
# The rows are only tested for existence (`row is None`); no column is read by name.
NOT_READ_BY_NAME: Final[frozenset[str]] = frozenset()

_MESSAGES = "MessageRepository"
_ROOMS = "RoomRepository"
_USERS = "UserRepository"
_EVENTS = "EventLogRepository"
_REACTIONS = "ReactionRepository"
_PINS = "PinRepository"
_MARKERS = "ReadMarkerRepository"
_DIRECTORY = "RoomDirectory"
_MENTIONS = "MentionRepository"
_THREADS = "ThreadRepository"
# A room of the public directory (chatstore.repositories.room_directory).
_PUBLIC_ROOM = ROOM | {"member_count", "last_activity_at", "name_key"}
_PAGE = PAGE_MESSAGE | {"is_member", "room_last_seq"}
# What a send returns (chatstore.repositories.sending reads both send statements' rows).
_SENT = (
    MESSAGE
    | APPENDED
    | {"room_found", "is_member", "same_payload", "reply_ok", "thread_ok", "room_mention_ok"}
)
# What a reaction or pin write returns besides its log entry (reactions.room_write).
_ROOM_WRITE = APPENDED | {"room_id", "message_id", "is_member", "is_deleted", "is_stale", "changed"}

# file.query -> (who reads the rows, the columns read)
_ENTRIES: Final[dict[str, tuple[str, frozenset[str]]]] = {
    # sql/events.sql
    "events.entries_after": (f"{_EVENTS} and {_ROOMS}", ENTRY),
    "events.entries_after_many": (_EVENTS, ENTRY),
    "events.heads": (_EVENTS, frozenset({"room_id", "last_event_seq", "pruned_through"})),
    "events.head_numbers": (_EVENTS, frozenset({"last_event_seq", "pruned_through"})),
    "events.membership_versions": (_EVENTS, frozenset({"user_id", "membership_version"})),
    "events.memberships": (
        _EVENTS,
        frozenset({"room_id", "role", "joined_event_seq", "last_event_seq", "pruned_through"}),
    ),
    "events.append_event": (_EVENTS, APPENDED | {"is_member"}),
    "events.prune_events": (_EVENTS, frozenset({"deleted_count"})),
    # sql/members.sql
    "members.get_member": (_ROOMS, MEMBER),
    "members.unread_counts": (
        _MESSAGES,
        frozenset({"room_id", "last_seq", "last_read_seq", "unread_count", "unread_mention_count"}),
    ),
    "members.add_member": (_ROOMS, MEMBER | APPENDED),
    "members.add_members_if_absent": (_ROOMS, frozenset({"added_count", "first_event_seq"})),
    "members.set_member_role": (_ROOMS, MEMBER | APPENDED),
    "members.remove_member": (_ROOMS, APPENDED),
    "members.list_members": (_ROOMS, MEMBER),
    "members.mark_read_up_to": (
        _MARKERS,
        frozenset({"is_member", "moved", "last_read_seq", "unread_count", "unread_mention_count"}),
    ),
    "members.mark_all_read": (_MARKERS, frozenset({"moved_count"})),
    # sql/sending.sql and sql/sending_plain.sql: one reader, so both return the same row
    "sending.send_message": (_MESSAGES, _SENT),
    "sending_plain.send_plain_message": (_MESSAGES, _SENT),
    # sql/messages.sql
    "messages.get_message": (_MESSAGES, PAGE_MESSAGE | {"is_member"}),
    "messages.page_before": (_MESSAGES, _PAGE),
    "messages.page_after": (_MESSAGES, _PAGE),
    "messages.page_by_offset": (_MESSAGES, _PAGE),
    "messages.lock_message": (_MESSAGES, MESSAGE | {"actor_role", "room_kind"}),
    # sql/editing.sql
    "editing.replace_mentions": (
        _MESSAGES,
        frozenset({"added_ids", "room_mention_added"}),
    ),
    "editing.edit_message": (_MESSAGES, MESSAGE | APPENDED),
    "editing.soft_delete_message": (_MESSAGES, MESSAGE | APPENDED),
    "messages.message_history": (_MESSAGES, REVISION | {"is_member"}),
    # sql/mentions.sql
    "mentions.resolve_mentions": (_MENTIONS, frozenset({"name", "member_id", "is_member"})),
    "mentions.mention_inbox": (_MENTIONS, MESSAGE | {"by_name"}),
    # sql/migrations.sql
    "migrations.applied_migrations": ("chatstore.schema_version", frozenset({"version"})),
    "migrations.migrations_table_exists": ("chatstore.schema_version", frozenset({"present"})),
    # sql/pins.sql
    "pins.pin_message": (_PINS, _ROOM_WRITE | {"may_pin", "pinned_by", "pinned_at"}),
    "pins.unpin_message": (_PINS, _ROOM_WRITE | {"may_pin"}),
    "pins.room_pins": (_PINS, MESSAGE | {"pinned_by", "pinned_at", "is_member"}),
    # sql/presence.sql
    "presence.co_members": ("ChatStore.connect", frozenset({"user_id"})),
    "presence.last_seen_many": (
        "ChatStore (Presence.snapshot)",
        frozenset({"user_id", "last_seen_at"}),
    ),
    # sql/reactions.sql
    "reactions.add_reaction": (_REACTIONS, _ROOM_WRITE | {"reaction_count"}),
    "reactions.remove_reaction": (_REACTIONS, _ROOM_WRITE | {"reaction_count"}),
    "reactions.message_reactions": (
        _REACTIONS,
        frozenset({"message_id", "reaction", "reaction_count", "reacted_by_me", "is_member"}),
    ),
    "reactions.reaction_counts": (
        _REACTIONS,
        frozenset({"message_id", "reaction", "reaction_count", "reacted_by_me"}),
    ),
    "reactions.reactors": (
        _REACTIONS,
        frozenset({"reactor_id", "username", "reacted_at", "is_member"}),
    ),
    # sql/receipts.sql
    "receipts.mark_read": (_MESSAGES, frozenset({"is_member", "room_id", "seq", "read_at"})),
    "receipts.get_receipt": (_MESSAGES, RECEIPT),
    "receipts.message_receipts": (_MESSAGES, RECEIPT | {"is_member"}),
    # sql/rooms.sql
    "rooms.create_room": (_ROOMS, ROOM),
    "rooms.get_room": (_ROOMS, ROOM),
    "rooms.get_room_with_role": (_ROOMS, ROOM | {"member_role"}),
    "rooms.update_room": (_ROOMS, ROOM | APPENDED),
    "rooms.rooms_of_user": (
        _ROOMS,
        ROOM
        | {"role", "last_read_seq", "unread_count", "unread_mention_count"}
        | LAST_MESSAGE_COLUMNS
        | DIRECT_USER_COLUMNS,
    ),
    "rooms.public_rooms": (_DIRECTORY, _PUBLIC_ROOM),
    "rooms.search_public_rooms": (_DIRECTORY, _PUBLIC_ROOM),
    "rooms.insert_direct_room": (_ROOMS, ROOM),
    "rooms.get_direct_room": (_ROOMS, ROOM),
    # sql/sessions.sql
    "sessions.insert_session": ("SessionStore", frozenset({"created_at"})),
    "sessions.check_session": (
        "SessionStore",
        frozenset({"user_id", "data", "created_at", "expires_at"}),
    ),
    # sql/threads.sql
    "threads.thread_page": (_THREADS, PAGE_MESSAGE | {"is_member", "last_thread_seq"}),
    "threads.follow_thread": (_THREADS, APPENDED | {"changed"}),
    "threads.unfollow_thread": (_THREADS, APPENDED | {"changed"}),
    "threads.mark_thread_read": (
        _THREADS,
        frozenset(
            {
                "room_id",
                "is_member",
                "following",
                "moved",
                "last_read_thread_seq",
                "unread_replies",
                "unread_mentions",
            }
        ),
    ),
    "threads.followed_threads": (
        _THREADS,
        frozenset(
            {
                "room_id",
                "root",
                "reply_count",
                "last_thread_seq",
                "last_reply_at",
                "participant_ids",
                "last_activity_at",
                "last_read_thread_seq",
                "unread_replies",
                "unread_mentions",
            }
        ),
    ),
    # sql/transactions.sql
    "transactions.current_xact_id": ("chatstore.db", frozenset({"xact_id"})),
    "transactions.xact_status": ("chatstore.db", frozenset({"status"})),
    # sql/summary.sql
    "summary.database_summary": (
        "chatstore.demo",
        frozenset(
            {
                "users_count",
                "rooms_count",
                "memberships_count",
                "messages_count",
                "edited_messages_count",
                "deleted_messages_count",
                "read_receipts_count",
            }
        ),
    ),
    "summary.room_overview": (
        "chatstore.demo",
        frozenset({"display_name", "kind", "members", "last_seq"}),
    ),
    # sql/users.sql
    "users.create_user": (_USERS, USER),
    "users.get_user": (_USERS, USER),
    "users.get_user_by_email": (_USERS, USER),
    "users.get_user_by_username": (_USERS, USER),
    "users.get_login": (_USERS, USER | {"password_hash"}),
    "users.get_password_hash": (_USERS, frozenset({"password_hash"})),
    "users.max_password_cost": (_USERS, frozenset({"max_cost"})),
    "users.update_profile": (_USERS, USER),
    "users.set_online": (_USERS, USER),
}

READS: Final[dict[str, frozenset[str]]] = {key: columns for key, (_, columns) in _ENTRIES.items()}
READERS: Final[dict[str, str]] = {key: reader for key, (reader, _) in _ENTRIES.items()}

__all__ = ["NOT_READ_BY_NAME", "READERS", "READS"]
