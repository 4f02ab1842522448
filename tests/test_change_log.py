"""The room change log (room_events): every room-scoped change appends one entry in the same
statement as the change, numbered per room under the room row lock, so event_seq is gap-free
in commit order; retention, memberships and membership_version for live streams.

Writes go through ChatStore (the `store` fixture); the cost of logging a send is measured on
a bare Database with the plain repositories, so no background task adds noise.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

import aiosql
import bcrypt
import psycopg
import pytest
from psycopg.types.json import Jsonb

from chatstore import ChatStore, CreateMessage, Settings
from chatstore.conversation_models import MessagePreview
from chatstore.db import Database
from chatstore.errors import (
    AlreadyExists,
    NotFound,
    PermissionDenied,
    Unavailable,
    ValidationError,
)
from chatstore.guardrails import load_queries, plan_problems
from chatstore.guardrails.plans import connect, explain, plan_nodes
from chatstore.models import Attachment, LogEntry, Message, Role
from chatstore.repositories import EventLogRepository, MessageRepository, RoomRepository
from chatstore.resources import packaged_sql_dir
from tests.conftest import settings_for
from tests.dbchecks import connect as connect_async
from tests.dbchecks import probes
from tests.servers import RedisServer

HASH = bcrypt.hashpw(b"change log tests", bcrypt.gensalt(10)).decode()
# Typed values for the events.sql parameters that the guardrails' sample rules do not cover.
EVENT_SAMPLES = {
    "after_seqs": [1],
    "type": "app.sample",
    "payload": Jsonb({}),
    "older_than": timedelta(days=30),
}
# A log large enough that a sequential scan of room_events would show in a plan.
BULK: Any = aiosql.from_str(
    """
-- name: bulk_log(rooms, per_room)!
-- Rooms, each with per_room entries, the oldest first.
WITH new_rooms AS (
    INSERT INTO rooms (kind, name, last_event_seq)
    SELECT 'public', 'log-' || g.n, :per_room FROM generate_series(1, :rooms) AS g (n)
    RETURNING id
)
INSERT INTO room_events (room_id, event_seq, type, payload, created_at)
SELECT r.id, s.n, 'app.bulk', '{}'::jsonb, now() - make_interval(secs => :per_room - s.n)
FROM new_rooms AS r CROSS JOIN generate_series(1, :per_room) AS s (n);

-- name: analyze_log()!
-- Planner statistics after the bulk load.
ANALYZE rooms, room_events;

-- name: any_room()^
-- One room id.
SELECT id FROM rooms LIMIT 1;
""",
    "apsycopg",
)


# -- helpers -------------------------------------------------------------------------------------


@pytest.fixture
def log(store: ChatStore) -> EventLogRepository:
    return EventLogRepository(store.db, store.settings)


async def make_users(store: ChatStore | str, count: int) -> list[uuid.UUID]:
    """Users straight into PostgreSQL with one precomputed hash (bcrypt per user is slow)."""
    ids = [uuid.uuid4() for _ in range(count)]
    url = store if isinstance(store, str) else store.settings.database_url
    async with connect_async(url) as conn:
        for user in ids:
            await probes.insert_user(
                conn, id=user, email=f"{user}@example.com", username=user.hex, password_hash=HASH
            )
    return ids


def types(entries: Sequence[LogEntry]) -> list[str]:
    return [entry.type for entry in entries]


def as_read(message: Message) -> dict[str, Any]:
    """A message as a normal read returns it, the way the log's payload spells it."""
    attachment = message.attachment
    return {
        "id": str(message.id),
        "room_id": str(message.room_id),
        "seq": message.seq,
        "sender_id": None if message.sender_id is None else str(message.sender_id),
        "kind": message.kind,
        "content": message.content,
        "attachment": None
        if attachment is None
        else {
            "url": attachment.url,
            "name": attachment.name,
            "mime_type": attachment.mime_type,
            "size": attachment.size,
        },
        "client_id": message.client_id,
        "created_at": message.created_at,
        "edited_at": message.edited_at,
        "edit_count": message.edit_count,
        "deleted": False,
        "reply_to": None if message.reply_to is None else quoted(message.reply_to),
        "thread_root_id": None if message.thread_root_id is None else str(message.thread_root_id),
        "thread_seq": message.thread_seq,
        "shown_in_room": message.shown_in_room,
        "mentions": [str(user) for user in message.mentioned_ids],
        "mentions_room": message.mentions_room,
    }


