"""Replies against a real PostgreSQL: a message quoting another of its room, and the preview
of the quoted message that every read returns with the reply, in the same round trip.
"""

from __future__ import annotations

import uuid

import pytest

from chatstore import ChatStore, CreateMessage
from chatstore.conversation_models import MessagePreview
from chatstore.errors import Conflict, ValidationError
from chatstore.models import Message
from tests.test_reactions import World, head, log_tail, make_world


@pytest.fixture
async def world(store: ChatStore) -> World:
    return await make_world(store)


def preview_of(message: Message) -> MessagePreview:
    assert message.content is not None
    return MessagePreview(
        id=message.id,
        seq=message.seq,
        sender_id=message.sender_id,
        kind=message.kind,
        created_at=message.created_at,
        content=message.content[:100],
        is_deleted=False,
    )


async def every_read_of(store: ChatStore, reply: Message, reader: uuid.UUID) -> list[Message]:
    """The reply as each read returns it: by id, in a page back, in a catch-up, by offset."""
    room = reply.room_id
    found = [await store.messages.get(reply.id, user_id=reader)]
    back = await store.messages.page_before(room, user_id=reader, before_seq=reply.seq + 1, limit=1)
    found += [m for m in back.messages if m.id == reply.id]
    caught_up = await store.messages.catch_up(room, user_id=reader, after_seq=reply.seq - 1)
    found += [m for m in caught_up if m.id == reply.id]
    found += [
        m
        for m in (await store.messages.find_by_room(room, limit=50, user_id=reader)).messages
        if m.id == reply.id
    ]
    return found


async def test_a_reply_carries_a_preview_of_what_it_quotes_in_every_read(
    store: ChatStore, world: World
) -> None:
    w = world
    long = await store.send_message(CreateMessage(w.room, w.bob, "x" * 90 + "0123456789abcdef"))
    reply = await store.send_message(CreateMessage(w.room, w.alice, "agreed", reply_to_id=long.id))
    expected = preview_of(long)
    assert expected.content == "x" * 90 + "0123456789"  # the first 100 characters
    assert reply.reply_to == expected
    reads = await every_read_of(store, reply, w.dave)
    assert len(reads) == 4
    assert all(m.reply_to == expected for m in reads)
    # A message that quotes nothing has no preview.
    assert long.reply_to is None
    assert (await store.messages.get(long.id, user_id=w.dave)).reply_to is None
    # The log entry is the message as a read returns it, preview included.
    (entry,) = [e for e in await log_tail(store, w.room, 0) if e.payload.get("id") == str(reply.id)]
    assert entry.payload["reply_to"]["id"] == str(long.id)
    assert entry.payload["reply_to"]["content"] == expected.content
    assert entry.payload["reply_to"]["is_deleted"] is False


async def test_a_deleted_original_shows_as_deleted_never_its_content(
    store: ChatStore, world: World
) -> None:
    w = world
    secret = await store.send_message(CreateMessage(w.room, w.bob, "the secret plan"))
    reply = await store.send_message(CreateMessage(w.room, w.dave, "nice", reply_to_id=secret.id))
    await store.messages.delete(secret.id, acting_user_id=w.bob)
    for read in await every_read_of(store, reply, w.alice):
        assert read.reply_to is not None
        assert (read.reply_to.id, read.reply_to.is_deleted) == (secret.id, True)
        assert read.reply_to.content is None
        assert "secret" not in repr(read)


async def test_a_deleted_reply_shows_no_quote_either(store: ChatStore, world: World) -> None:
    w = world
    reply = await store.send_message(CreateMessage(w.room, w.bob, "me too", reply_to_id=w.hello.id))
    deleted = await store.messages.delete(reply.id, acting_user_id=w.bob)
    assert deleted.reply_to is None
    assert (await store.messages.get(reply.id, user_id=w.alice)).reply_to is None


async def test_an_edit_keeps_the_quote(store: ChatStore, world: World) -> None:
    w = world
    reply = await store.send_message(CreateMessage(w.room, w.bob, "typo", reply_to_id=w.hello.id))
    edited = await store.messages.update(reply.id, "fixed", editor_id=w.bob)
    assert (edited.content, edited.reply_to) == ("fixed", preview_of(w.hello))
    entries = await log_tail(store, w.room, 0)
    assert entries[-1].type == "message.edited"
    assert entries[-1].payload["reply_to"]["id"] == str(w.hello.id)


async def test_only_a_live_message_of_the_same_room_can_be_quoted(
    store: ChatStore, world: World
) -> None:
    w = world
    other = await store.rooms.create(name="elsewhere", kind="public", created_by=w.alice)
    await store.rooms.add_member(other.id, w.bob, acting_user_id=w.alice)
    there = await store.send_message(CreateMessage(other.id, w.alice, "over here"))
    gone = await store.send_message(CreateMessage(w.room, w.alice, "soon gone"))
    await store.messages.delete(gone.id, acting_user_id=w.alice)
    before = await head(store, w.room)
    last = (await store.messages.page_before(w.room, user_id=w.bob, limit=1)).messages[-1]
    for quoted in (there.id, gone.id, uuid.uuid4()):
        with pytest.raises(ValidationError) as refused:
            await store.send_message(CreateMessage(w.room, w.bob, "re", reply_to_id=quoted))
        assert refused.value.field == "reply_to_id"
    # Nothing was written: no message, no seq, no log entry.
    assert await head(store, w.room) == before
    newest = (await store.messages.page_before(w.room, user_id=w.bob, limit=1)).messages[-1]
    assert newest == last
    with pytest.raises(ValidationError) as malformed:
        await store.send_message(CreateMessage(w.room, w.bob, "re", reply_to_id="not-a-uuid"))
    assert malformed.value.field == "reply_to_id"


async def test_a_retried_send_must_quote_the_same_message(store: ChatStore, world: World) -> None:
    w = world
    first = await store.send_message(
        CreateMessage(w.room, w.bob, "sure", client_id="c-1", reply_to_id=w.hello.id)
    )
    again = await store.send_message(
        CreateMessage(w.room, w.bob, "sure", client_id="c-1", reply_to_id=w.hello.id)
    )
    assert again == first
    with pytest.raises(Conflict):
        await store.send_message(CreateMessage(w.room, w.bob, "sure", client_id="c-1"))


async def test_pins_show_the_quote_and_a_room_deletion_takes_replies_with_it(
    store: ChatStore, world: World
) -> None:
    w = world
    reply = await store.send_message(CreateMessage(w.room, w.bob, "+1", reply_to_id=w.hello.id))
    await store.pins.pin(reply.id, user_id=w.alice)
    (pin,) = (await store.pins.pins(w.room, user_id=w.dave)).pins
    assert pin.message.reply_to == preview_of(w.hello)
    await store.rooms.delete(w.room, acting_user_id=w.alice)
    assert await store.log.heads([w.room]) == {}
