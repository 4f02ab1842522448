"""A connected client's stream: authorized by membership, following it live, resumable from
cursors, exactly once and in order per room, with lost publishes delivered within a bound."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Sequence
from datetime import timedelta
from uuid import UUID

import pytest

from chatstore import ChatStore, CreateMessage, PermissionDenied, User, ValidationError
from chatstore.models import LogEntry, Room
from chatstore.realtime.events import Event

WAIT = 10.0
QUIET = 0.6  # three polls of the test settings' 0.2 s: long enough to see what should not come


async def users(store: ChatStore, *names: str) -> list[User]:
    return [
        await store.users.create(
            email=f"{name}@example.com", username=name, password=f"{name}-password-1"
        )
        for name in names
    ]


async def alice_and_bob_in(store: ChatStore, room_name: str) -> tuple[User, User, Room]:
    """Two users and a public room alice created and bob joined."""
    alice, bob = await users(store, "alice", "bob")
    room = await store.rooms.create(name=room_name, kind="public", created_by=alice.id)
    await store.rooms.add_member(room.id, bob.id)
    return alice, bob, room


async def take(stream: AsyncIterator[Event], count: int) -> list[Event]:
    """The next `count` change-log entries (ephemeral events pass by)."""
    taken: list[Event] = []
    async with asyncio.timeout(WAIT):
        async for event in stream:
            if event.event_seq is not None or event.type.startswith("stream."):
                taken.append(event)
                if len(taken) == count:
                    return taken
    raise AssertionError(f"stream ended after {taken}")


async def nothing_more(stream: AsyncIterator[Event]) -> list[Event]:
    """Entries arriving within QUIET seconds (expected: none)."""
    extra: list[Event] = []
    try:
        async with asyncio.timeout(QUIET):
            async for event in stream:
                if event.event_seq is not None:
                    extra.append(event)
    except TimeoutError:
        pass
    return extra


def kinds(events: Sequence[Event]) -> list[tuple[str, int | None]]:
    return [(event.type, event.seq) for event in events]


async def test_resume_from_cursors_brings_edits_and_deletes_of_older_messages(
    store: ChatStore,
) -> None:
    alice, bob, room = await alice_and_bob_in(store, "general")
    first = await store.send_message(CreateMessage(room.id, alice.id, "one"))
    second = await store.send_message(CreateMessage(room.id, alice.id, "two"))
    async with store.connect(bob.id, "phone", cursors={room.id: 0}) as stream:
        history = await take(stream, 3)
        saved = stream.cursors
    # Bob's stream starts at his own join: alice's (the owner's) came before it.
    assert kinds(history) == [
        ("member.joined", None),
        ("message.created", first.seq),
        ("message.created", second.seq),
    ]
    # While bob is offline: an old message edited, another deleted, a new one sent.
    await store.messages.update(first.id, "one, edited", editor_id=alice.id)
    await store.messages.delete(second.id, acting_user_id=alice.id)
    third = await store.send_message(CreateMessage(room.id, alice.id, "three"))
    async with store.connect(bob.id, "laptop", cursors=saved) as resumed:
        missed = await take(resumed, 3)
        assert await nothing_more(resumed) == []
    assert kinds(missed) == [
        ("message.edited", first.seq),
        ("message.deleted", second.seq),
        ("message.created", third.seq),
    ]
    assert missed[0].payload["content"] == "one, edited"
    assert [e.event_seq for e in missed] == [saved[room.id] + n for n in (1, 2, 3)]


async def test_a_removed_member_receives_nothing_after_the_removal(store: ChatStore) -> None:
    alice, bob, room = await alice_and_bob_in(store, "general")
    async with store.connect(bob.id, "phone") as stream:
        before = await store.send_message(CreateMessage(room.id, alice.id, "still here?"))
        await store.rooms.remove_member(room.id, bob.id, acting_user_id=alice.id)
        await store.send_message(CreateMessage(room.id, alice.id, "bob is gone"))
        await store.typing.start(room.id, alice.id)
        seen = await take(stream, 2)
        assert kinds(seen) == [("message.created", before.seq), ("member.removed", None)]
        assert seen[1].payload["user_id"] == str(bob.id)
        after: list[Event] = []
        try:
            async with asyncio.timeout(QUIET):
                async for event in stream:
                    if event.room_id == room.id:
                        after.append(event)  # typing included: nothing of the room at all
        except TimeoutError:
            pass
        assert after == []
        assert room.id not in stream.cursors


async def test_an_added_member_receives_the_room_from_joining(store: ChatStore) -> None:
    alice, bob = await users(store, "alice", "bob")
    lobby = await store.rooms.create(name="lobby", kind="public", created_by=alice.id)
    await store.rooms.add_member(lobby.id, bob.id)
    secret = await store.rooms.create(name="secret", kind="private", created_by=alice.id)
    async with store.connect(bob.id, "phone") as stream:
        await store.send_message(CreateMessage(secret.id, alice.id, "before bob"))
        started = time.monotonic()
        member = await store.rooms.add_member(secret.id, bob.id, acting_user_id=alice.id)
        welcome = await store.send_message(CreateMessage(secret.id, alice.id, "welcome bob"))
        seen = await take(stream, 2)
        joined_in = time.monotonic() - started
    assert kinds(seen) == [("member.joined", None), ("message.created", welcome.seq)]
    assert seen[0].payload["user_id"] == str(bob.id)
    assert all(event.room_id == secret.id for event in seen)
    assert member.room_id == secret.id
    assert joined_in < 2.0, joined_in


async def test_a_lost_publish_in_a_quiet_room_arrives_within_the_poll_bound(
    store: ChatStore,
) -> None:
    alice, bob, room = await alice_and_bob_in(store, "quiet")
    publisher = store.db.log_publisher

    async def lose(entries: Sequence[LogEntry]) -> None:
        return None  # as if Redis dropped it: nothing published

    async with store.connect(bob.id, "phone") as stream:
        store.db.log_publisher = lose
        try:
            started = time.monotonic()
            lost = await store.send_message(CreateMessage(room.id, alice.id, "anyone?"))
            (event,) = await take(stream, 1)
            delay = time.monotonic() - started
        finally:
            store.db.log_publisher = publisher
    assert (event.type, event.seq) == ("message.created", lost.seq)
    # The bound: one poll interval plus a query (0.2 s here; 1 s by default). The margin
    # is for a loaded machine, not for the mechanism.
    print(f"lost publish delivered after {delay * 1000:.0f} ms (poll every 200 ms)")
    assert delay < 5 * store.settings.stream_poll_seconds + 1.0, delay
    assert store.feed.stats.quiet_fills >= 1


async def test_a_retried_send_publishes_nothing_new(store: ChatStore) -> None:
    alice, bob, room = await alice_and_bob_in(store, "retry")
    async with store.connect(bob.id, "phone") as stream:
        message = CreateMessage(room.id, alice.id, "once", client_id="c-1")
        first = await store.send_message(message)
        again = await store.send_message(message)
        marker = await store.send_message(CreateMessage(room.id, alice.id, "after"))
        seen = await take(stream, 2)
    assert first.id == again.id
    assert kinds(seen) == [("message.created", first.seq), ("message.created", marker.seq)]
    assert seen[1].event_seq == seen[0].event_seq + 1  # type: ignore[operator]


async def test_a_cursor_older_than_the_retention_gets_an_explicit_reset(
    store: ChatStore,
) -> None:
    alice, bob, room = await alice_and_bob_in(store, "old")
    for n in range(3):
        await store.send_message(CreateMessage(room.id, alice.id, f"old {n}"))
    await asyncio.sleep(0.05)
    assert await store.log.prune(timedelta(seconds=0.01)) >= 5
    head = (await store.log.heads([room.id]))[room.id]
    async with store.connect(bob.id, "phone", cursors={room.id: 1}) as stream:
        (reset,) = await take(stream, 1)
        assert (reset.type, reset.room_id) == ("stream.reset", room.id)
        assert reset.payload["event_seq"] == head.last_event_seq
        fresh = await store.send_message(CreateMessage(room.id, alice.id, "new"))
        (event,) = await take(stream, 1)
        assert (event.type, event.seq) == ("message.created", fresh.seq)
        assert stream.cursors[room.id] == head.last_event_seq + 1


async def test_the_snapshot_on_connect_has_rooms_unread_counts_and_presence(
    store: ChatStore,
) -> None:
    alice, bob, room = await alice_and_bob_in(store, "general")
    await store.send_message(CreateMessage(room.id, alice.id, "unread"))
    await store.presence.connect(alice.id, "alice-phone")
    async with store.connect(bob.id, "phone") as stream:
        assert [(r.room.id, r.unread_count) for r in stream.snapshot_rooms] == [(room.id, 1)]
        assert stream.snapshot_online == {alice.id: True}
        assert await store.presence.is_online(bob.id)
    assert not await store.presence.is_online(bob.id)


async def test_an_application_event_is_a_log_entry_with_the_same_guarantee(
    store: ChatStore,
) -> None:
    alice, bob, room = await alice_and_bob_in(store, "polls")
    async with store.connect(bob.id, "phone") as stream:
        entry = await store.append_event(
            room.id, "app.poll_closed", {"poll": "lunch", "winner": "soup"}, actor_id=alice.id
        )
        (event,) = await take(stream, 1)
    assert (event.type, event.event_seq) == ("app.poll_closed", entry.event_seq)
    assert event.payload["winner"] == "soup"
    assert isinstance(entry.room_id, UUID)


async def test_ephemeral_events_and_typing_are_for_members_only(store: ChatStore) -> None:
    alice, bob, mallory = await users(store, "alice", "bob", "mallory")
    room = await store.rooms.create(name="team", kind="private", created_by=alice.id)
    await store.rooms.add_member(room.id, bob.id, acting_user_id=alice.id)
    with pytest.raises(PermissionDenied):
        await store.typing.start(room.id, mallory.id)
    with pytest.raises(PermissionDenied):
        await store.publish_ephemeral(room.id, "app.cursor_moved", {"x": 1}, user_id=mallory.id)
    with pytest.raises(ValidationError, match="type"):
        await store.publish_ephemeral(room.id, "message.created", {}, user_id=alice.id)
    async with store.connect(bob.id, "phone") as stream:
        await store.publish_ephemeral(room.id, "app.cursor_moved", {"x": 3}, user_id=alice.id)
        async with asyncio.timeout(WAIT):
            async for event in stream:
                if event.type == "app.cursor_moved":
                    break
    assert event.event_seq is None
    assert event.payload == {"x": 3, "user_id": str(alice.id)}


async def test_listing_members_as_a_user_is_for_members_only(store: ChatStore) -> None:
    alice, bob, mallory = await users(store, "alice", "bob", "mallory")
    room = await store.rooms.create(name="team", kind="public", created_by=alice.id)
    await store.rooms.add_member(room.id, bob.id)
    listed = await store.rooms.list_members(room.id, user_id=bob.id)
    assert {m.user_id for m in listed} == {alice.id, bob.id}
    with pytest.raises(PermissionDenied):
        await store.rooms.list_members(room.id, user_id=mallory.id)


async def test_a_client_that_falls_behind_misses_nothing(
    store: ChatStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("chatstore.realtime.stream.QUEUE_LIMIT", 5)
    alice, bob, room = await alice_and_bob_in(store, "busy")
    async with store.connect(bob.id, "phone") as stream:
        reads_at_open = stream.log_reads
        sent = [
            await store.send_message(CreateMessage(room.id, alice.id, f"burst {n}"))
            for n in range(30)
        ]
        await asyncio.sleep(0.3)  # the burst arrives while the client is not reading
        seen = await take(stream, 30)
        assert await nothing_more(stream) == []
        assert stream.log_reads > reads_at_open  # it re-read the log, once it overflowed
    assert [e.seq for e in seen] == [m.seq for m in sent]


async def test_a_rejoin_the_client_has_not_read_up_to_yet_is_still_followed(
    store: ChatStore,
) -> None:
    """Removed and added back while the client is not reading: by the time it reads its
    own removal, the rejoin was already noticed (with the room still open). Closing the
    room on that entry must not lose the rejoin."""
    alice, bob, room = await alice_and_bob_in(store, "slow reader")
    async with store.connect(bob.id, "phone") as stream:
        await store.rooms.remove_member(room.id, bob.id, acting_user_id=alice.id)
        await store.rooms.add_member(room.id, bob.id, acting_user_id=alice.id)
        await asyncio.sleep(QUIET * 3)  # every membership refresh has run, nothing is read
        back = await store.send_message(CreateMessage(room.id, alice.id, "welcome back"))
        seen = await take(stream, 3)
    assert kinds(seen) == [
        ("member.removed", None),
        ("member.joined", None),
        ("message.created", back.seq),
    ]


async def test_a_member_removed_and_added_again_sees_only_their_member_time(
    store: ChatStore,
) -> None:
    alice, bob, room = await alice_and_bob_in(store, "door")
    async with store.connect(bob.id, "phone") as stream:
        await store.rooms.remove_member(room.id, bob.id, acting_user_id=alice.id)
        hidden = await store.send_message(CreateMessage(room.id, alice.id, "while bob is out"))
        await asyncio.sleep(QUIET)
        await store.rooms.add_member(room.id, bob.id, acting_user_id=alice.id)
        back = await store.send_message(CreateMessage(room.id, alice.id, "welcome back"))
        seen = await take(stream, 3)
    assert kinds(seen) == [
        ("member.removed", None),
        ("member.joined", None),
        ("message.created", back.seq),
    ]
    assert hidden.seq not in [e.seq for e in seen]
