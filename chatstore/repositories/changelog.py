"""Change-log entries (`room_events`) as the repositories read them from query rows.

A write that appends to the log returns its entry beside what it returns anyway, under
`event_*` names (`event_room_id`, `event_seq`, `event_type`, `event_actor_id`,
`event_payload`, `event_created_at`), since the change's own row has a `room_id` and a
`created_at` too. The log's own reads (`sql/events.sql`) return the plain column names.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from chatstore.models import LogEntry

Row = Mapping[str, Any]


def entry(row: Row) -> LogEntry:
    """A row of the log itself: room_id, event_seq, type, actor_id, payload, created_at."""
    return LogEntry(
        room_id=row["room_id"],
        event_seq=int(row["event_seq"]),
        type=str(row["type"]),
        actor_id=row["actor_id"],
        payload=dict(row["payload"]),
        created_at=row["created_at"],
    )


def appended(row: Row) -> LogEntry | None:
    """The entry a write appended, from its `event_*` columns; None when it appended none
    (a write that changed nothing, such as setting a role a member already has)."""
    if row["event_seq"] is None:
        return None
    return LogEntry(
        room_id=row["event_room_id"],
        event_seq=int(row["event_seq"]),
        type=str(row["event_type"]),
        actor_id=row["event_actor_id"],
        payload=dict(row["event_payload"]),
        created_at=row["event_created_at"],
    )


def appended_all(rows: Iterable[Row | None]) -> list[LogEntry]:
    """The entries appended by these write rows (None rows and entry-less rows skipped)."""
    found = (appended(row) for row in rows if row is not None)
    return [item for item in found if item is not None]


__all__ = ["appended", "appended_all", "entry"]
