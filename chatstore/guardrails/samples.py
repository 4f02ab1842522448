"""Typed stand-in values for query parameters, so PostgreSQL plans each query with
realistic types without anyone writing a test per query.

A value comes from, in order: the caller's known values (real ids from a loaded dataset),
the caller's samples, SAMPLE_VALUES, then a rule by name (`id`, `*_id`, `*_by` a UUID,
`*_ids` a list of UUIDs, `seq`/`*_seq` an integer, `is_*`/`set_*`/`has_*` true). A name
none of them covers is sent as NULL, whose type PostgreSQL infers from the query.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from psycopg.types.json import Jsonb

SAMPLE_VALUES: Final[Mapping[str, Any]] = {
    "limit": 50,
    "offset": 0,
    "content": "hello",
    "pattern": "%hello%",
    "kind": "text",
    "role": "member",
    "only_from_role": "owner",
    "name": "general",
    "description": "a room",
    "email": "alice@example.com",
    "username": "alice",
    "login": "alice",
    "display_name": "Alice",
    "password_hash": "$2b$10$" + "a" * 53,
    "old_hash": "$2b$10$" + "b" * 53,
    "client_id": "client-1",
    "xact_id": "1",  # a transaction id (xid8) as text, not a uuid
    "attachment": Jsonb({"url": "u", "name": "n", "mime_type": "m", "size": 1}),
    "online": True,
    "at": datetime(2026, 1, 1, tzinfo=UTC),
    "user_low": uuid.UUID(int=1),
    "user_high": uuid.UUID(int=2),
    "type": "app.sample",
    "payload": Jsonb({}),
    "older_than": timedelta(days=30),
    "reaction": ":thumbsup:",
    # Keyset cursors of reactors (oldest first) and pins (newest first).
    "after_at": datetime(2026, 1, 1, tzinfo=UTC),
    "before_at": datetime(2026, 1, 1, tzinfo=UTC),
    # The public room directory's keyset cursor: a lowercased room name.
    "after_name": "general",
    # Threads and mentions: flags planned on their less common side (a collapsed page, an
    # @room mention, a reply also shown in the room).
    "thread_replies": False,
    "also_to_room": True,
    "mentions_room": True,
    "room_mention_added": True,
    "mentions_added": [uuid.UUID(int=3)],
    "following": True,
    # Usernames a text mentions (sql/mentions.sql resolve_mentions).
    "names": ["alice", "bob"],
}

_FLAG_PREFIXES: Final = ("is_", "set_", "has_")


def sample(name: str, samples: Mapping[str, Any] | None = None) -> Any:
    """A typed value for a parameter called `name`, or None when no rule covers it."""
    if samples is not None and name in samples:
        return samples[name]
    if name in SAMPLE_VALUES:
        return SAMPLE_VALUES[name]
    if name == "id" or name.endswith(("_id", "_by")):
        return uuid.uuid4()
    if name.endswith("_ids"):
        return [uuid.uuid4()]
    if name.endswith("_seqs"):
        return [1]
    if name == "seq" or name.endswith("_seq"):
        return 1
    if name.startswith(_FLAG_PREFIXES):
        return True
    return None


def has_value(name: str, known: Mapping[str, Any], samples: Mapping[str, Any] | None) -> bool:
    """Whether `name` gets a value from somewhere rather than the NULL fallback."""
    return name in known or sample(name, samples) is not None


def values_for(
    parameters: Collection[str],
    known: Mapping[str, Any] | None = None,
    samples: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The parameter values to plan a query with: known values first, then samples."""
    given = known or {}
    return {name: given[name] if name in given else sample(name, samples) for name in parameters}
