"""Read markers moved without naming a message: store.messages.mark_read_up_to (one room, up
to a seq or its last message) and store.mark_all_read (every room of the user). Markers
only move forward, unread counts come back exact, nothing else is written (no receipts),
refused calls write nothing, and the user's own channel hears each move once committed.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest

from chatstore import (
    ChatStore,
    CreateMessage,
    NotFound,
    PermissionDenied,
    ReadMarker,
    ValidationError,
)
from chatstore.commit_outcome import ReplyLost
from chatstore.realtime.events import KNOWN_EVENT_TYPES, Event, user_channel
from chatstore.realtime.stream import ClientStream
from chatstore.realtime.subscription import Subscription
from tests.dbchecks import connect, conversations
from tests.test_change_log import make_users
from tests.test_room_list import queries_sent

WAIT = 10.0


@dataclass(frozen=True)
class World:
    """alice owns `room` (ten messages from bob, the 4th and 8th deleted) and `other` (three
    messages from bob); bob is in both; mallory in neither."""

    room: uuid.UUID
    other: uuid.UUID
    alice: uuid.UUID
    bob: uuid.UUID
    mallory: uuid.UUID


@pytest.fixture
async def world(store: ChatStore) -> World:
    alice, bob, mallory = await make_users(store, 3)
    room = await store.rooms.create(name="general", kind="public", created_by=alice)
    other = await store.rooms.create(name="random", kind="public", created_by=alice)
    for target in (room, other):
        await store.rooms.add_member(target.id, bob)
    for n in range(1, 11):
        sent = await store.send_message(CreateMessage(room.id, bob, f"message {n}"))
        if n in (4, 8):
            await store.messages.delete(sent.id, acting_user_id=bob)
    for n in range(3):
        await store.send_message(CreateMessage(other.id, bob, f"other {n}"))
    return World(room.id, other.id, alice, bob, mallory)


async def marker_of(store: ChatStore, room: uuid.UUID, user: uuid.UUID) -> int:
    return (await store.rooms.require_member(room, user)).last_read_seq


async def receipts_count(store: ChatStore) -> int:
    async with connect(store.settings.database_url) as conn:
        row: Any = await conversations.count_receipts(conn)
    return int(row["n"])


@pytest.fixture
async def own_channel(store: ChatStore, world: World) -> AsyncIterator[Subscription]:
    """What alice's other devices hear on her channel."""
    async with store.events.subscribe([user_channel(world.alice)]) as subscription:
        yield subscription


async def next_event(subscription: Subscription) -> Event:
    async with asyncio.timeout(WAIT):
        while True:
            event = await anext(subscription)
            if event.type.startswith("marker."):
                return event


# -- mark_read_up_to ---------------------------------------------------------------------


async def test_the_marker_moves_forward_with_an_exact_unread_count(
    store: ChatStore, world: World
) -> None:
    w = world
    assert await marker_of(store, w.room, w.alice) == 0
    marker = await store.messages.mark_read_up_to(w.room, w.alice, 3)
    # Unread after seq 3: seqs 4..10 less the deleted 4 and 8.
    assert marker == ReadMarker(w.room, w.alice, 3, 5, moved=True)
    assert await marker_of(store, w.room, w.alice) == 3
    assert (await store.unread_counts(w.alice))[w.room] == 5

    marker = await store.messages.mark_read_up_to(str(w.room), str(w.alice), 8)
    assert marker == ReadMarker(w.room, w.alice, 8, 2, moved=True)
    assert (await store.unread_counts(w.alice))[w.room] == 2


async def test_the_marker_never_moves_backward(store: ChatStore, world: World) -> None:
    w = world
    await store.messages.mark_read_up_to(w.room, w.alice, 7)
    for seq in (7, 6, 0):
        marker = await store.messages.mark_read_up_to(w.room, w.alice, seq)
        assert marker == ReadMarker(w.room, w.alice, 7, 2, moved=False)
    assert await marker_of(store, w.room, w.alice) == 7


async def test_none_and_a_seq_past_the_end_mean_the_last_message(
    store: ChatStore, world: World
) -> None:
    w = world
    assert await store.messages.mark_read_up_to(w.room, w.alice, 10**9) == ReadMarker(
        w.room, w.alice, 10, 0, moved=True
    )
    assert await store.messages.mark_read_up_to(w.other, w.alice) == ReadMarker(
        w.other, w.alice, 3, 0, moved=True
    )
    assert await store.unread_counts(w.alice) == {w.room: 0, w.other: 0}
    # A new message is unread again; None reads up to it.
    await store.send_message(CreateMessage(w.room, w.bob, "new"))
    assert (await store.unread_counts(w.alice))[w.room] == 1
    assert await store.messages.mark_read_up_to(w.room, w.alice) == ReadMarker(
        w.room, w.alice, 11, 0, moved=True
    )


async def test_an_empty_room_marks_nothing(store: ChatStore) -> None:
    [alice] = await make_users(store, 1)
    room = await store.rooms.create(name="quiet", kind="public", created_by=alice)
    assert await store.messages.mark_read_up_to(room.id, alice) == ReadMarker(
        room.id, alice, 0, 0, moved=False
    )


async def test_no_receipts_are_written(store: ChatStore, world: World) -> None:
    before = await receipts_count(store)
    await store.messages.mark_read_up_to(world.room, world.alice)
    await store.mark_all_read(world.alice)
    assert await receipts_count(store) == before


async def test_missing_room_and_non_member(store: ChatStore, world: World) -> None:
    with pytest.raises(NotFound):
        await store.messages.mark_read_up_to(uuid.uuid4(), world.alice, 1)
    with pytest.raises(PermissionDenied):
        await store.messages.mark_read_up_to(world.room, world.mallory, 1)
    with pytest.raises(PermissionDenied):
        await store.messages.mark_read_up_to(world.room, uuid.uuid4())


@pytest.mark.parametrize(
    ("field", "args"),
    [
        ("seq", (-1,)),
        ("seq", (1.5,)),
        ("seq", (True,)),
        ("seq", ("3",)),
        ("seq", (2**63,)),
        ("room_id", ("general", None)),
        ("user_id", (None,)),
    ],
)
async def test_bad_input_writes_and_publishes_nothing(
    store: ChatStore,
    world: World,
    own_channel: Subscription,
    monkeypatch: pytest.MonkeyPatch,
    field: str,
    args: tuple[Any, ...],
) -> None:
    w = world
    room: Any = args[0] if field == "room_id" else w.room
    user: Any = args[0] if field == "user_id" else w.alice
    seq: Any = args[-1] if field == "seq" else None
    with queries_sent(monkeypatch) as sent, pytest.raises(ValidationError) as raised:
        await store.messages.mark_read_up_to(room, user, seq)
    assert raised.value.field == field
    assert sent == []
    assert await marker_of(store, w.room, w.alice) == 0
    # The next event on her channel is the next real move, not anything from the refusal.
    await store.messages.mark_read_up_to(w.room, w.alice, 2)
    assert (await next_event(own_channel)).payload["last_read_seq"] == 2


async def test_one_statement_per_call(
    store: ChatStore, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    for call in (
        store.messages.mark_read_up_to(world.room, world.alice, 5),
        store.messages.mark_read_up_to(world.room, world.alice, 5),  # nothing to move
        store.mark_all_read(world.alice),
        store.mark_all_read(world.alice),
    ):
        with queries_sent(monkeypatch) as sent:
            await call
        assert len(sent) == 1, sent


async def test_concurrent_moves_end_at_the_furthest_and_never_go_back(
    store: ChatStore, world: World
) -> None:
    w = world
    seqs = [3, 9, 1, 7, 10, 2, 5, 8, 6, 4] * 3
    markers = await asyncio.gather(
        *(store.messages.mark_read_up_to(w.room, w.alice, seq) for seq in seqs),
        store.mark_all_read(w.alice),
        store.mark_all_read(w.alice),
    )
    assert await marker_of(store, w.room, w.alice) == 10
    for seq, marker in zip(seqs, markers, strict=False):
        assert isinstance(marker, ReadMarker)
        # Each call saw the marker at least where it asked for, and reports it exactly.
        assert marker.last_read_seq >= seq
        expected_unread = sum(1 for s in range(marker.last_read_seq + 1, 11) if s not in (4, 8))
        assert marker.unread_count == expected_unread
    # The marker moved to each value at most once.
    moved_to = [m.last_read_seq for m in markers if isinstance(m, ReadMarker) and m.moved]
    assert len(moved_to) == len(set(moved_to))


# -- events ------------------------------------------------------------------------------


async def test_a_move_is_published_on_the_users_channel(
    store: ChatStore, world: World, own_channel: Subscription
) -> None:
    w = world
    assert {"marker.moved", "marker.all_read"} <= KNOWN_EVENT_TYPES
    await store.messages.mark_read_up_to(w.room, w.alice, 6)
    event = await next_event(own_channel)
    assert (event.type, event.room_id, event.seq, event.event_seq) == (
        "marker.moved",
        w.room,
        6,
        None,
    )
    assert event.payload == {
        "user_id": str(w.alice),
        "last_read_seq": 6,
        "unread_count": 3,
        "unread_mention_count": 0,
    }
    # A call that moves nothing publishes nothing: the next event is the next real move.
    await store.messages.mark_read_up_to(w.room, w.alice, 2)
    await store.messages.mark_read_up_to(w.room, w.alice, 9)
    assert (await next_event(own_channel)).payload["last_read_seq"] == 9


async def test_nothing_is_published_for_a_rolled_back_move(
    store: ChatStore, world: World, own_channel: Subscription
) -> None:
    w = world

    class Boom(Exception):
        pass

    async def rolled_back() -> None:
        async with store.transaction():
            marker = await store.messages.mark_read_up_to(w.room, w.alice, 5)
            assert marker.moved
            raise Boom

    with pytest.raises(Boom):
        await rolled_back()
    assert await marker_of(store, w.room, w.alice) == 0
    async with store.transaction():
        await store.messages.mark_read_up_to(w.room, w.alice, 4)
    assert (await next_event(own_channel)).payload["last_read_seq"] == 4


async def test_mark_all_read_moves_every_marker_behind_and_says_how_many(
    store: ChatStore, world: World, own_channel: Subscription
) -> None:
    w = world
    quiet = await store.rooms.create(name="quiet", kind="public", created_by=w.alice)
    await store.messages.mark_read_up_to(w.other, w.alice)  # already read to the end
    assert (await next_event(own_channel)).type == "marker.moved"
    assert await store.unread_counts(w.alice) == {w.room: 8, w.other: 0, quiet.id: 0}

    assert await store.mark_all_read(w.alice) == 1
    assert await store.unread_counts(w.alice) == {w.room: 0, w.other: 0, quiet.id: 0}
    assert await marker_of(store, w.room, w.alice) == 10
    event = await next_event(own_channel)
    assert (event.type, event.room_id, event.seq) == ("marker.all_read", None, None)
    assert event.payload == {"user_id": str(w.alice), "moved_count": 1}

    # Nothing behind: nothing moves and nothing is published; bob's markers are his own.
    assert await store.mark_all_read(w.alice) == 0
    assert (await store.unread_counts(w.bob)) == {w.room: 0, w.other: 0}
    await store.send_message(CreateMessage(w.other, w.bob, "more"))
    assert await store.mark_all_read(w.alice) == 1
    assert (await next_event(own_channel)).payload == {"user_id": str(w.alice), "moved_count": 1}


async def test_mark_all_read_of_an_unknown_user_and_bad_input(store: ChatStore) -> None:
    assert await store.mark_all_read(uuid.uuid4()) == 0
    for bad in ("alice", None, 7, b"x" * 16):
        with pytest.raises(ValidationError) as raised:
            await store.mark_all_read(bad)  # type: ignore[arg-type]
        assert raised.value.field == "user_id"


async def test_a_lost_answer_is_settled_and_still_published(
    store: ChatStore, world: World, own_channel: Subscription, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The statement applied, its answer was lost: asked again, it finds the marker already
    there (moved=False), yet the user's devices still hear of the move."""
    w = world
    members = store.db.queries.members
    real = members.mark_read_up_to
    calls = 0

    async def answer_lost_once(conn: Any, **params: Any) -> Any:
        nonlocal calls
        calls += 1
        row = await real(conn, **params)
        if calls == 1:
            raise ReplyLost("the answer was lost on the way back")
        return row

    monkeypatch.setattr(members, "mark_read_up_to", answer_lost_once)
    marker = await store.messages.mark_read_up_to(w.room, w.alice, 5)
    assert calls == 2
    assert marker == ReadMarker(w.room, w.alice, 5, 4, moved=False)
    assert await marker_of(store, w.room, w.alice) == 5
    event = await next_event(own_channel)
    assert (event.type, event.payload["last_read_seq"]) == ("marker.moved", 5)


async def test_the_users_other_device_hears_it_and_a_co_member_does_not(
    store: ChatStore, world: World
) -> None:
    """A stream follows co-members' channels for presence; their read markers are theirs."""
    w = world

    async def next_marker(stream: ClientStream) -> Event:
        async with asyncio.timeout(WAIT):
            async for event in stream:
                if event.type.startswith("marker."):
                    return event
        raise AssertionError("stream ended")

    async with (
        store.connect(w.alice, "alice-tablet") as alice_tablet,
        store.connect(w.bob, "bob-laptop") as bob_laptop,
    ):
        await store.messages.mark_read_up_to(w.room, w.alice, 6)
        await store.mark_all_read(w.alice)
        # bob wrote everything so far (sending moves the sender's marker): alice writes.
        await store.send_message(CreateMessage(w.other, w.alice, "hi bob"))
        await store.messages.mark_read_up_to(w.other, w.bob)
        seen = await next_marker(alice_tablet)
        assert (seen.type, seen.payload["user_id"], seen.payload["last_read_seq"]) == (
            "marker.moved",
            str(w.alice),
            6,
        )
        assert (await next_marker(alice_tablet)).type == "marker.all_read"
        # bob's laptop skips alice's two and hears bob's own.
        own = await next_marker(bob_laptop)
        assert (own.type, own.room_id, own.payload) == (
            "marker.moved",
            w.other,
            {
                "user_id": str(w.bob),
                "last_read_seq": 4,
                "unread_count": 0,
                "unread_mention_count": 0,
            },
        )
