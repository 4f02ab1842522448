"""`mention.received` in a client stream: right after the message entry that mentions the
stream's user, once, live and when resuming from cursors; an edit announces only whom it
newly mentions; nobody is told of their own message."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from chatstore import ChatStore, CreateMessage
from chatstore.realtime.events import Event
from tests.test_streams import QUIET, WAIT, alice_and_bob_in, nothing_more


async def entries_and_mentions(
    stream: AsyncIterator[Event], count: int, wait: float = WAIT
) -> list[Event]:
    """The next `count` events that are log entries or mentions (presence and the like
    pass by)."""
    taken: list[Event] = []
    async with asyncio.timeout(wait):
        async for event in stream:
            if event.event_seq is not None or event.type == "mention.received":
                taken.append(event)
                if len(taken) == count:
                    return taken
    raise AssertionError(f"stream ended after {taken}")


async def test_a_mention_follows_its_entry_once_live_and_on_resume(store: ChatStore) -> None:
    alice, bob, room = await alice_and_bob_in(store, "general")
    async with store.connect(bob.id, "phone") as stream:
        named = await store.send_message(
            CreateMessage(room.id, alice.id, "hi @bob", mention_ids=(bob.id,))
        )
        plain = await store.send_message(CreateMessage(room.id, alice.id, "plain"))
        live = await entries_and_mentions(stream, 3)
        saved = stream.cursors
    assert [(e.type, e.seq) for e in live] == [
        ("message.created", named.seq),
        ("mention.received", named.seq),
        ("message.created", plain.seq),
    ]
    assert live[1].payload == {
        "message_id": str(named.id),
        "seq": named.seq,
        "sender_id": str(alice.id),
        "thread_root_id": None,
        "by_name": True,
    }
    # An edit that adds bob tells him; one that keeps him named does not again.
    await store.messages.update(plain.id, "now @bob", editor_id=alice.id, mention_ids=[bob.id])
    await store.messages.update(plain.id, "still @bob", editor_id=alice.id)
    # His own message mentioning the room tells nobody it is his: he is not an admin, so
    # the owner sends one instead, which tells him (not by name).
    everyone = await store.send_message(
        CreateMessage(room.id, alice.id, "all of you", mentions_room=True)
    )
    async with store.connect(bob.id, "laptop", cursors=saved) as resumed:
        missed = await entries_and_mentions(resumed, 5)
        assert await nothing_more(resumed) == []
    assert [(e.type, e.seq) for e in missed] == [
        ("message.edited", plain.seq),
        ("mention.received", plain.seq),
        ("message.edited", plain.seq),
        ("message.created", everyone.seq),
        ("mention.received", everyone.seq),
    ]
    assert missed[4].payload["by_name"] is False
    # The sender's own stream has every entry (two joins, three sends, two edits) and no
    # mention, not even after the last one.
    async with store.connect(alice.id, "desk", cursors={room.id: 0}) as own:
        events = await entries_and_mentions(own, 7)
        with contextlib.suppress(TimeoutError):
            events += await entries_and_mentions(own, 1, QUIET)
    assert [e.type for e in events].count("mention.received") == 0
    assert len(events) == 7
