"""Threads (store.threads and CreateMessage.thread_root_id) against a real PostgreSQL: replies
numbered per thread, the summary pages show, room pages with and without thread replies,
thread pages, follows (automatic and by choice), follower read markers with exact unread
replies and mentions, the followed-threads list, the log entries, and what is refused.
"""

from __future__ import annotations

import asyncio
import uuid

import pytest

from chatstore import ChatStore, CreateMessage
from chatstore.errors import NotFound, PermissionDenied, ValidationError
from chatstore.models import Message
from chatstore.realtime.events import user_channel
from chatstore.thread_models import FollowedThreadCursor
from tests.test_reactions import World, head, log_tail, make_world


@pytest.fixture
async def world(store: ChatStore) -> World:
    return await make_world(store)


async def reply(
    store: ChatStore, world: World, sender: uuid.UUID, text: str, **extra: object
) -> Message:
    message = CreateMessage(world.room, sender, text, thread_root_id=world.hello.id, **extra)  # type: ignore[arg-type]
    return await store.send_message(message)


async def unread(store: ChatStore, user: uuid.UUID) -> dict[uuid.UUID, tuple[int, int]]:
    """Each followed thread's (unread replies, unread mentions) for the user."""
    page = await store.threads.followed(user, limit=100)
    return {t.root.id: (t.unread_replies, t.unread_mentions) for t in page.threads}


# -- replies and summaries -------------------------------------------------------------------


async def test_replies_take_thread_seqs_and_the_root_shows_a_summary(
    store: ChatStore, world: World
) -> None:
    w = world
    first = await reply(store, w, w.bob, "first")
    second = await reply(store, w, w.carol, "second")
    third = await reply(store, w, w.bob, "third")
    assert [(m.thread_root_id, m.thread_seq) for m in (first, second, third)] == [
        (w.hello.id, 1),
        (w.hello.id, 2),
        (w.hello.id, 3),
    ]
    # Thread replies are room messages too: catch-up stays complete.
    assert [m.seq for m in (first, second, third)] == [2, 3, 4]
    assert not first.shown_in_room
    root = await store.messages.get(w.hello.id, user_id=w.dave)
    assert root.thread is not None
    assert (root.thread.reply_count, root.thread.last_thread_seq) == (3, 3)
    assert root.thread.last_reply_at == third.created_at
    # The latest repliers, most recent first, each once.
    assert root.thread.participant_ids == (w.bob, w.carol)
    caught_up = await store.messages.catch_up(w.room, user_id=w.dave, after_seq=0)
    assert [m.id for m in caught_up] == [w.hello.id, first.id, second.id, third.id]


async def test_room_pages_can_leave_thread_replies_out(store: ChatStore, world: World) -> None:
    w = world
    await reply(store, w, w.bob, "in the thread")
    shown = await reply(store, w, w.carol, "also to the room", also_to_room=True)
    after = await store.send_message(CreateMessage(w.room, w.dave, "back in the room"))
    every = await store.messages.page_before(w.room, user_id=w.bob)
    assert [m.content for m in every.messages] == [
        "hello",
        "in the thread",
        "also to the room",
        "back in the room",
    ]
    collapsed = await store.messages.page_before(w.room, user_id=w.bob, thread_replies=False)
    assert [m.id for m in collapsed.messages] == [w.hello.id, shown.id, after.id]
    assert collapsed.messages[0].thread is not None
    assert collapsed.messages[0].thread.reply_count == 2
    # Paging with a cursor skips the hidden reply too, in both directions.
    older = await store.messages.page_before(
        w.room, user_id=w.bob, before_seq=after.seq, limit=1, thread_replies=False
    )
    assert [m.id for m in older.messages] == [shown.id]
    newer = await store.messages.page_after(
        w.room, user_id=w.bob, after_seq=w.hello.seq, limit=1, thread_replies=False
    )
    assert [m.id for m in newer.messages] == [shown.id]


async def test_a_reply_must_name_a_root_of_the_same_room(store: ChatStore, world: World) -> None:
    w = world
    first = await reply(store, w, w.bob, "first")
    other = await store.rooms.create(name="other", kind="public", created_by=w.alice)
    elsewhere = await store.send_message(CreateMessage(other.id, w.alice, "elsewhere"))
    gone = await store.send_message(CreateMessage(w.room, w.bob, "gone"))
    await store.messages.delete(gone.id, acting_user_id=w.bob)
    before = await head(store, w.room)
    for root in (first.id, elsewhere.id, gone.id, uuid.uuid4()):
        with pytest.raises(ValidationError, match="thread_root_id"):
            await store.send_message(CreateMessage(w.room, w.bob, "x", thread_root_id=root))
    with pytest.raises(ValidationError, match="also_to_room"):
        await store.send_message(CreateMessage(w.room, w.bob, "x", also_to_room=True))
    assert await head(store, w.room) == before


