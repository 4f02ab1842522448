"""Publishing committed change-log entries on their rooms' channels.

The store hands entry_messages() to its outbox (chatstore.realtime.outbox), which sends them
off the caller's path, many commits to a pipelined round trip. An entry about a user's own
membership (`member.*`) is also sent on that user's channel, as a hint that their streams
should re-read their rooms at once rather than at the next poll. A failed publish loses
nothing: the entries are in PostgreSQL, and every process's feed fills from there.
"""

from __future__ import annotations

from collections.abc import Sequence

from chatstore.models import LogEntry
from chatstore.realtime.events import entry_event, room_channel, user_channel


def entry_messages(entries: Sequence[LogEntry]) -> list[tuple[str, str]]:
    """(channel, JSON) for each entry on its room's channel, plus a copy of a `member.*`
    entry on its subject's user channel."""
    messages = []
    for entry in entries:
        data = entry_event(entry).to_json()
        messages.append((room_channel(entry.room_id), data))
        subject = entry.payload.get("user_id") if entry.type.startswith("member.") else None
        if isinstance(subject, str):
            messages.append((user_channel(subject), data))
    return messages
