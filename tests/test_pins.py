"""Pinned messages (store.pins) against a real PostgreSQL: who may pin (owners and admins of
public and private rooms, either member of a direct room), idempotent pin and unpin, the
change-log entries, deleted messages (not pinnable, listed masked, unpinnable), keyset pages
newest first, cascades, and an unpin that waited for the room lock.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import pytest

from chatstore import ChatStore, CreateMessage, Pin, PinChange, PinPage
from chatstore.conversation_models import PinCursor
from chatstore.errors import Conflict, NotFound, PermissionDenied, ValidationError
from chatstore.models import Attachment
from chatstore.queries import load_queries
from tests.dbchecks import connect, conversations, rows
from tests.test_change_log import Published, statements
from tests.test_reactions import World, head, log_tail, make_world, until_waiting_for_a_lock
from tests.test_streams import take

PHOTO = Attachment("https://files.example.com/cat.png", "cat.png", "image/png", 2048)


@pytest.fixture
async def world(store: ChatStore) -> World:
    return await make_world(store)


async def pin_rows(store: ChatStore) -> list[dict[str, object]]:
    async with connect(store.settings.database_url) as conn:
        return await rows(conversations.pin_rows(conn))


# -- who may pin -----------------------------------------------------------------------------


async def test_owners_and_admins_pin_and_unpin_in_public_and_private_rooms(
    store: ChatStore, world: World
) -> None:
    w = world
    for pinner in (w.alice, w.carol):  # the owner, an admin
        pinned = await store.pins.pin(w.hello.id, user_id=pinner)
        assert (pinned.changed, pinned.pinned_by, pinned.room_id) == (True, pinner, w.room)
        unpinned = await store.pins.unpin(w.hello.id, user_id=pinner)
        assert unpinned == PinChange(w.room, w.hello.id, True, None, None)

    staff = await store.rooms.create(name="staff", kind="private", created_by=w.alice)
    await store.rooms.add_member(staff.id, w.bob, acting_user_id=w.alice)
    memo = await store.send_message(CreateMessage(staff.id, w.bob, "memo"))
    assert (await store.pins.pin(memo.id, user_id=w.alice)).changed
    with pytest.raises(PermissionDenied):
        await store.pins.unpin(memo.id, user_id=w.bob)
    assert [p.message.id for p in (await store.pins.pins(staff.id, user_id=w.bob)).pins] == [
        memo.id
    ]


async def test_plain_members_and_strangers_may_not_pin_even_their_own_messages(
    store: ChatStore, world: World
) -> None:
    w = world
    own = await store.send_message(CreateMessage(w.room, w.bob, "mine"))
    await store.pins.pin(w.hello.id, user_id=w.alice)
    before = await head(store, w.room)
    for message in (own.id, w.hello.id):
        with pytest.raises(PermissionDenied, match="owner and admins"):
            await store.pins.pin(message, user_id=w.bob)
        with pytest.raises(PermissionDenied, match="owner and admins"):
            await store.pins.unpin(message, user_id=w.bob)
        for call in (store.pins.pin, store.pins.unpin):
            with pytest.raises(PermissionDenied, match="only members"):
                await call(message, user_id=w.mallory)
    with pytest.raises(PermissionDenied):
        await store.pins.pins(w.room, user_id=w.mallory)
    assert await head(store, w.room) == before
    assert [row["message_id"] for row in await pin_rows(store)] == [w.hello.id]
    # Made an admin, the same member may.
    await store.rooms.set_role(w.room, w.bob, "admin", acting_user_id=w.alice)
    assert (await store.pins.pin(own.id, user_id=w.bob)).changed
    # And demoted, may no longer.
    await store.rooms.set_role(w.room, w.bob, "member", acting_user_id=w.alice)
    with pytest.raises(PermissionDenied):
        await store.pins.unpin(own.id, user_id=w.bob)


async def test_either_member_of_a_direct_room_pins_and_unpins(
    store: ChatStore, world: World
) -> None:
    w = world
    direct = await store.rooms.get_or_create_direct(w.bob, w.dave)
    note = await store.send_message(CreateMessage(direct.id, w.bob, "see you at 5"))
    pinned = await store.pins.pin(note.id, user_id=w.dave)
    assert (pinned.changed, pinned.pinned_by) == (True, w.dave)
    assert (await store.pins.unpin(note.id, user_id=w.bob)).changed
    assert (await store.pins.pin(note.id, user_id=w.bob)).pinned_by == w.bob
    with pytest.raises(PermissionDenied):
        await store.pins.pin(note.id, user_id=w.alice)  # not one of the two


# -- idempotency and the log -----------------------------------------------------------------


async def test_pin_and_unpin_are_idempotent_and_log_one_entry_each(
    store: ChatStore, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    w = world
    recorder, original = Published(), store.db.log_publisher
    store.db.log_publisher = recorder
    try:
        start = await head(store, w.room)
        with statements(monkeypatch) as sent:
            first = await store.pins.pin(w.hello.id, user_id=w.carol)
        assert [s.split()[0] for s in sent if not s.startswith("(pool")] == ["WITH"], sent
        again = await store.pins.pin(w.hello.id, user_id=w.alice)
        # The earlier pin stands: who pinned it and when are unchanged.
        assert again == PinChange(w.room, w.hello.id, False, w.carol, first.pinned_at)
        assert first.pinned_at is not None
        with statements(monkeypatch) as sent:
            assert (await store.pins.unpin(w.hello.id, user_id=w.alice)).changed
        assert [s.split()[0] for s in sent if not s.startswith("(pool")] == ["WITH"], sent
        not_pinned = await store.pins.unpin(w.hello.id, user_id=w.alice)
        assert not_pinned == PinChange(w.room, w.hello.id, False, None, None)
        entries = await log_tail(store, w.room, start)
    finally:
        store.db.log_publisher = original
    assert [(e.event_seq, e.type, e.actor_id) for e in entries] == [
        (start + 1, "message.pinned", w.carol),
        (start + 2, "message.unpinned", w.alice),
    ]
    message = str(w.hello.id)
    pinned_payload = dict(entries[0].payload)
    assert datetime.fromisoformat(pinned_payload.pop("pinned_at")) == first.pinned_at
    assert pinned_payload == {"message_id": message, "seq": w.hello.seq, "pinned_by": str(w.carol)}
    assert entries[1].payload == {
        "message_id": message,
        "seq": w.hello.seq,
        "unpinned_by": str(w.alice),
    }
    assert recorder.entries == entries


async def test_missing_things_and_bad_arguments(store: ChatStore, world: World) -> None:
    w = world
    with pytest.raises(NotFound):
        await store.pins.pin(uuid.uuid4(), user_id=w.alice)
    with pytest.raises(NotFound):
        await store.pins.unpin(uuid.uuid4(), user_id=w.alice)
    with pytest.raises(NotFound):
        await store.pins.pins(uuid.uuid4(), user_id=w.alice)
    naive = PinCursor(datetime(2026, 1, 1), w.hello.id)
    for field, call in (
        ("message_id", store.pins.pin("not a uuid", user_id=w.alice)),
        ("user_id", store.pins.unpin(w.hello.id, user_id="\ud800")),
        ("room_id", store.pins.pins(b"x", user_id=w.alice)),  # type: ignore[arg-type]
        ("limit", store.pins.pins(w.room, user_id=w.alice, limit=201)),
        ("before", store.pins.pins(w.room, user_id=w.alice, before=naive)),
        ("before", store.pins.pins(w.room, user_id=w.alice, before=7)),  # type: ignore[arg-type]
    ):
        with pytest.raises(ValidationError) as raised:
            await call
        assert raised.value.field == field
    assert await pin_rows(store) == []


# -- deleted messages ------------------------------------------------------------------------


async def test_deleted_messages_cannot_be_pinned_but_keep_their_pin_masked(
    store: ChatStore, world: World
) -> None:
    w = world
    photo = await store.send_message(
        CreateMessage(w.room, w.bob, "a cat", kind="image", attachment=PHOTO)
    )
    doomed = await store.send_message(CreateMessage(w.room, w.bob, "soon gone"))
    await store.messages.delete(doomed.id, acting_user_id=w.bob)
    before = await head(store, w.room)
    with pytest.raises(Conflict) as refused:
        await store.pins.pin(doomed.id, user_id=w.alice)
    assert refused.value.field == "message"
    assert await head(store, w.room) == before

    await store.pins.pin(w.hello.id, user_id=w.alice)
    await store.pins.pin(photo.id, user_id=w.alice)
    await store.messages.delete(photo.id, acting_user_id=w.alice)
    page = await store.pins.pins(w.room, user_id=w.dave)
    listed = {pin.message.id: pin.message for pin in page.pins}
    # Exactly as a normal read returns them: the deleted one without content or attachment.
    for message_id in (w.hello.id, photo.id):
        assert listed[message_id] == await store.messages.get(message_id, user_id=w.dave)
    assert (listed[photo.id].content, listed[photo.id].attachment) == (None, None)
    assert listed[photo.id].is_deleted
    assert (listed[w.hello.id].content, listed[w.hello.id].is_deleted) == ("hello", False)
    # Pinning it again is refused; unpinning it is not.
    with pytest.raises(Conflict):
        await store.pins.pin(photo.id, user_id=w.alice)
    assert (await store.pins.unpin(photo.id, user_id=w.carol)).changed
    assert [p.message.id for p in (await store.pins.pins(w.room, user_id=w.dave)).pins] == [
        w.hello.id
    ]


# -- listing ---------------------------------------------------------------------------------


async def test_pins_come_newest_first_in_keyset_pages(store: ChatStore, world: World) -> None:
    w = world
    sent = [await store.send_message(CreateMessage(w.room, w.bob, f"m{n}")) for n in range(7)]
    for message in sent[:4]:
        await store.pins.pin(message.id, user_id=w.alice)
    # Three in one transaction share pinned_at (now() is the transaction's start): the
    # message id orders them.
    async with store.transaction():
        for message in sent[4:]:
            await store.pins.pin(message.id, user_id=w.carol)
    expected = sorted((m.id for m in sent[4:]), reverse=True) + [m.id for m in sent[3::-1]]

    pages: list[PinPage] = [await store.pins.pins(w.room, user_id=w.bob, limit=3)]
    while pages[-1].next_cursor is not None:
        pages.append(
            await store.pins.pins(w.room, user_id=w.bob, before=pages[-1].next_cursor, limit=3)
        )
    assert [len(page.pins) for page in pages] == [3, 3, 1]
    pins: list[Pin] = [pin for page in pages for pin in page.pins]
    assert [pin.message.id for pin in pins] == expected
    assert [pin.pinned_at for pin in pins] == sorted((pin.pinned_at for pin in pins), reverse=True)
    assert [pin.pinned_by for pin in pins] == [w.carol] * 3 + [w.alice] * 4
    assert pins[0].message == await store.messages.get(pins[0].message.id, user_id=w.bob)
    # An exact fit ends without an empty extra page; a room with no pins has an empty one.
    whole = await store.pins.pins(w.room, user_id=w.bob, limit=7)
    assert ([p.message.id for p in whole.pins], whole.next_cursor) == (expected, None)
    other = await store.rooms.create(name="quiet", kind="public", created_by=w.bob)
    assert await store.pins.pins(other.id, user_id=w.bob) == PinPage((), None)
    # A cursor older than every pin: nothing before it.
    oldest = PinCursor(datetime(2000, 1, 1, tzinfo=UTC), uuid.UUID(int=0))
    assert (await store.pins.pins(w.room, user_id=w.bob, before=oldest)).pins == ()


# -- cascades --------------------------------------------------------------------------------


async def test_a_pin_outlives_its_pinner_and_goes_with_its_room(
    store: ChatStore, world: World
) -> None:
    w = world
    await store.pins.pin(w.hello.id, user_id=w.carol)
    await store.users.delete(w.carol)
    [pin] = (await store.pins.pins(w.room, user_id=w.bob)).pins
    assert (pin.message.id, pin.pinned_by) == (w.hello.id, None)
    again = await store.pins.pin(w.hello.id, user_id=w.alice)
    assert (again.changed, again.pinned_by) == (False, None)
    await store.rooms.delete(w.room, acting_user_id=w.alice)
    assert await pin_rows(store) == []


# -- racing for the room lock ----------------------------------------------------------------


async def test_an_unpin_that_waited_sees_the_pin_made_meanwhile(
    store: ChatStore, world: World
) -> None:
    w = world
    queries = load_queries()
    start = await head(store, w.room)
    async with connect(store.settings.database_url) as holder:
        async with holder.transaction():
            row = await queries.pins.pin_message(holder, message_id=w.hello.id, user_id=w.alice)
            assert row["changed"]
            waiting = asyncio.create_task(store.pins.unpin(w.hello.id, user_id=w.carol))
            await until_waiting_for_a_lock(holder)
        change = await waiting
    assert change.changed
    entries = await log_tail(store, w.room, start)
    assert [(e.event_seq, e.type) for e in entries] == [
        (start + 1, "message.pinned"),
        (start + 2, "message.unpinned"),
    ]
    assert await pin_rows(store) == []


async def test_concurrent_pins_of_one_message_pin_it_once(store: ChatStore, world: World) -> None:
    w = world
    start = await head(store, w.room)
    changes = await asyncio.gather(
        *(store.pins.pin(w.hello.id, user_id=pinner) for pinner in (w.alice, w.carol) * 3)
    )
    assert sum(change.changed for change in changes) == 1
    assert len({(change.pinned_by, change.pinned_at) for change in changes}) == 1
    entries = await log_tail(store, w.room, start)
    assert [(e.event_seq, e.type) for e in entries] == [(start + 1, "message.pinned")]


# -- live delivery ---------------------------------------------------------------------------


async def test_connected_members_receive_reactions_and_pins_live(
    store: ChatStore, world: World
) -> None:
    w = world
    async with store.connect(w.dave, "phone") as stream:
        start = stream.cursors[w.room]
        await store.reactions.add(w.hello.id, "👍", user_id=w.bob)
        await store.reactions.add(w.hello.id, "👍", user_id=w.bob)  # no-op: nothing to deliver
        await store.pins.pin(w.hello.id, user_id=w.carol)
        await store.reactions.remove(w.hello.id, "👍", user_id=w.bob)
        await store.pins.unpin(w.hello.id, user_id=w.alice)
        seen = await take(stream, 4)
    assert [(e.type, e.event_seq, e.seq) for e in seen] == [
        ("reaction.added", start + 1, None),
        ("message.pinned", start + 2, w.hello.seq),
        ("reaction.removed", start + 3, None),
        ("message.unpinned", start + 4, w.hello.seq),
    ]
    assert [e.payload.get("count") for e in seen] == [1, None, 0, None]