# -- thread pages ----------------------------------------------------------------------------


async def test_thread_pages_walk_back_and_catch_up(store: ChatStore, world: World) -> None:
    w = world
    sent = [await reply(store, w, w.bob, f"r{n}") for n in range(1, 8)]
    page = await store.threads.page(w.hello.id, user_id=w.dave, limit=3)
    assert page.root.id == w.hello.id
    assert page.root.thread is not None
    assert [m.thread_seq for m in page.replies] == [5, 6, 7]
    assert (page.older_cursor, page.newer_cursor) == (5, None)
    seen = list(page.replies)
    while page.older_cursor is not None:
        page = await store.threads.page(
            w.hello.id, user_id=w.dave, before_thread_seq=page.older_cursor, limit=3
        )
        seen = list(page.replies) + seen
    assert [m.id for m in seen] == [m.id for m in sent]
    after = await store.threads.replies_after(
        w.hello.id, user_id=w.dave, after_thread_seq=2, limit=3
    )
    assert [m.thread_seq for m in after.replies] == [3, 4, 5]
    assert (after.older_cursor, after.newer_cursor) == (3, 5)
    end = await store.threads.replies_after(w.hello.id, user_id=w.dave, after_thread_seq=7)
    assert (end.replies, end.newer_cursor) == ((), None)


async def test_thread_pages_are_for_members_and_roots(store: ChatStore, world: World) -> None:
    w = world
    first = await reply(store, w, w.bob, "first")
    with pytest.raises(PermissionDenied):
        await store.threads.page(w.hello.id, user_id=w.mallory)
    with pytest.raises(NotFound):
        await store.threads.page(uuid.uuid4(), user_id=w.bob)
    with pytest.raises(ValidationError, match="root_id"):
        await store.threads.page(first.id, user_id=w.bob)
    # A message nobody replied to is a root with an empty thread.
    quiet = await store.send_message(CreateMessage(w.room, w.dave, "quiet"))
    empty = await store.threads.page(quiet.id, user_id=w.bob)
    assert (empty.replies, empty.root.thread, empty.older_cursor) == ((), None, None)


# -- follows, markers and counts -------------------------------------------------------------


async def test_starting_replying_and_being_mentioned_follow_the_thread(
    store: ChatStore, world: World
) -> None:
    w = world
    await reply(store, w, w.bob, "first")
    # The root's sender follows with the reply unread; the replier has read it.
    assert await unread(store, w.alice) == {w.hello.id: (1, 0)}
    assert await unread(store, w.bob) == {w.hello.id: (0, 0)}
    assert await unread(store, w.carol) == {}
    await reply(store, w, w.carol, "hey dave", mention_ids=(w.dave, w.mallory))
    assert await unread(store, w.dave) == {w.hello.id: (1, 1)}
    assert await unread(store, w.bob) == {w.hello.id: (1, 0)}
    assert await unread(store, w.alice) == {w.hello.id: (2, 0)}
    # Non-members are neither mentioned nor made to follow.
    assert await unread(store, w.mallory) == {}


async def test_follow_unfollow_and_mark_read(store: ChatStore, world: World) -> None:
    w = world
    await reply(store, w, w.bob, "one")
    await reply(store, w, w.bob, "two")
    followed = await store.threads.follow(w.hello.id, user_id=w.dave)
    assert (followed.changed, followed.following, followed.room_id) == (True, True, w.room)
    assert await unread(store, w.dave) == {w.hello.id: (0, 0)}  # following starts now
    assert not (await store.threads.follow(w.hello.id, user_id=w.dave)).changed
    three = await reply(store, w, w.bob, "three")
    await reply(store, w, w.bob, "four", mention_ids=(w.dave,))
    assert await unread(store, w.dave) == {w.hello.id: (2, 1)}
    state = await store.threads.mark_read(w.hello.id, user_id=w.dave, thread_seq=three.thread_seq)
    assert (state.last_read_thread_seq, state.unread_replies, state.unread_mentions) == (3, 1, 1)
    # Never backward; past the end counts as the end.
    back = await store.threads.mark_read(w.hello.id, user_id=w.dave, thread_seq=1)
    assert back.last_read_thread_seq == 3
    done = await store.threads.mark_read(w.hello.id, user_id=w.dave, thread_seq=99)
    assert (done.last_read_thread_seq, done.unread_replies, done.unread_mentions) == (4, 0, 0)
    gone = await store.threads.unfollow(w.hello.id, user_id=w.dave)
    assert (gone.changed, gone.following) == (True, False)
    assert not (await store.threads.unfollow(w.hello.id, user_id=w.dave)).changed
    assert await unread(store, w.dave) == {}
    idle = await store.threads.mark_read(w.hello.id, user_id=w.dave)
    assert (idle.following, idle.unread_replies) == (False, 0)
    with pytest.raises(PermissionDenied):
        await store.threads.follow(w.hello.id, user_id=w.mallory)
    with pytest.raises(PermissionDenied):
        await store.threads.mark_read(w.hello.id, user_id=w.mallory)


