"""MessageRepository against a real PostgreSQL: sending, pages, edits, deletes, receipts.

Users, rooms and memberships are made with the raw statements in db/checks/probes.sql, so
these tests depend only on the message code.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import uuid
from dataclasses import dataclass, replace
from typing import Any

import bcrypt
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chatstore import ChatStore
from chatstore.errors import Conflict, NotFound, PermissionDenied, ValidationError
from chatstore.models import Attachment, CreateMessage, Message, MessagePage
from tests.dbchecks import connect, probes

HASH = bcrypt.hashpw(b"correct horse battery staple", bcrypt.gensalt(10)).decode()
PHOTO = Attachment(
    url="https://files.example.com/cat.png", name="cat.png", mime_type="image/png", size=2048
)


@dataclass(frozen=True)
class World:
    """One room: alice owns it, carol is an admin, bob and dave are members; mallory is not."""

    url: str
    room: uuid.UUID
    alice: uuid.UUID
    bob: uuid.UUID
    carol: uuid.UUID
    dave: uuid.UUID
    mallory: uuid.UUID


async def add_users(url: str, count: int, prefix: str = "user") -> list[uuid.UUID]:
    ids = [uuid.uuid4() for _ in range(count)]
    async with connect(url) as conn:
        for number, user_id in enumerate(ids):
            name = f"{prefix}{number}-{user_id.hex[:8]}"
            await probes.insert_user(
                conn, id=user_id, email=f"{name}@example.com", username=name, password_hash=HASH
            )
    return ids


async def add_room(url: str, members: dict[uuid.UUID, str]) -> uuid.UUID:
    """A public room created by its first member, with the given roles."""
    room = uuid.uuid4()
    async with connect(url) as conn:
        await probes.insert_room(
            conn,
            id=room,
            kind="public",
            name="general",
            created_by=next(iter(members)),
            direct_user_low=None,
            direct_user_high=None,
        )
        for user_id, role in members.items():
            await probes.insert_member(conn, room_id=room, user_id=user_id, role=role)
    return room


@pytest.fixture
async def world(database_url: str) -> World:
    alice, bob, carol, dave, mallory = await add_users(database_url, 5)
    room = await add_room(
        database_url, {alice: "owner", bob: "member", carol: "admin", dave: "member"}
    )
    return World(database_url, room, alice, bob, carol, dave, mallory)


async def send(store: ChatStore, w: World, sender: uuid.UUID, content: str, **kw: Any) -> Message:
    return await store.messages.create(
        CreateMessage(room_id=w.room, sender_id=sender, content=content, **kw)
    )


async def last_seq(store: ChatStore, w: World) -> int:
    """The room's last_seq as PostgreSQL has it (through the owner's unread row)."""
    [row] = [c for c in await store.messages.unread_counts(w.alice) if c.room_id == w.room]
    return row.last_seq


async def all_messages(store: ChatStore, w: World) -> list[Message]:
    return await store.messages.catch_up(w.room, user_id=w.alice, after_seq=0, limit=1000)


def seqs(messages: tuple[Message, ...] | list[Message]) -> list[int]:
    return [m.seq for m in messages]


# -- sending ---------------------------------------------------------------------------------


async def test_send_assigns_seqs_and_reads_back(store: ChatStore, world: World) -> None:
    first = await send(store, world, world.alice, "hello")
    second = await send(store, world, world.bob, "hi alice")
    assert (first.seq, second.seq) == (1, 2)
    assert (first.room_id, first.sender_id, first.kind) == (world.room, world.alice, "text")
    assert (first.content, first.attachment, first.client_id) == ("hello", None, None)
    assert (first.edit_count, first.edited_at, first.is_deleted) == (0, None, False)
    assert await store.messages.get(first.id, user_id=world.dave) == first
    assert await store.messages.get(str(second.id), user_id=str(world.bob)) == second
    assert await last_seq(store, world) == 2


async def test_image_and_file_messages_carry_their_attachment(
    store: ChatStore, world: World
) -> None:
    image = await send(store, world, world.alice, "", kind="image", attachment=PHOTO)
    report = Attachment(url="s3://bucket/r.pdf", name="r.pdf", mime_type="application/pdf", size=0)
    file = await send(store, world, world.bob, "the report", kind="file", attachment=report)
    assert (image.kind, image.content, image.attachment) == ("image", "", PHOTO)
    assert (file.kind, file.content, file.attachment) == ("file", "the report", report)
    assert (await store.messages.get(image.id, user_id=world.bob)).attachment == PHOTO


async def test_sending_needs_an_existing_room_and_membership(
    store: ChatStore, world: World
) -> None:
    with pytest.raises(NotFound):
        await store.messages.create(
            CreateMessage(room_id=uuid.uuid4(), sender_id=world.alice, content="hi")
        )
    with pytest.raises(PermissionDenied):
        await send(store, world, world.mallory, "let me in")
    with pytest.raises(PermissionDenied):
        await send(store, world, uuid.uuid4(), "no such user")
    assert await last_seq(store, world) == 0


async def test_own_messages_are_never_unread(store: ChatStore, world: World) -> None:
    await send(store, world, world.alice, "one")
    await send(store, world, world.alice, "two")
    counts = {c.room_id: c for c in await store.messages.unread_counts(world.alice)}
    assert (counts[world.room].count, counts[world.room].last_read_seq) == (0, 2)
    [bob_row] = await store.messages.unread_counts(world.bob)
    assert (bob_row.count, bob_row.last_seq, bob_row.last_read_seq) == (2, 2, 0)


async def test_retried_send_returns_the_first_message_and_spends_no_seq(
    store: ChatStore, world: World
) -> None:
    first = await send(store, world, world.alice, "hello", client_id="c-1")
    again = await send(store, world, world.alice, "hello", client_id="c-1")
    assert again == first
    assert await last_seq(store, world) == 1
    # The client id is the sender's own: another sender may use the same one.
    bobs = await send(store, world, world.bob, "hello", client_id="c-1")
    assert bobs.seq == 2
    assert (await send(store, world, world.alice, "next")).seq == 3


async def test_retried_media_send_compares_the_attachment(store: ChatStore, world: World) -> None:
    first = await send(store, world, world.alice, "", kind="image", attachment=PHOTO, client_id="i")
    again = await send(store, world, world.alice, "", kind="image", attachment=PHOTO, client_id="i")
    assert again == first
    with pytest.raises(Conflict) as caught:
        await send(
            store,
            world,
            world.alice,
            "",
            kind="image",
            attachment=replace(PHOTO, size=1),
            client_id="i",
        )
    assert caught.value.field == "client_id"
    assert await last_seq(store, world) == 1


async def test_concurrent_retries_make_one_message(store: ChatStore, world: World) -> None:
    request = CreateMessage(room_id=world.room, sender_id=world.bob, content="hi", client_id="c")
    results = await asyncio.gather(*(store.messages.create(request) for _ in range(8)))
    assert {m.id for m in results} == {results[0].id}
    assert await last_seq(store, world) == 1


@pytest.mark.parametrize(
    "retry",
    [
        {"content": "something else"},
        {"kind": "file", "content": "hello", "attachment": PHOTO},
    ],
)
async def test_client_id_reused_for_other_content_is_refused(
    store: ChatStore, world: World, retry: dict[str, Any]
) -> None:
    await send(store, world, world.alice, "hello", client_id="c-1")
    request = {"content": "hello", **retry}
    with pytest.raises(Conflict) as caught:
        await send(store, world, world.alice, client_id="c-1", **request)
    assert caught.value.field == "client_id"
    assert await last_seq(store, world) == 1
    assert seqs(await all_messages(store, world)) == [1]


async def test_retry_after_an_edit_or_delete_still_finds_the_first_message(
    store: ChatStore, world: World
) -> None:
    first = await send(store, world, world.alice, "hello", client_id="c-1")
    await store.messages.update(first.id, "hello, edited", editor_id=world.alice)
    again = await send(store, world, world.alice, "hello", client_id="c-1")
    assert (again.id, again.content, again.edit_count) == (first.id, "hello, edited", 1)
    await store.messages.delete(first.id, acting_user_id=world.alice)
    deleted = await send(store, world, world.alice, "hello", client_id="c-1")
    assert (deleted.id, deleted.content, deleted.is_deleted) == (first.id, None, True)
    assert await last_seq(store, world) == 1


# -- reading ---------------------------------------------------------------------------------


async def test_reads_are_for_members_only(store: ChatStore, world: World) -> None:
    message = await send(store, world, world.alice, "secret plans")
    reads = [
        store.messages.get(message.id, user_id=world.mallory),
        store.messages.find_by_room(world.room, 10, 0, user_id=world.mallory),
        store.messages.page_before(world.room, user_id=world.mallory),
        store.messages.page_after(world.room, user_id=world.mallory, after_seq=0),
        store.messages.catch_up(world.room, user_id=world.mallory, after_seq=0),
        store.messages.history(message.id, user_id=world.mallory),
        store.messages.receipts(message.id, user_id=world.mallory),
    ]
    for read in reads:
        with pytest.raises(PermissionDenied):
            await read


async def test_reads_of_missing_things_are_not_found(store: ChatStore, world: World) -> None:
    missing = uuid.uuid4()
    reads = [
        store.messages.get(missing, user_id=world.alice),
        store.messages.find_by_room(missing, user_id=world.alice),
        store.messages.page_before(missing, user_id=world.alice),
        store.messages.page_after(missing, user_id=world.alice, after_seq=0),
        store.messages.catch_up(missing, user_id=world.alice, after_seq=0),
        store.messages.history(missing, user_id=world.alice),
        store.messages.receipts(missing, user_id=world.alice),
        store.messages.mark_as_read(missing, world.alice),
        store.messages.update(missing, "x", editor_id=world.alice),
        store.messages.delete(missing, acting_user_id=world.alice),
    ]
    for read in reads:
        with pytest.raises(NotFound):
            await read


async def test_keyset_pages_walk_both_ways(store: ChatStore, world: World) -> None:
    for number in range(1, 13):
        await send(store, world, world.alice, f"message {number}")
    newest = await store.messages.page_before(world.room, user_id=world.bob, limit=5)
    assert (seqs(newest.messages), newest.older_cursor, newest.newer_cursor) == (
        [8, 9, 10, 11, 12],
        8,
        None,
    )
    middle = await store.messages.page_before(
        world.room, user_id=world.bob, before_seq=newest.older_cursor, limit=5
    )
    assert (seqs(middle.messages), middle.older_cursor, middle.newer_cursor) == (
        [3, 4, 5, 6, 7],
        3,
        7,
    )
    oldest = await store.messages.page_before(world.room, user_id=world.bob, before_seq=3, limit=5)
    assert (seqs(oldest.messages), oldest.older_cursor, oldest.newer_cursor) == ([1, 2], None, 2)
    forward = await store.messages.page_after(world.room, user_id=world.bob, after_seq=2, limit=5)
    assert (seqs(forward.messages), forward.older_cursor, forward.newer_cursor) == (
        [3, 4, 5, 6, 7],
        3,
        7,
    )
    end = await store.messages.page_after(world.room, user_id=world.bob, after_seq=10, limit=5)
    assert (seqs(end.messages), end.older_cursor, end.newer_cursor) == ([11, 12], 11, None)
    start = await store.messages.page_after(world.room, user_id=world.bob, after_seq=0, limit=12)
    assert (seqs(start.messages), start.older_cursor, start.newer_cursor) == (
        list(range(1, 13)),
        None,
        None,
    )
    assert [m.content for m in start.messages] == [f"message {n}" for n in range(1, 13)]


async def test_empty_room_and_out_of_range_pages(store: ChatStore, world: World) -> None:
    empty = MessagePage(messages=(), older_cursor=None, newer_cursor=None)
    assert await store.messages.page_before(world.room, user_id=world.bob) == empty
    assert await store.messages.page_after(world.room, user_id=world.bob, after_seq=0) == empty
    assert await store.messages.find_by_room(world.room, user_id=world.bob) == empty
    assert await store.messages.catch_up(world.room, user_id=world.bob, after_seq=0) == []
    await send(store, world, world.alice, "one")
    await send(store, world, world.alice, "two")
    below = await store.messages.page_before(world.room, user_id=world.bob, before_seq=1)
    assert below == MessagePage(messages=(), older_cursor=None, newer_cursor=0)
    beyond = await store.messages.page_after(world.room, user_id=world.bob, after_seq=99)
    assert beyond == MessagePage(messages=(), older_cursor=3, newer_cursor=None)


async def test_offset_pages_count_back_from_the_newest(store: ChatStore, world: World) -> None:
    for number in range(1, 13):
        await send(store, world, world.bob, f"message {number}")
    first = await store.messages.find_by_room(world.room, 5, 0, user_id=world.alice)
    assert (seqs(first.messages), first.older_cursor, first.newer_cursor) == (
        [8, 9, 10, 11, 12],
        8,
        None,
    )
    second = await store.messages.find_by_room(world.room, 5, 5, user_id=world.alice)
    assert (seqs(second.messages), second.older_cursor, second.newer_cursor) == (
        [3, 4, 5, 6, 7],
        3,
        7,
    )
    last = await store.messages.find_by_room(world.room, limit=5, offset=10, user_id=world.alice)
    assert (seqs(last.messages), last.older_cursor, last.newer_cursor) == ([1, 2], None, 2)
    past = await store.messages.find_by_room(world.room, 5, 50, user_id=world.alice)
    assert (past.messages, past.older_cursor, past.newer_cursor) == ((), None, 0)


async def test_offset_pages_equal_keyset_pages_at_any_offset(
    store: ChatStore, world: World
) -> None:
    """page_by_offset reads the seq range below last_seq - offset (seqs are gap-free), so
    each offset page is the keyset page ending at the same message: same rows (soft-deleted
    and edited ones included), same order, same cursors, and empty past the end."""
    sent = [await send(store, world, world.bob, f"message {n}") for n in range(1, 24)]
    await store.messages.delete(sent[6].id, acting_user_id=world.bob)
    await store.messages.update(sent[15].id, "edited", editor_id=world.bob)
    total = len(sent)
    for offset in (0, 1, 4, 5, 17, 21, 22, 23, 24, 60):
        for limit in (1, 5, 23, 30):
            by_offset = await store.messages.find_by_room(
                world.room, limit, offset, user_id=world.alice
            )
            by_key = await store.messages.page_before(
                world.room, user_id=world.alice, before_seq=max(total - offset + 1, 0), limit=limit
            )
            assert by_offset == by_key, (offset, limit)
            # The server's own read (no user) sees the same page.
            assert await store.messages.find_by_room(world.room, limit, offset) == by_offset
    assert (await store.messages.find_by_room(world.room, 5, 23, user_id=world.alice)) == (
        MessagePage(messages=(), older_cursor=None, newer_cursor=0)
    )
    with pytest.raises(PermissionDenied):
        await store.messages.find_by_room(world.room, 5, 60, user_id=world.mallory)


async def test_catch_up_is_bounded_and_ascending(store: ChatStore, world: World) -> None:
    for number in range(1, 8):
        await send(store, world, world.alice, f"message {number}")
    assert seqs(await store.messages.catch_up(world.room, user_id=world.bob, after_seq=4)) == [
        5,
        6,
        7,
    ]
    batch = await store.messages.catch_up(world.room, user_id=world.bob, after_seq=1, limit=3)
    assert seqs(batch) == [2, 3, 4]
    assert await store.messages.catch_up(world.room, user_id=world.bob, after_seq=7) == []


# psycopg sends a Python int as smallint, integer or bigint by its size; a seq or offset
# that fits a smaller type must not make the query's arithmetic overflow there.
@pytest.mark.parametrize("far", [32_767 - 50, 32_767, 2**31 - 60, 2**31 - 1, 2**62])
async def test_seqs_and_offsets_past_any_type_boundary_read_nothing(
    store: ChatStore, world: World, far: int
) -> None:
    await send(store, world, world.alice, "only message")
    messages, bob = store.messages, world.bob
    assert await messages.catch_up(world.room, user_id=bob, after_seq=far, limit=100) == []
    page = await messages.page_after(world.room, user_id=bob, after_seq=far, limit=100)
    assert page.messages == ()
    page = await messages.page_before(world.room, user_id=bob, before_seq=far, limit=100)
    assert seqs(page.messages) == [1]
    offset = min(far, 1_000_000)  # the most find_by_room takes
    page = await messages.find_by_room(world.room, user_id=bob, offset=offset, limit=100)
    assert page.messages == ()


# -- editing ---------------------------------------------------------------------------------


async def test_edits_keep_every_previous_version_in_order(store: ChatStore, world: World) -> None:
    original = await send(store, world, world.bob, "draft")
    texts = ["second draft", "third draft", "final"]
    edited = original
    for text in texts:
        edited = await store.messages.update(original.id, text, editor_id=world.bob)
    assert (edited.content, edited.edit_count, edited.seq) == ("final", 3, original.seq)
    assert edited.edited_at is not None
    history = await store.messages.history(original.id, user_id=world.dave)
    assert [(r.revision, r.content) for r in history] == [
        (1, "draft"),
        (2, "second draft"),
        (3, "third draft"),
    ]
    assert all(r.message_id == original.id and r.edited_by == world.bob for r in history)
    assert history[0].written_at == original.created_at
    # Each version was written when the previous one was replaced.
    for older, newer in itertools.pairwise(history):
        assert newer.written_at == older.replaced_at
    assert history[-1].replaced_at == edited.edited_at
    assert await store.messages.get(original.id, user_id=world.alice) == edited


async def test_only_the_sender_edits_and_never_a_deleted_message(
    store: ChatStore, world: World
) -> None:
    message = await send(store, world, world.bob, "mine")
    for other in (world.alice, world.carol, world.dave, world.mallory):
        with pytest.raises(PermissionDenied):
            await store.messages.update(message.id, "hijacked", editor_id=other)
    with pytest.raises(ValidationError) as caught:
        await store.messages.update(message.id, "  \n ", editor_id=world.bob)
    assert caught.value.field == "content"
    await store.messages.delete(message.id, acting_user_id=world.bob)
    with pytest.raises(Conflict) as conflict:
        await store.messages.update(message.id, "resurrected", editor_id=world.bob)
    assert conflict.value.field == "message"
    assert await store.messages.history(message.id, user_id=world.bob) == []


async def test_a_caption_can_be_removed_by_an_edit(store: ChatStore, world: World) -> None:
    image = await send(store, world, world.alice, "my cat", kind="image", attachment=PHOTO)
    edited = await store.messages.update(image.id, "", editor_id=world.alice)
    assert (edited.content, edited.attachment, edited.edit_count) == ("", PHOTO, 1)


# -- deleting --------------------------------------------------------------------------------


async def test_deleted_content_is_never_returned(store: ChatStore, world: World) -> None:
    text = await send(store, world, world.bob, "oops, my password is hunter2")
    await store.messages.update(text.id, "oops", editor_id=world.bob)
    image = await send(store, world, world.bob, "", kind="image", attachment=PHOTO)
    kept = await send(store, world, world.alice, "still here")
    for message in (text, image):
        deleted = await store.messages.delete(message.id, acting_user_id=world.bob)
        assert (deleted.content, deleted.attachment, deleted.is_deleted) == (None, None, True)
    reads: list[Message] = [
        await store.messages.get(text.id, user_id=world.alice),
        await store.messages.get(image.id, user_id=world.bob),
        *(await store.messages.page_before(world.room, user_id=world.dave)).messages,
        *(await store.messages.page_after(world.room, user_id=world.dave, after_seq=0)).messages,
        *(await store.messages.find_by_room(world.room, user_id=world.dave)).messages,
        *await store.messages.catch_up(world.room, user_id=world.dave, after_seq=0),
    ]
    for read in reads:
        if read.id == kept.id:
            assert read.content == "still here"
        else:
            assert (read.content, read.attachment, read.is_deleted) == (None, None, True)
    assert await store.messages.history(text.id, user_id=world.bob) == []
    # The row stays, so history keeps its seqs whole.
    assert seqs(await all_messages(store, world)) == [1, 2, 3]


async def test_who_may_delete(store: ChatStore, world: World) -> None:
    by_bob = [await send(store, world, world.bob, f"bob {n}") for n in range(3)]
    with pytest.raises(PermissionDenied):
        await store.messages.delete(by_bob[0].id, acting_user_id=world.dave)
    with pytest.raises(PermissionDenied):
        await store.messages.delete(by_bob[0].id, acting_user_id=world.mallory)
    assert not (await store.messages.get(by_bob[0].id, user_id=world.bob)).is_deleted
    for message, actor in zip(by_bob, (world.bob, world.carol, world.alice), strict=True):
        assert (await store.messages.delete(message.id, acting_user_id=actor)).is_deleted


async def test_deleting_twice_returns_the_same_deleted_message(
    store: ChatStore, world: World
) -> None:
    message = await send(store, world, world.bob, "bye")
    first = await store.messages.delete(message.id, acting_user_id=world.bob)
    second = await store.messages.delete(message.id, acting_user_id=world.alice)
    assert second == first
    assert first.deleted_at is not None


# -- receipts and unread counts --------------------------------------------------------------


async def test_mark_as_read_records_a_receipt_and_moves_the_marker(
    store: ChatStore, world: World
) -> None:
    messages = [await send(store, world, world.alice, f"m{n}") for n in range(1, 5)]
    receipt = await store.messages.mark_as_read(messages[2].id, world.bob)
    assert (receipt.room_id, receipt.message_id, receipt.user_id) == (
        world.room,
        messages[2].id,
        world.bob,
    )
    again = await store.messages.mark_as_read(messages[2].id, world.bob)
    assert again == receipt  # the first read time is kept
    # Reading an older message records a receipt but never moves the marker back.
    await store.messages.mark_as_read(messages[0].id, world.bob)
    [bob_row] = await store.messages.unread_counts(world.bob)
    assert (bob_row.last_read_seq, bob_row.count) == (3, 1)
    await store.messages.mark_as_read(messages[1].id, world.dave)
    readers = await store.messages.receipts(messages[2].id, user_id=world.carol)
    assert readers == [receipt]
    with pytest.raises(PermissionDenied):
        await store.messages.mark_as_read(messages[0].id, world.mallory)


async def test_concurrent_marks_of_one_message_agree_on_the_first_read(
    store: ChatStore, world: World
) -> None:
    message = await send(store, world, world.alice, "read me")
    receipts = await asyncio.gather(
        *(store.messages.mark_as_read(message.id, world.bob) for _ in range(8))
    )
    assert set(receipts) == {receipts[0]}
    assert await store.messages.receipts(message.id, user_id=world.bob) == [receipts[0]]


async def test_receipts_come_in_read_order(store: ChatStore, world: World) -> None:
    message = await send(store, world, world.alice, "read me")
    for reader in (world.dave, world.bob, world.carol):
        await store.messages.mark_as_read(message.id, reader)
    receipts = await store.messages.receipts(message.id, user_id=world.alice)
    assert [r.user_id for r in receipts] == [world.dave, world.bob, world.carol]
    assert [r.read_at for r in receipts] == sorted(r.read_at for r in receipts)


async def test_concurrent_marks_never_move_the_marker_back(store: ChatStore, world: World) -> None:
    messages = [await send(store, world, world.alice, f"m{n}") for n in range(1, 31)]
    marked = random.Random(7).sample(messages[:25], 25)
    await asyncio.gather(*(store.messages.mark_as_read(m.id, world.bob) for m in marked))
    [bob_row] = await store.messages.unread_counts(world.bob)
    assert (bob_row.last_read_seq, bob_row.count) == (25, 5)
    for message in marked:
        [receipt] = await store.messages.receipts(message.id, user_id=world.bob)
        assert receipt.user_id == world.bob


async def test_unread_counts_are_exact_after_a_mix(store: ChatStore, world: World) -> None:
    m = [await send(store, world, world.alice, f"m{n}") for n in range(1, 4)]  # seqs 1-3
    await store.messages.mark_as_read(m[0].id, world.bob)  # bob's marker: 1
    await send(store, world, world.alice, "m4")
    m5 = await send(store, world, world.alice, "m5")
    await store.messages.delete(m5.id, acting_user_id=world.alice)  # after bob's marker
    await store.messages.delete(m[0].id, acting_user_id=world.alice)  # at bob's marker
    await send(store, world, world.carol, "m6")  # carol's marker: 6
    other = await add_room(world.url, {world.dave: "owner", world.bob: "member"})
    await store.messages.create(CreateMessage(room_id=other, sender_id=world.dave, content="x"))

    def counts(rows: list[Any]) -> dict[uuid.UUID, tuple[int, int, int]]:
        return {r.room_id: (r.count, r.last_seq, r.last_read_seq) for r in rows}

    # bob: seqs 2, 3, 4 and 6 unread (5 deleted, 1 read and deleted); 1 in the other room.
    assert counts(await store.messages.unread_counts(world.bob)) == {
        world.room: (4, 6, 1),
        other: (1, 1, 0),
    }
    # alice sent up to seq 5 (her own messages are read), carol's seq 6 is new to her.
    assert counts(await store.messages.unread_counts(world.alice)) == {world.room: (1, 6, 5)}
    assert counts(await store.messages.unread_counts(world.carol)) == {world.room: (0, 6, 6)}
    # dave read nothing here: six messages, two deleted; his own message in the other room.
    assert counts(await store.messages.unread_counts(world.dave)) == {
        other: (0, 1, 1),
        world.room: (4, 6, 0),
    }
    assert await store.messages.unread_counts(world.mallory) == []
    # Most recently active room first.
    assert [r.room_id for r in await store.messages.unread_counts(world.bob)] == [other, world.room]


# -- transactions and concurrency ------------------------------------------------------------


class Boom(Exception):
    pass


async def test_a_failed_transaction_leaves_nothing(store: ChatStore, world: World) -> None:
    await send(store, world, world.alice, "before")

    async def send_two_then_fail() -> None:
        async with store.transaction():
            await send(store, world, world.alice, "inside")
            await send(store, world, world.bob, "inside too")
            raise Boom

    with pytest.raises(Boom):
        await send_two_then_fail()
    assert [m.content for m in await all_messages(store, world)] == ["before"]
    assert await last_seq(store, world) == 1
    page = await store.messages.page_before(world.room, user_id=world.bob)
    assert seqs(page.messages) == [1]
    # The rolled-back seqs are handed out again: no gap.
    assert (await send(store, world, world.bob, "after")).seq == 2
    [bob_row] = await store.messages.unread_counts(world.bob)
    assert bob_row.last_read_seq == 2


async def test_calls_inside_a_transaction_commit_together(store: ChatStore, world: World) -> None:
    async with store.transaction():
        message = await send(store, world, world.alice, "draft")
        await store.messages.update(message.id, "edited", editor_id=world.alice)
        await store.messages.mark_as_read(message.id, world.bob)
    assert (await store.messages.get(message.id, user_id=world.bob)).content == "edited"
    assert len(await store.messages.receipts(message.id, user_id=world.bob)) == 1


async def test_concurrent_senders_get_gap_free_seqs_and_catch_up_never_skips(
    store: ChatStore, database_url: str
) -> None:
    senders = await add_users(database_url, 20, prefix="sender")
    reader, *_ = await add_users(database_url, 1, prefix="reader")
    room = await add_room(
        database_url, {senders[0]: "owner"} | dict.fromkeys(senders[1:], "member")
    )
    async with connect(database_url) as conn:
        await probes.insert_member(conn, room_id=room, user_id=reader, role="member")
    per_sender, total = 50, 20 * 50

    async def sender_task(sender: uuid.UUID) -> list[int]:
        sent: list[int] = []
        for number in range(per_sender):
            message = await store.messages.create(
                CreateMessage(room_id=room, sender_id=sender, content=f"{sender} {number}")
            )
            sent.append(message.seq)
        return sent

    async def reader_task(done: asyncio.Event) -> tuple[int, int]:
        seen, polls = 0, 0
        while seen < total:
            finished = done.is_set()
            batch = await store.messages.catch_up(room, user_id=reader, after_seq=seen)
            polls += 1
            # Each batch starts right after the last seq seen and has no holes.
            assert seqs(batch) == list(range(seen + 1, seen + 1 + len(batch)))
            seen += len(batch)
            if finished and not batch:
                break
            await asyncio.sleep(0)
        return seen, polls

    done = asyncio.Event()
    reading = asyncio.create_task(reader_task(done))
    results = await asyncio.gather(*(sender_task(s) for s in senders))
    done.set()
    seen, polls = await reading
    assert seen == total
    assert polls >= 10  # the reader really polled while senders were writing
    assert sorted(seq for sent in results for seq in sent) == list(range(1, total + 1))
    # Each sender's own messages got increasing seqs (one connection at a time per task).
    assert all(sent == sorted(sent) for sent in results)


# -- bad input -------------------------------------------------------------------------------


NOT_AN_INT: Any = "12"
# Overrides of a valid CreateMessage, each breaking one rule, with the field it names.
BAD_MESSAGES: list[tuple[dict[str, Any], str]] = [
    ({"room_id": "not-a-uuid"}, "room_id"),
    ({"room_id": "'; DROP TABLE rooms; --"}, "room_id"),
    ({"sender_id": 42}, "sender_id"),
    ({"content": ""}, "content"),
    ({"content": " \n\t "}, "content"),
    ({"content": "a\x00b"}, "content"),
    ({"content": "x" * 10_001}, "content"),
    ({"content": None}, "content"),
    ({"kind": "system"}, "kind"),
    ({"kind": "video"}, "kind"),
    ({"kind": "image", "content": ""}, "attachment"),
    ({"attachment": PHOTO}, "attachment"),
    ({"kind": "file", "attachment": {"url": "u"}}, "attachment"),
    ({"kind": "file", "attachment": replace(PHOTO, url="")}, "attachment.url"),
    ({"kind": "file", "attachment": replace(PHOTO, name=" ")}, "attachment.name"),
    ({"kind": "file", "attachment": replace(PHOTO, mime_type="a\x00")}, "attachment.mime_type"),
    ({"kind": "file", "attachment": replace(PHOTO, size=-1)}, "attachment.size"),
    ({"kind": "file", "attachment": replace(PHOTO, size=True)}, "attachment.size"),
    ({"kind": "file", "attachment": replace(PHOTO, size=NOT_AN_INT)}, "attachment.size"),
    ({"kind": "image", "content": "\x00", "attachment": PHOTO}, "content"),
    ({"client_id": ""}, "client_id"),
    ({"client_id": "x" * 65}, "client_id"),
    ({"client_id": "retry\x00"}, "client_id"),
]


async def test_bad_messages_are_refused_before_anything_is_written(
    store: ChatStore, world: World
) -> None:
    for overrides, field in BAD_MESSAGES:
        valid: dict[str, Any] = {"room_id": world.room, "sender_id": world.alice, "content": "ok"}
        with pytest.raises(ValidationError) as caught:
            await store.messages.create(CreateMessage(**(valid | overrides)))
        assert caught.value.field == field, overrides
    with pytest.raises(ValidationError) as caught:
        await store.messages.create({"room_id": world.room})  # type: ignore[arg-type]
    assert caught.value.field == "message"
    assert await all_messages(store, world) == []
    assert await last_seq(store, world) == 0


async def test_bad_read_arguments_name_their_field(store: ChatStore, world: World) -> None:
    message = await send(store, world, world.alice, "hi")
    m, r, u = store.messages, world.room, world.alice
    calls = [
        (m.get("nope", user_id=u), "message_id"),
        (m.get(message.id, user_id="1 OR 1=1"), "user_id"),
        (m.find_by_room(r, 0, 0, user_id=u), "limit"),
        (m.find_by_room(r, 201, 0, user_id=u), "limit"),
        (m.find_by_room(r, "10", 0, user_id=u), "limit"),  # type: ignore[arg-type]
        (m.find_by_room(r, 10, -1, user_id=u), "offset"),
        (m.find_by_room(r, 10, 1_000_001, user_id=u), "offset"),
        (m.page_before(r, user_id=u, limit=True), "limit"),
        (m.page_before(r, user_id=u, before_seq=-1), "before_seq"),
        (m.page_before("room", user_id=u), "room_id"),
        (m.page_after(r, user_id=u, after_seq="5"), "after_seq"),  # type: ignore[arg-type]
        (m.catch_up(r, user_id=u, after_seq=0, limit=1001), "limit"),
        (m.catch_up(r, user_id=u, after_seq=-5), "after_seq"),
        (m.update(message.id, "bad\x00", editor_id=u), "content"),
        (m.update(message.id, "x" * 10_001, editor_id=u), "content"),
        (m.update(message.id, "fine", editor_id="me"), "editor_id"),
        (m.delete(message.id, acting_user_id=""), "acting_user_id"),
        (m.mark_as_read("x", u), "message_id"),
        (m.history(message.id, user_id=None), "user_id"),  # type: ignore[arg-type]
        (m.receipts("", user_id=u), "message_id"),
        (m.unread_counts("alice"), "user_id"),
    ]
    for call, field in calls:
        with pytest.raises(ValidationError) as caught:
            await call
        assert caught.value.field == field
    assert await store.messages.get(message.id, user_id=u) == message
    assert await store.messages.receipts(message.id, user_id=u) == []


INJECTIONS = [
    "'); DROP TABLE messages; --",
    "Robert'); DROP TABLE rooms;--",
    "1' OR '1'='1",
    "%s %(room_id)s :room_id $1 \\x00 ;",
    'ab"; DELETE FROM users WHERE "1"="1',
]


async def test_sql_injection_is_stored_verbatim_and_harmless(
    store: ChatStore, world: World
) -> None:
    sent = [await send(store, world, world.alice, text, client_id=text) for text in INJECTIONS]
    edited = await store.messages.update(sent[0].id, INJECTIONS[1], editor_id=world.alice)
    assert edited.content == INJECTIONS[1]
    assert [m.content for m in sent] == INJECTIONS
    assert [m.client_id for m in sent] == INJECTIONS
    stored = await all_messages(store, world)
    assert [m.content for m in stored] == [INJECTIONS[1], *INJECTIONS[1:]]
    assert [r.content for r in await store.messages.history(sent[0].id, user_id=world.bob)] == [
        INJECTIONS[0]
    ]
    # Every table is still there and still works.
    assert (await send(store, world, world.bob, "still fine")).seq == len(INJECTIONS) + 1
    assert len(await store.messages.unread_counts(world.bob)) == 1


# -- property: pages cover history exactly once ----------------------------------------------

CONTENT = st.text(
    alphabet=st.characters(codec="utf-8", exclude_characters="\x00"),
    min_size=1,
    max_size=20,
).filter(str.strip)
OPERATION = st.one_of(
    st.tuples(st.just("send"), st.booleans(), CONTENT),
    st.tuples(st.just("edit"), st.integers(0, 30), CONTENT),
    st.tuples(st.just("delete"), st.integers(0, 30), st.booleans()),
)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(operations=st.lists(OPERATION, max_size=25), page_size=st.integers(1, 6))
async def test_walking_back_from_the_newest_page_yields_every_message_once(
    store: ChatStore, world: World, operations: list[tuple[str, Any, Any]], page_size: int
) -> None:
    room = await add_room(world.url, {world.alice: "owner", world.bob: "member"})
    w = replace(world, room=room)
    expected: list[Message] = []  # index = seq - 1
    for operation, choice, value in operations:
        if operation == "send":
            sender = w.alice if choice else w.bob
            expected.append(await send(store, w, sender, value))
        elif expected and operation == "edit":
            target = expected[choice % len(expected)]
            if target.is_deleted:
                continue
            assert target.sender_id is not None
            expected[target.seq - 1] = await store.messages.update(
                target.id, value, editor_id=target.sender_id
            )
        elif expected and operation == "delete":
            target = expected[choice % len(expected)]
            actor = w.alice if value else target.sender_id  # the owner, or the sender
            assert actor is not None
            expected[target.seq - 1] = await store.messages.delete(target.id, acting_user_id=actor)

    walked: list[Message] = []
    cursor: int | None = None
    while True:
        page = await store.messages.page_before(
            w.room, user_id=w.bob, before_seq=cursor, limit=page_size
        )
        assert seqs(page.messages) == sorted(seqs(page.messages))
        walked[:0] = page.messages
        if page.older_cursor is None:
            break
        cursor = page.older_cursor
    assert walked == expected
    assert seqs(walked) == list(range(1, len(expected) + 1))
    assert all(m.content is None for m in walked if m.is_deleted)