def as_created(message: Message) -> dict[str, Any]:
    """A message.created payload: the message as read, its thread's summary (None outside a
    thread) and who started following that thread."""
    return as_read(message) | {"thread": None, "new_followers": []}


def as_edited(message: Message) -> dict[str, Any]:
    """A message.edited payload for an edit that mentions nobody new."""
    return as_read(message) | {"mentions_added": [], "room_mention_added": False}


def quoted(preview: MessagePreview) -> dict[str, Any]:
    """A reply's preview, the way the log's payload spells it (sql's message_preview)."""
    return {
        "id": str(preview.id),
        "seq": preview.seq,
        "sender_id": None if preview.sender_id is None else str(preview.sender_id),
        "kind": preview.kind,
        "created_at": preview.created_at.isoformat(),
        "content": preview.content,
        "is_deleted": preview.is_deleted,
    }


def parsed(payload: dict[str, Any]) -> dict[str, Any]:
    """The payload with its ISO timestamps read back as datetimes, to compare instants."""
    return {
        key: datetime.fromisoformat(value) if key.endswith("_at") and value else value
        for key, value in payload.items()
    }


class Published:
    """Stands in for the store's publisher: records what log_appended hands over."""

    def __init__(self) -> None:
        self.batches: list[tuple[LogEntry, ...]] = []

    async def __call__(self, entries: Sequence[LogEntry]) -> None:
        self.batches.append(tuple(entries))

    @property
    def entries(self) -> list[LogEntry]:
        return [entry for batch in self.batches for entry in batch]


@pytest.fixture
def published(store: ChatStore) -> Iterator[Published]:
    recorder, original = Published(), store.db.log_publisher
    store.db.log_publisher = recorder
    try:
        yield recorder
    finally:
        store.db.log_publisher = original


@contextmanager
def statements(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The statements this task sends (BEGIN/COMMIT aside), so other tasks add no noise."""
    seen: list[str] = []
    task = asyncio.current_task()
    original = psycopg.AsyncConnection.execute

    async def execute(self: Any, query: Any, *args: Any, **kwargs: Any) -> Any:
        if asyncio.current_task() is task:
            # The pool's check of a connection it hands out is an empty query.
            seen.append(" ".join(str(query).split())[:40] or "(pool check)")
        return await original(self, query, *args, **kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(psycopg.AsyncConnection, "execute", execute)
        yield seen


# -- ordering ------------------------------------------------------------------------------------


async def test_concurrent_senders_get_event_seqs_1_to_n_in_message_order(
    store: ChatStore, log: EventLogRepository
) -> None:
    people = await make_users(store, 20)
    owner = people[0]
    room = await store.rooms.create(name="busy", kind="public", created_by=owner)
    for person in people[1:]:
        await store.rooms.add_member(room.id, person, acting_user_id=owner)
    sent = await asyncio.gather(
        *(
            store.send_message(CreateMessage(room.id, p, f"hi from {n}"))
            for n, p in enumerate(people)
        )
    )
    entries = await log.after(room.id, 0, limit=1000)
    assert [entry.event_seq for entry in entries] == list(range(1, 41))
    assert types(entries) == ["member.joined"] * 20 + ["message.created"] * 20
    assert [e.payload["user_id"] for e in entries[:20]] == [str(p) for p in people]
    # Message seqs and event_seqs are taken together under the room lock: same order.
    created = entries[20:]
    assert [e.payload["seq"] for e in created] == list(range(1, 21))
    by_seq = {message.seq: message for message in sent}
    assert all(parsed(e.payload) == as_created(by_seq[e.payload["seq"]]) for e in created)
    assert all(e.actor_id == by_seq[e.payload["seq"]].sender_id for e in created)
    assert (await log.heads([room.id]))[room.id].last_event_seq == 40
    # The feed's poll asks by position: a missing room is None in its place.
    missing = uuid.uuid4()
    assert await log.head_numbers([missing, room.id, missing]) == [None, (40, 0), None]
    assert await log.head_numbers([]) == []
    joined = {p: (await log.memberships(p))[room.id].joined_event_seq for p in people}
    assert [joined[p] for p in people] == list(range(1, 21))


async def test_a_mixed_concurrent_workload_keeps_the_log_gap_free(
    store: ChatStore, log: EventLogRepository
) -> None:
    owner, *people = await make_users(store, 9)
    room = await store.rooms.create(name="mixed", kind="public", created_by=owner)
    members, newcomers = people[:5], people[5:]
    for person in members:
        await store.rooms.add_member(room.id, person, acting_user_id=owner)
    first = [await store.send_message(CreateMessage(room.id, p, "first")) for p in members]

    async def chatter(person: uuid.UUID, message: Message) -> None:
        for n in range(3):
            await store.send_message(CreateMessage(room.id, person, f"more {n}"))
        await store.messages.update(message.id, "edited", editor_id=person)
        await store.messages.delete(message.id, acting_user_id=person)

    await asyncio.gather(
        *(chatter(p, m) for p, m in zip(members, first, strict=True)),
        *(store.rooms.add_member(room.id, p) for p in newcomers),
        store.rooms.set_role(room.id, members[0], "admin", acting_user_id=owner),
        store.rooms.update(room.id, acting_user_id=owner, name="renamed"),
        log.append(room.id, "app.poll_closed", {"poll": 1}, actor_id=owner),
    )
    entries = await log.after(room.id, 0, limit=1000)
    assert [e.event_seq for e in entries] == list(range(1, len(entries) + 1))
    counts = {kind: types(entries).count(kind) for kind in set(types(entries))}
    assert counts == {
        "member.joined": 1 + 5 + 3,
        "message.created": 5 + 15,
        "message.edited": 5,
        "message.deleted": 5,
        "member.role_changed": 1,
        "room.updated": 1,
        "app.poll_closed": 1,
    }
    message_seqs = [e.payload["seq"] for e in entries if e.type == "message.created"]
    assert message_seqs == sorted(message_seqs)


async def test_room_deletion_racing_edits_never_deadlocks(store: ChatStore) -> None:
    """Edits lock the room before the message, the order room deletion uses too."""
    owner, writer = await make_users(store, 2)
    for round_number in range(5):
        room = await store.rooms.create(
            name=f"doomed {round_number}", kind="public", created_by=owner
        )
        await store.rooms.add_member(room.id, writer)
        sent = [await store.send_message(CreateMessage(room.id, writer, "x")) for _ in range(4)]
        results = await asyncio.gather(
            *(store.messages.update(m.id, "y", editor_id=writer) for m in sent),
            store.rooms.delete(room.id, acting_user_id=owner),
            return_exceptions=True,
        )
        assert not [r for r in results if isinstance(r, Unavailable)], results
        assert all(r is None or isinstance(r, Message | NotFound) for r in results), results


async def test_racing_membership_changes_log_what_really_happened(
    store: ChatStore, log: EventLogRepository
) -> None:
    """Role changes read the previous role under the room lock, removals lock the room before
    the membership row a sender's read marker also moves, and an append by a member being
    removed is ordered before the removal or refused: never logged after it."""
    owner, target, *senders = await make_users(store, 6)
    room = await store.rooms.create(name="race", kind="public", created_by=owner)
    for person in [target, *senders]:
        await store.rooms.add_member(room.id, person)
    roles: list[Role] = ["admin", "member"] * 5

    async def send_then_leave(person: uuid.UUID) -> None:
        for n in range(5):
            await store.send_message(CreateMessage(room.id, person, f"{n}"))
        await store.rooms.remove_member(room.id, person, acting_user_id=owner)

    async def append_until_refused(person: uuid.UUID) -> None:
        try:
            while True:
                await log.append(room.id, "app.ping", {}, actor_id=person)
        except PermissionDenied:
            return

    await asyncio.gather(
        *(store.rooms.set_role(room.id, target, r, acting_user_id=owner) for r in roles),
        *(send_then_leave(person) for person in senders),
        *(append_until_refused(person) for person in senders),
    )
    entries = await log.after(room.id, 0, limit=10_000)
    assert [e.event_seq for e in entries] == list(range(1, len(entries) + 1))
    changes = [e.payload for e in entries if e.type == "member.role_changed"]
    assert [c["previous_role"] for c in changes] == ["member"] + [c["role"] for c in changes[:-1]]
    for person in senders:
        mine = [
            e for e in entries if e.actor_id == person or e.payload.get("user_id") == str(person)
        ]
        assert mine[-1].type == "member.removed", mine[-3:]
        assert types(mine).count("message.created") == 5


# -- what each change appends --------------------------------------------------------------------


async def test_each_change_appends_one_entry_with_what_a_listener_needs(
    store: ChatStore, log: EventLogRepository, published: Published
) -> None:
    alice, bob, carol = await make_users(store, 3)
    room = await store.rooms.create(name="general", kind="public", created_by=alice)
    await store.rooms.add_member(room.id, bob, acting_user_id=alice)
    await store.rooms.add_member(room.id, carol)  # joins a public room herself
    image = CreateMessage(
        room.id,
        bob,
        "look",
        kind="image",
        attachment=Attachment("https://f/a.png", "a.png", "image/png", 9),
    )
    sent = await store.send_message(image)
    edited = await store.messages.update(sent.id, "look at this", editor_id=bob)
    deleted = await store.messages.delete(sent.id, acting_user_id=alice)
    await store.messages.mark_as_read(sent.id, carol)  # receipts stay out of the log
    await store.rooms.set_role(room.id, carol, "admin", acting_user_id=alice)
    await store.rooms.set_role(room.id, carol, "admin", acting_user_id=alice)  # no change
    await store.rooms.update(room.id, acting_user_id=alice, description="news")
    await store.rooms.remove_member(room.id, carol, acting_user_id=alice)
    await store.rooms.remove_member(room.id, bob)
    entries = await log.after(room.id, 0)
    a, b, c = str(alice), str(bob), str(carol)
    assert [(e.event_seq, e.type, e.actor_id) for e in entries] == [
        (1, "member.joined", alice),
        (2, "member.joined", alice),
        (3, "member.joined", carol),
        (4, "message.created", bob),
        (5, "message.edited", bob),
        (6, "message.deleted", alice),
        (7, "member.role_changed", alice),
        (8, "room.updated", alice),
        (9, "member.removed", alice),
        (10, "member.left", bob),
    ]
    payloads = [e.payload for e in entries]
    assert payloads[:3] == [
        {"user_id": a, "role": "owner"},
        {"user_id": b, "role": "member"},
        {"user_id": c, "role": "member"},
    ]
    assert parsed(payloads[3]) == as_created(sent)
    assert parsed(payloads[4]) == as_edited(edited)
    assert parsed(payloads[5]) == {
        "id": str(sent.id),
        "room_id": str(room.id),
        "seq": sent.seq,
        "deleted_at": deleted.deleted_at,
        "deleted_by": a,
        "thread_root_id": None,
        "thread": None,
    }
    assert payloads[6] == {"user_id": c, "role": "admin", "previous_role": "member"}
    assert payloads[7] == {"name": "general", "description": "news"}
    assert payloads[8] == {"user_id": c, "role": "admin", "removed_by": a}
    assert payloads[9] == {"user_id": b, "role": "member"}
    # Every entry went to the publisher, once, in order.
    assert published.entries == entries


async def test_a_retried_send_and_refused_changes_append_nothing(
    store: ChatStore, log: EventLogRepository
) -> None:
    alice, bob, outsider = await make_users(store, 3)
    room = await store.rooms.create(name="retry", kind="private", created_by=alice)
    await store.rooms.add_member(room.id, bob, acting_user_id=alice)
    first = await store.send_message(CreateMessage(room.id, bob, "once", client_id="c-1"))
    head = (await log.heads([room.id]))[room.id].last_event_seq
    again = await store.send_message(CreateMessage(room.id, bob, "once", client_id="c-1"))
    assert again.id == first.id
    with pytest.raises(AlreadyExists):
        await store.rooms.add_member(room.id, bob, acting_user_id=alice)
    with pytest.raises(PermissionDenied):
        await store.messages.update(first.id, "not mine", editor_id=alice)
    with pytest.raises(PermissionDenied):
        await store.rooms.add_member(room.id, outsider)  # a private room
    with pytest.raises(NotFound):
        await store.rooms.remove_member(room.id, outsider, acting_user_id=alice)
    await store.messages.delete(first.id, acting_user_id=bob)
    await store.messages.delete(first.id, acting_user_id=bob)  # already deleted: unchanged
    entries = await log.after(room.id, 0)
    assert types(entries) == [
        "member.joined",
        "member.joined",
        "message.created",
        "message.deleted",
    ]
    assert entries[-1].event_seq == head + 1


async def test_ownership_transfer_and_direct_rooms(
    store: ChatStore, log: EventLogRepository
) -> None:
    alice, bob = await make_users(store, 2)
    room = await store.rooms.create(name="handover", kind="public", created_by=alice)
    await store.rooms.add_member(room.id, bob)
    await store.rooms.set_role(room.id, bob, "owner", acting_user_id=alice)
    transfer = await log.after(room.id, 2)
    assert [(e.type, e.payload) for e in transfer] == [
        ("member.role_changed", {"user_id": str(alice), "role": "admin", "previous_role": "owner"}),
        ("member.role_changed", {"user_id": str(bob), "role": "owner", "previous_role": "member"}),
    ]
    direct = await store.rooms.get_or_create_direct(bob, alice)
    assert await store.rooms.get_or_create_direct(alice, bob) == direct
    entries = await log.after(direct.id, 0)
    low, high = sorted([alice, bob])
    assert [(e.event_seq, e.type, e.actor_id, e.payload["user_id"]) for e in entries] == [
        (1, "member.joined", bob, str(low)),
        (2, "member.joined", bob, str(high)),
    ]
    memberships = {user: (await log.memberships(user))[direct.id] for user in (low, high)}
    assert [memberships[low].joined_event_seq, memberships[high].joined_event_seq] == [1, 2]


async def test_a_rolled_back_transaction_appends_and_publishes_nothing(
    store: ChatStore, log: EventLogRepository, published: Published
) -> None:
    alice, bob = await make_users(store, 2)
    room = await store.rooms.create(name="tx", kind="public", created_by=alice)
    before = (await log.heads([room.id]))[room.id]
    published.batches.clear()

    async def change_of_mind() -> None:
        async with store.transaction():
            await store.rooms.add_member(room.id, bob)
            await store.send_message(CreateMessage(room.id, bob, "never"))
            raise RuntimeError("changed my mind")

    with pytest.raises(RuntimeError):
        await change_of_mind()
    assert (await log.heads([room.id]))[room.id] == before
    assert await log.after(room.id, before.last_event_seq) == []
    assert published.batches == []
    async with store.transaction():
        await store.rooms.add_member(room.id, bob)
        await store.send_message(CreateMessage(room.id, bob, "kept"))
        assert published.batches == []  # handed over only once committed
    assert types(published.entries) == ["member.joined", "message.created"]
    assert published.entries == await log.after(room.id, before.last_event_seq)


# -- memberships ---------------------------------------------------------------------------------


async def test_membership_version_moves_on_join_leave_and_room_deletion(
    store: ChatStore, log: EventLogRepository
) -> None:
    alice, bob = await make_users(store, 2)
    profile = await store.users.get(bob)
    assert await log.membership_versions([alice, bob, uuid.uuid4()]) == {alice: 0, bob: 0}
    room = await store.rooms.create(name="v", kind="public", created_by=alice)
    await store.rooms.add_member(room.id, bob)
    assert await log.membership_versions([alice, bob]) == {alice: 1, bob: 1}
    await store.send_message(CreateMessage(room.id, bob, "no change"))
    await store.rooms.set_role(room.id, bob, "admin", acting_user_id=alice)
    assert await log.membership_versions([bob]) == {bob: 1}
    await store.rooms.remove_member(room.id, bob)
    await store.rooms.add_member(room.id, bob)
    assert await log.membership_versions([bob]) == {bob: 3}
    assert set(await log.memberships(bob)) == {room.id}
    await store.rooms.delete(room.id, acting_user_id=alice)  # cascaded memberships count too
    assert await log.membership_versions([alice, bob]) == {alice: 2, bob: 4}
    assert await log.memberships(bob) == {}
    # Only membership_version moved: the profile's updated_at did not.
    assert (await store.users.get(bob)).updated_at == profile.updated_at


async def test_memberships_carry_role_join_point_and_head(
    store: ChatStore, log: EventLogRepository
) -> None:
    alice, bob = await make_users(store, 2)
    first = await store.rooms.create(name="one", kind="public", created_by=alice)
    second = await store.rooms.create(name="two", kind="public", created_by=bob)
    await store.send_message(CreateMessage(first.id, alice, "before bob"))
    await store.rooms.add_member(first.id, bob)
    mine = await log.memberships(bob)
    assert {room: (m.role, m.joined_event_seq, m.last_event_seq) for room, m in mine.items()} == {
        first.id: ("member", 3, 3),
        second.id: ("owner", 1, 1),
    }


# -- reading the log -----------------------------------------------------------------------------


async def test_after_many_reads_every_room_after_its_cursor_in_one_statement(
    store: ChatStore, log: EventLogRepository, monkeypatch: pytest.MonkeyPatch
) -> None:
    (alice,) = await make_users(store, 1)
    rooms = [
        await store.rooms.create(name=f"r{n}", kind="public", created_by=alice) for n in range(3)
    ]
    for n, room in enumerate(rooms):
        for k in range(n + 2):
            await store.send_message(CreateMessage(room.id, alice, f"{n}.{k}"))
    missing = uuid.uuid4()
    cursors = {rooms[0].id: 0, rooms[1].id: 2, rooms[2].id: 5, missing: 0}
    with statements(monkeypatch) as sent:
        found = await log.after_many(cursors, limit=2)
    assert [s for s in sent if s != "(pool check)"] == [sent[-1]], sent
    assert sent[-1].startswith("WITH cursors"), sent
    assert {room: [e.event_seq for e in entries] for room, entries in found.items()} == {
        rooms[0].id: [1, 2],
        rooms[1].id: [3, 4],
        rooms[2].id: [],
        missing: [],
    }
    assert found[rooms[1].id] == await log.after(rooms[1].id, 2, limit=2)
    heads = await log.heads([room.id for room in rooms] + [missing])
    assert {room: head.last_event_seq for room, head in heads.items()} == {
        rooms[0].id: 3,
        rooms[1].id: 4,
        rooms[2].id: 5,
    }
    with pytest.raises(ValidationError):
        await log.after_many({rooms[0].id: -1})
    with pytest.raises(ValidationError):
        await log.heads("not a list")  # type: ignore[arg-type]


# -- application entries -------------------------------------------------------------------------


async def test_append_validates_type_payload_and_membership(
    store: ChatStore, log: EventLogRepository, published: Published
) -> None:
    alice, bob = await make_users(store, 2)
    room = await store.rooms.create(name="polls", kind="public", created_by=alice)
    published.batches.clear()
    entry = await log.append(
        room.id, "app.poll_closed", {"poll": 7, "votes": [1, 2]}, actor_id=alice
    )
    assert (entry.event_seq, entry.type, entry.actor_id) == (2, "app.poll_closed", alice)
    assert entry.payload == {"poll": 7, "votes": [1, 2]}
    assert published.entries == [entry]
    assert await log.after(room.id, 1) == [entry]
    for bad_type in (
        "App.x",
        "app",
        "app.",
        "1app.x",
        "app.x\n",
        "a." + "x" * 63,
        "message.fake",
        "stream.reset",
    ):
        with pytest.raises(ValidationError) as caught:
            await log.append(room.id, bad_type, {}, actor_id=alice)
        assert caught.value.field == "type", bad_type
    for bad_payload in (
        [1],
        {"x": float("nan")},
        {1: "a"},
        {"x": {1, 2}},
        {"x": "\x00"},
        {"x": "y" * 17_000},
    ):
        with pytest.raises(ValidationError) as caught:
            await log.append(room.id, "app.x", bad_payload, actor_id=alice)  # type: ignore[arg-type]
        assert caught.value.field == "payload", bad_payload
    with pytest.raises(PermissionDenied):
        await log.append(room.id, "app.x", {}, actor_id=bob)
    with pytest.raises(NotFound):
        await log.append(uuid.uuid4(), "app.x", {}, actor_id=alice)
    await store.rooms.add_member(room.id, bob)
    await store.rooms.remove_member(room.id, bob)
    with pytest.raises(PermissionDenied):
        await log.append(room.id, "app.x", {}, actor_id=bob)
    assert types(await log.after(room.id, 0)) == [
        "member.joined",
        "app.poll_closed",
        "member.joined",
        "member.left",
    ]


# -- retention -----------------------------------------------------------------------------------


async def test_prune_deletes_only_older_entries_and_raises_pruned_through(
    store: ChatStore, log: EventLogRepository
) -> None:
    (alice,) = await make_users(store, 1)
    old = await store.rooms.create(name="old", kind="public", created_by=alice)
    for n in range(4):
        await store.send_message(CreateMessage(old.id, alice, f"old {n}"))
    await asyncio.sleep(1.0)
    new = await store.rooms.create(name="new", kind="public", created_by=alice)
    await store.send_message(CreateMessage(new.id, alice, "new"))
    await store.send_message(CreateMessage(old.id, alice, "recent"))
    assert await log.prune(timedelta(seconds=0.5), batch=2) == 2
    assert (await log.heads([old.id]))[old.id].pruned_through == 2
    assert await log.prune(timedelta(seconds=0.5)) == 3
    heads = await log.heads([old.id, new.id])
    assert (heads[old.id].pruned_through, heads[old.id].last_event_seq) == (5, 6)
    assert (heads[new.id].pruned_through, heads[new.id].last_event_seq) == (0, 2)
    assert [e.event_seq for e in await log.after(old.id, 0)] == [6]
    assert [e.event_seq for e in await log.after(new.id, 0)] == [1, 2]
    assert await log.prune(timedelta(seconds=0.5)) == 0
    with pytest.raises(ValidationError):
        await log.prune(timedelta(0))
    with pytest.raises(ValidationError):
        await log.prune(timedelta(days=1), batch=0)


async def test_prune_never_waits_for_a_room_being_written(
    store: ChatStore, log: EventLogRepository
) -> None:
    (alice,) = await make_users(store, 1)
    busy = await store.rooms.create(name="busy", kind="public", created_by=alice)
    await store.send_message(CreateMessage(busy.id, alice, "old"))
    await asyncio.sleep(0.6)
    locked, release = asyncio.Event(), asyncio.Event()

    async def hold_the_room_lock() -> None:
        async with store.transaction():
            await store.send_message(CreateMessage(busy.id, alice, "slow"))
            locked.set()
            await release.wait()

    holder = asyncio.create_task(hold_the_room_lock())
    await locked.wait()
    started = time.monotonic()
    assert await log.prune(timedelta(seconds=0.3)) == 0  # skipped, not waited for
    assert time.monotonic() - started < 1.0
    release.set()
    await holder
    assert await log.prune(timedelta(seconds=0.3)) == 2


# -- cost of logging a send and plans on a large log ---------------------------------------------


@pytest.fixture
async def bare(
    database_url: str, redis_server: RedisServer
) -> AsyncIterator[tuple[Database, Settings]]:
    """A Database with no ChatStore around it: only the plain repositories' statements."""
    settings = settings_for(database_url, redis_server.url(0))
    async with Database.open(settings) as db:
        yield db, settings


async def test_a_send_is_one_statement_with_or_without_a_client_id(
    bare: tuple[Database, Settings], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Lock, membership, idempotency, seq, insert, read marker and log entry: one round
    trip on an autocommit connection (no BEGIN, no COMMIT), the log entry included."""
    db, settings = bare
    rooms, messages = RoomRepository(db, settings), MessageRepository(db, settings)
    (alice,) = await make_users(settings.database_url, 1)
    room = await rooms.create(name="counted", kind="public", created_by=alice)
    for client_id in (None, "k", "k"):  # the second "k" is a retry: the same one statement
        with statements(monkeypatch) as sent:
            message = await messages.create(
                CreateMessage(room.id, alice, "counted", client_id=client_id)
            )
        assert [s.split()[0] for s in sent if not s.startswith("(pool")] == ["WITH"], sent
    assert message.seq == 2  # the retry took no seq
    entries = await EventLogRepository(db, settings).after(room.id, 0)
    assert [entry.type for entry in entries][-2:] == ["message.created", "message.created"]


async def test_log_queries_use_indexes_on_a_large_log(database_url: str) -> None:
    async with connect_async(database_url) as conn:
        await BULK.bulk_log(conn, rooms=100, per_room=1000)
        await BULK.analyze_log(conn)
        room_id = (await BULK.any_room(conn))["id"]
    known = {"room_id": room_id, "room_ids": [room_id], "after_seq": 900, "limit": 50}
    sql = [packaged_sql_dir()]
    assert plan_problems(database_url, sql, known, ["room_events"], samples=EVENT_SAMPLES) == []
    queries = {query.key: query for query in load_queries(sql)[0]}
    with connect(database_url) as conn:
        for key in ("events.entries_after", "events.entries_after_many", "events.prune_events"):
            query = queries[key]
            values = {**EVENT_SAMPLES, **known}
            plan = explain(conn, query, {name: values.get(name) for name in query.parameters})
            scans = [
                n["Node Type"] for n in plan_nodes(plan) if n.get("Relation Name") == "room_events"
            ]
            assert scans, (key, plan)
            assert "Seq Scan" not in scans, (key, plan)


async def test_mark_read_is_one_statement(
    bare: tuple[Database, Settings], monkeypatch: pytest.MonkeyPatch
) -> None:
    db, settings = bare
    rooms, messages = RoomRepository(db, settings), MessageRepository(db, settings)
    alice, bob = await make_users(settings.database_url, 2)
    room = await rooms.create(name="reading", kind="public", created_by=alice)
    await rooms.add_member(room.id, bob)
    message = await messages.create(CreateMessage(room.id, alice, "read me"))
    with statements(monkeypatch) as sent:
        receipt = await messages.mark_as_read(message.id, bob)
    # Receipt, read marker and the seq the marker moved to, in one statement on an
    # autocommit connection (the repository opens no transaction for it).
    assert [s.split()[0] for s in sent if not s.startswith("(pool")] == ["WITH"], sent
    assert (receipt.message_id, receipt.user_id) == (message.id, bob)
    again = await messages.mark_as_read(message.id, bob)
    assert again.read_at == receipt.read_at  # the first read time is kept