async def test_deleted_replies_and_mentions_leave_the_counts(
    store: ChatStore, world: World
) -> None:
    w = world
    await store.threads.follow(w.hello.id, user_id=w.dave)
    one = await reply(store, w, w.bob, "one", mention_ids=(w.dave,))
    two = await reply(store, w, w.carol, "two")
    assert await unread(store, w.dave) == {w.hello.id: (2, 1)}
    await store.messages.delete(one.id, acting_user_id=w.bob)
    assert await unread(store, w.dave) == {w.hello.id: (1, 0)}
    root = await store.messages.get(w.hello.id, user_id=w.dave)
    assert root.thread is not None
    assert root.thread.reply_count == 1
    # An edit that mentions dave counts; one that drops him uncounts.
    await store.messages.update(two.id, "two, dave", editor_id=w.carol, mention_ids=[w.dave])
    assert await unread(store, w.dave) == {w.hello.id: (1, 1)}
    await store.messages.update(two.id, "two", editor_id=w.carol, mention_ids=[])
    assert await unread(store, w.dave) == {w.hello.id: (1, 0)}


async def test_followed_threads_are_listed_newest_activity_first(
    store: ChatStore, world: World
) -> None:
    w = world
    roots = [
        await store.send_message(CreateMessage(w.room, w.alice, f"root {n}")) for n in range(5)
    ]
    for root in roots:
        await store.send_message(CreateMessage(w.room, w.bob, "re", thread_root_id=root.id))
    # A new reply moves the oldest thread to the top.
    await store.send_message(CreateMessage(w.room, w.carol, "again", thread_root_id=roots[0].id))
    order = [roots[0].id, *[r.id for r in reversed(roots[1:])]]
    page = await store.threads.followed(w.bob, limit=2)
    seen = [t.root.id for t in page.threads]
    while page.next_cursor is not None:
        assert isinstance(page.next_cursor, FollowedThreadCursor)
        page = await store.threads.followed(w.bob, before=page.next_cursor, limit=2)
        seen += [t.root.id for t in page.threads]
    assert seen == order
    top = (await store.threads.followed(w.bob, limit=1)).threads[0]
    assert (top.summary.reply_count, top.summary.participant_ids) == (2, (w.carol, w.bob))
    assert (top.root.content, top.unread_replies) == ("root 0", 1)
    # Leaving the room ends its follows.
    await store.rooms.remove_member(w.room, w.bob)
    assert (await store.threads.followed(w.bob)).threads == ()


async def test_thread_changes_are_logged(store: ChatStore, world: World) -> None:
    w = world
    start = await head(store, w.room)
    first = await reply(store, w, w.bob, "first", mention_ids=(w.dave,))
    await store.threads.follow(w.hello.id, user_id=w.carol)
    await store.threads.follow(w.hello.id, user_id=w.carol)  # no change, no entry
    await store.threads.unfollow(w.hello.id, user_id=w.carol)
    entries = await log_tail(store, w.room, start)
    assert [e.type for e in entries] == ["message.created", "thread.followed", "thread.unfollowed"]
    created = entries[0].payload
    assert created["thread_root_id"] == str(w.hello.id)
    assert created["thread_seq"] == 1
    assert created["thread"]["reply_count"] == 1
    assert sorted(created["new_followers"]) == sorted(str(u) for u in (w.alice, w.bob, w.dave))
    assert created["mentions"] == [str(w.dave)]
    assert entries[1].payload == {"root_id": str(w.hello.id), "user_id": str(w.carol)}
    await store.messages.delete(first.id, acting_user_id=w.bob)
    deleted = (await log_tail(store, w.room, start + 3))[0].payload
    assert deleted["thread_root_id"] == str(w.hello.id)
    assert deleted["thread"]["reply_count"] == 0


async def test_a_moved_thread_marker_is_published_to_the_user(
    store: ChatStore, world: World
) -> None:
    w = world
    await reply(store, w, w.bob, "one")
    await reply(store, w, w.bob, "two", mention_ids=(w.alice,))
    async with store.events.subscribe([user_channel(w.alice)]) as subscription:
        state = await store.threads.mark_read(w.hello.id, user_id=w.alice, thread_seq=1)
        async with asyncio.timeout(10):
            while (event := await anext(subscription)).type != "thread.marker_moved":
                pass
    assert (event.room_id, state.unread_replies, state.unread_mentions) == (w.room, 1, 1)
    assert event.payload == {
        "user_id": str(w.alice),
        "root_id": str(w.hello.id),
        "last_read_thread_seq": 1,
        "unread_replies": 1,
        "unread_mentions": 1,
    }
