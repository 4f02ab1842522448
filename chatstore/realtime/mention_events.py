"""`mention.received`: what a client stream adds after a message entry that mentions its
user, so a client can notify without parsing every entry's payload.

It is derived from the change log, not published: the stream yields it right after the
`message.created` or `message.edited` entry it comes from, and only then, so it arrives
exactly once and in order, with the entry's own guarantee. An edit announces only whom it
newly mentions (`mentions_added`, `room_mention_added`); a message never announces its own
sender.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from chatstore.realtime.events import Event


def mention_event(entry: Event, user_id: UUID) -> Event | None:
    """The `mention.received` event for `user_id` that `entry` carries, or None. Payload:
    message_id, seq, sender_id, thread_root_id, by_name (named, rather than only @room)."""
    payload = entry.payload
    user = str(user_id)
    if entry.type == "message.created":
        named = user in _ids(payload.get("mentions"))
        whole_room = payload.get("mentions_room") is True
    elif entry.type == "message.edited":
        named = user in _ids(payload.get("mentions_added"))
        whole_room = payload.get("room_mention_added") is True
    else:
        return None
    if not (named or whole_room) or payload.get("sender_id") == user:
        return None
    return Event(
        "mention.received",
        room_id=entry.room_id,
        seq=entry.seq,
        payload={
            "message_id": payload.get("id"),
            "seq": payload.get("seq"),
            "sender_id": payload.get("sender_id"),
            "thread_root_id": payload.get("thread_root_id"),
            "by_name": named,
        },
        at=entry.at,
    )


def _ids(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []
