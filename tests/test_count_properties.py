"""Property: after any mix of sends, thread replies, mentions added and removed by edits,
deletes, follows, unfollows and reads, every count chatstore answers (unread mentions per
room, unread replies and mentions per followed thread, reply counts in thread summaries)
equals a brute-force count from the tables (db/checks/counts.sql), against the real
servers.

Each example plays its operations in a room of its own: an owner (who may mention the
room), two members and a user who is not a member (mentioning them is dropped). Operations
that break a rule (replying to a deleted root, @room from a plain member) are refused by
chatstore and must change no count; they are played anyway.
"""

from __future__ import annotations

import uuid
from typing import Any

import aiosql
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from chatstore import ChatStore, CreateMessage
from chatstore.errors import ChatStoreError
from chatstore.models import Message
from tests.dbchecks import CHECKS, connect, rows
from tests.test_change_log import make_users

counts: Any = aiosql.from_path(CHECKS / "counts.sql", "apsycopg")

PEOPLE = 4  # 0 owns the room, 1 and 2 are members, 3 is not a member
WHO = st.integers(0, PEOPLE - 1)
PICK = st.integers(0, 40)  # which message (modulo how many there are)
MENTIONS = st.lists(WHO, max_size=3)
# Mostly without @room: only the owner may, so most of those sends are refused.
AT_ROOM = st.sampled_from([False, False, False, True])
REPLY = st.tuples(st.just("reply"), WHO, PICK, MENTIONS, AT_ROOM)
OPERATION = st.one_of(
    st.tuples(st.just("send"), WHO, MENTIONS, AT_ROOM),
    REPLY,
    REPLY,  # twice as likely: threads are what is counted here
    st.tuples(st.just("edit"), PICK, MENTIONS, AT_ROOM),
    st.tuples(st.just("delete"), PICK),
    st.tuples(st.just("follow"), WHO, PICK),
    st.tuples(st.just("unfollow"), WHO, PICK),
    st.tuples(st.just("read_room"), WHO, st.integers(0, 40)),
    st.tuples(st.just("read_thread"), WHO, PICK, st.integers(0, 10)),
)


@pytest.fixture
async def people(store: ChatStore) -> list[uuid.UUID]:
    return await make_users(store, PEOPLE)


async def play(
    store: ChatStore,
    room: uuid.UUID,
    people: list[uuid.UUID],
    sent: list[Message],
    operation: tuple[Any, ...],
) -> Message | None:
    """Run one operation; a message it sent, or None. Refusals are part of the game."""
    kind, *args = operation

    def pick(index: int) -> Message:
        return sent[index % len(sent)]

    def root(index: int) -> Message:
        """A message that can start a thread (not a reply), most of the time."""
        roots = [m for m in sent if m.thread_root_id is None] or sent
        return roots[index % len(roots)]

    try:
        if kind == "send":
            sender, mentioned, at_room = args
            return await store.send_message(
                CreateMessage(
                    room,
                    people[sender],
                    "hi",
                    mention_ids=tuple(people[m] for m in mentioned),
                    mentions_room=at_room,
                )
            )
        if not sent:
            return None
        if kind == "reply":
            sender, parent, mentioned, at_room = args
            return await store.send_message(
                CreateMessage(
                    room,
                    people[sender],
                    "re",
                    thread_root_id=root(parent).id,
                    mention_ids=tuple(people[m] for m in mentioned),
                    mentions_room=at_room,
                )
            )
        if kind == "edit":
            target, mentioned, at_room = pick(args[0]), args[1], args[2]
            assert target.sender_id is not None
            await store.messages.update(
                target.id,
                "edited",
                editor_id=target.sender_id,
                mention_ids=[people[m] for m in mentioned],
                mentions_room=at_room,
            )
        elif kind == "delete":
            target = pick(args[0])
            assert target.sender_id is not None
            await store.messages.delete(target.id, acting_user_id=target.sender_id)
        elif kind == "follow":
            await store.threads.follow(root(args[1]).id, user_id=people[args[0]])
        elif kind == "unfollow":
            await store.threads.unfollow(root(args[1]).id, user_id=people[args[0]])
        elif kind == "read_room":
            await store.messages.mark_read_up_to(room, people[args[0]], args[1])
        elif kind == "read_thread":
            await store.threads.mark_read(
                root(args[1]).id, user_id=people[args[0]], thread_seq=args[2]
            )
    except ChatStoreError as refused:
        # Shown by --hypothesis-show-statistics: which operations the examples got refused.
        event(f"{kind} refused: {type(refused).__name__}")
    return None


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(operations=st.lists(OPERATION, min_size=10, max_size=40))
async def test_thread_and_mention_counts_equal_brute_force_counts(
    store: ChatStore, people: list[uuid.UUID], operations: list[tuple[Any, ...]]
) -> None:
    owner, *others = people
    room = (await store.rooms.create(name="counts", kind="public", created_by=owner)).id
    for member in others[:2]:
        await store.rooms.add_member(room, member, acting_user_id=owner)
    members = [owner, *others[:2]]
    # Two roots to start from, so every example has threads to reply in.
    sent = [await store.send_message(CreateMessage(room, sender, "root")) for sender in members[:2]]
    for operation in operations:
        message = await play(store, room, people, sent, operation)
        if message is not None:
            sent.append(message)

    async with connect(store.settings.database_url) as conn:
        room_mentions = await rows(counts.brute_room_mentions(conn, room_id=room))
        thread_counts = await rows(counts.brute_thread_counts(conn, room_id=room))
        reply_counts = await rows(counts.brute_reply_counts(conn, room_id=room))

    answered_rooms = {}
    for user in members:
        for unread in await store.messages.unread_counts(user):
            if unread.room_id == room:
                answered_rooms[user] = unread.unread_mention_count
    assert answered_rooms == {r["user_id"]: r["unread_mentions"] for r in room_mentions}
    event(f"unread room mentions counted: {any(answered_rooms.values())}")

    answered_threads = {}
    for user in people:
        for thread in (await store.threads.followed(user, limit=200)).threads:
            if thread.room_id == room:
                key = (thread.root.id, user)
                answered_threads[key] = (thread.unread_replies, thread.unread_mentions)
    assert answered_threads == {
        (r["root_id"], r["user_id"]): (r["unread_replies"], r["unread_mentions"])
        for r in thread_counts
    }
    event(f"unread thread replies counted: {any(a for a, _ in answered_threads.values())}")
    event(f"unread thread mentions counted: {any(b for _, b in answered_threads.values())}")

    # Every thread's summary (on its root, in the room's page) counts its live replies.
    page = await store.messages.page_before(room, user_id=owner, limit=200)
    summaries = {m.id: m.thread.reply_count for m in page.messages if m.thread is not None}
    assert summaries == {r["root_id"]: r["reply_count"] for r in reply_counts}
