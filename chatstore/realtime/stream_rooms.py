"""A client stream's rooms (chatstore.realtime.stream): the cursor it keeps per room, where
each room starts, and the events the stream makes up about a room.

Where a room starts, as the last event_seq the client is taken to have: on connect, at the
client's cursor, but never past the room's head (a cursor from the future is a client's
bug), never before the user's `member.joined` entry, and at the head with a `stream.reset`
event when the cursor is below what retention kept (`pruned_through`). On a membership
change, a room the user joined (or joined again after leaving) starts at its
`member.joined` entry.

Apart from the stream because these are pure rules over memberships and cursors: no queue,
no feed, no I/O, so they read (and can be checked) on their own.
"""

from __future__ import annotations

from collections.abc import Mapping
from uuid import UUID

from chatstore.models import Membership
from chatstore.realtime.events import Event


class StreamRoom:
    def __init__(self, room_id: UUID, cursor: int) -> None:
        self.room_id = room_id
        self.cursor = cursor  # the last event_seq yielded (or skipped as before the join)
        self.open = True


def connect_starts(
    memberships: Mapping[UUID, Membership], given: Mapping[UUID, int]
) -> tuple[dict[UUID, int], list[Event]]:
    """Where each of the user's rooms starts for cursors `given` by the client, and the
    `stream.reset` events for the rooms whose cursor is older than what the log keeps."""
    starts: dict[UUID, int] = {}
    resets: list[Event] = []
    for room_id, member in memberships.items():
        cursor = given.get(room_id)
        # A cursor from the future (a client's bug) starts at the head: nothing is lost.
        start = member.last_event_seq if cursor is None else min(cursor, member.last_event_seq)
        if start < member.pruned_through:
            resets.append(reset_event(room_id, member.last_event_seq))
            start = member.last_event_seq
        # Nothing from before the user joined, whatever the cursor says.
        starts[room_id] = max(start, member.joined_event_seq - 1)
    return starts, resets


def joined_starts(
    memberships: Mapping[UUID, Membership], rooms: Mapping[UUID, StreamRoom]
) -> dict[UUID, int]:
    """The rooms to start after a membership change, each at its `member.joined` entry."""
    starts: dict[UUID, int] = {}
    for room_id, member in memberships.items():
        room = rooms.get(room_id)
        # A closed room the user is a member of again: the membership is newer than the
        # leaving entry that closed it (joined_event_seq > cursor), so start again there.
        if room is None or (not room.open and member.joined_event_seq > room.cursor):
            starts[room_id] = member.joined_event_seq - 1
    return starts


def left_cursors(
    memberships: Mapping[UUID, Membership], rooms: Mapping[UUID, StreamRoom]
) -> dict[UUID, int]:
    """The open rooms the user is no longer a member of, at their cursors: the log is read
    from there up to the user's leaving entry, which closes the room as it is yielded."""
    return {
        room_id: room.cursor
        for room_id, room in rooms.items()
        if room.open and room_id not in memberships
    }


def reset_event(room_id: UUID, head: int) -> Event:
    return Event(type="stream.reset", room_id=room_id, payload={"event_seq": head})


def closed_event(room_id: UUID, reason: str) -> Event:
    return Event(type="stream.room_closed", room_id=room_id, payload={"reason": reason})
