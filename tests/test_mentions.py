"""Mentions against a real PostgreSQL: resolving `@username` in text (store.mentions.resolve),
what a send and an edit keep of mention_ids and mentions_room, who may mention the whole
room, exact unread mention counts (unread_counts, the room list, read markers) through
sends, reads, edits and deletes, and the mentions inbox (store.mentions.inbox): newest
first, keyset pages without repeats or gaps, by-name flags, deletions and leaving.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from chatstore import (
    ChatStore,
    CreateMessage,
    Mention,
    MentionCursor,
    MentionPage,
    Message,
    NotFound,
    PermissionDenied,
    ResolvedMentions,
    ValidationError,
)
from chatstore.realtime.events import user_channel
from chatstore.repositories.mentions import mention_tokens
from tests.dbchecks import connect, conversations, rows
from tests.test_reactions import head
from tests.test_room_list import queries_sent
from tests.test_rooms import insert_users

NAMES = ("alice", "Bob", "carol", "dave", "mallory")
MAY_NOT = "only owners and admins"


@dataclass(frozen=True)
class World:
    """`room` (public): alice owns it, carol is an admin, Bob (stored capitalised) and dave
    are members; mallory is in no room. `staff` (private): alice owns it, Bob is a member.
    `direct`: Bob and dave."""

    room: uuid.UUID
    staff: uuid.UUID
    direct: uuid.UUID
    alice: uuid.UUID
    bob: uuid.UUID
    carol: uuid.UUID
    dave: uuid.UUID
    mallory: uuid.UUID


@pytest.fixture
async def world(store: ChatStore) -> World:
    alice, bob, carol, dave, mallory = await insert_users(store.settings.database_url, *NAMES)
    room = await store.rooms.create(name="general", kind="public", created_by=alice)
    for user in (bob, carol, dave):
        await store.rooms.add_member(room.id, user, acting_user_id=alice)
    await store.rooms.set_role(room.id, carol, "admin", acting_user_id=alice)
    staff = await store.rooms.create(name="staff", kind="private", created_by=alice)
    await store.rooms.add_member(staff.id, bob, acting_user_id=alice)
    direct = await store.rooms.get_or_create_direct(bob, dave)
    return World(room.id, staff.id, direct.id, alice, bob, carol, dave, mallory)


async def say(
    store: ChatStore,
    room: uuid.UUID,
    sender: uuid.UUID,
    *named: uuid.UUID,
    everyone: bool = False,
    text: str = "hey",
) -> Message:
    return await store.send_message(
        CreateMessage(room, sender, text, mention_ids=named, mentions_room=everyone)
    )


async def mention_counts(store: ChatStore, user: uuid.UUID) -> dict[uuid.UUID, int]:
    """Unread mentions per room, from unread_counts; the room list must say the same."""
    counts = {c.room_id: c.unread_mention_count for c in await store.messages.unread_counts(user)}
    listed = {e.room.id: e.unread_mention_count for e in await store.rooms.rooms_of_user(user)}
    assert listed == counts
    return counts


async def recount(store: ChatStore, user: uuid.UUID) -> dict[uuid.UUID, int]:
    """Unread mentions per room from the messages themselves, read as the member reads them:
    each message after their marker, not deleted, not theirs, naming them or the room."""
    counts: dict[uuid.UUID, int] = {}
    for entry in await store.rooms.rooms_of_user(user):
        after = await store.messages.catch_up(
            entry.room.id, user_id=user, after_seq=entry.last_read_seq, limit=1000
        )
        counts[entry.room.id] = sum(
            1
            for m in after
            if m.deleted_at is None
            and m.sender_id != user
            and (user in m.mentioned_ids or m.mentions_room)
        )
    return counts


async def assert_counts(store: ChatStore, user: uuid.UUID, expected: dict[uuid.UUID, int]) -> None:
    counts = await mention_counts(store, user)
    assert {room: n for room, n in counts.items() if room in expected} == expected
    assert counts == await recount(store, user)


async def mention_rows(store: ChatStore) -> list[tuple[uuid.UUID, uuid.UUID]]:
    async with connect(store.settings.database_url) as conn:
        found = await rows(conversations.mention_rows(conn))
    return [(row["message_id"], row["user_id"]) for row in found]


def shown(mentions: Sequence[Mention]) -> list[tuple[str | None, bool]]:
    return [(m.message.content, m.by_name) for m in mentions]


async def whole_inbox(store: ChatStore, user: uuid.UUID, limit: int) -> list[Mention]:
    """Every mention of the user, page by page of `limit`."""
    found: list[Mention] = []
    page = await store.mentions.inbox(user, limit=limit)
    while True:
        assert len(page.mentions) <= limit
        found.extend(page.mentions)
        if page.next_cursor is None:
            return found
        page = await store.mentions.inbox(user, before=page.next_cursor, limit=limit)


# -- resolving text ----------------------------------------------------------------------------


async def test_resolve_names_members_in_the_order_first_written_each_once(
    store: ChatStore, world: World
) -> None:
    w = world
    text = "hi @DAVE and @bob, @Bob again; @dave. also @carol!"
    resolved = await store.mentions.resolve(w.room, text, user_id=w.alice)
    assert resolved == ResolvedMentions(
        user_ids=(w.dave, w.bob, w.carol), mentions_room=False, unmatched=()
    )
    # Ready for a send: the ids go into mention_ids as they are.
    sent = await say(store, w.room, w.alice, *resolved.user_ids, text=text)
    assert sent.mentioned_ids == (w.dave, w.bob, w.carol)


async def test_unknown_names_and_non_members_are_unmatched_each_once(
    store: ChatStore, world: World
) -> None:
    w = world
    resolved = await store.mentions.resolve(
        w.staff, "@dave @nobody @Nobody @mallory @bob @carol", user_id=w.alice
    )
    # dave and carol exist but are not in staff; mallory is in no room.
    assert resolved == ResolvedMentions((w.bob,), False, ("dave", "nobody", "mallory", "carol"))


async def test_room_is_reserved_in_any_case_and_never_a_username(
    store: ChatStore, world: World
) -> None:
    w = world
    [room_user] = await insert_users(
        store.settings.database_url, "room"
    )  # a valid username, but not in text
    await store.rooms.add_member(w.room, room_user, acting_user_id=w.alice)
    for text in ("@room heads up", "heads up @ROOM.", "(@Room) and @bob"):
        resolved = await store.mentions.resolve(w.room, text, user_id=w.carol)
        assert resolved.mentions_room, text
        assert room_user not in resolved.user_ids
    assert await store.mentions.resolve(w.room, "@rooms @roomy", user_id=w.bob) == (
        ResolvedMentions((), False, ("rooms", "roomy"))
    )
    assert not (await store.mentions.resolve(w.room, "no one", user_id=w.bob)).mentions_room


async def test_what_is_and_is_not_a_token() -> None:
    cases = {
        "mail bob@example.com": [],
        "@bob@host": [],
        "@bobé": [],
        "@b": [],  # usernames have at least two characters
        "@" + "x" * 33: [],  # and at most 32
        "@_bob": [],  # and start with a letter or digit
        "@bob's": [("bob",)],
        "thanks @bob.": [("bob.", "bob")],  # the member `bob.` if there is one, else bob
        "@bob...": [("bob...", "bob")],
        "@a.b-c_d": [("a.b-c_d",)],
        "@" + "x" * 32 + ".": [("x" * 32,)],
        "(@bob),@dave;\n@carol": [("bob",), ("dave",), ("carol",)],
    }
    for text, tokens in cases.items():
        assert mention_tokens(text) == (tokens, False), text
    assert mention_tokens("@room and @Room.") == ([], True)


async def test_a_trailing_dot_names_the_member_who_has_it(store: ChatStore, world: World) -> None:
    w = world
    [dotted] = await insert_users(store.settings.database_url, "dave.")
    await store.rooms.add_member(w.room, dotted, acting_user_id=w.alice)
    resolved = await store.mentions.resolve(w.room, "ask @dave. or @carol.", user_id=w.bob)
    assert resolved == ResolvedMentions((dotted, w.carol), False, ())


async def test_the_callers_own_name_is_dropped(store: ChatStore, world: World) -> None:
    w = world
    resolved = await store.mentions.resolve(w.room, "@bob @alice @bob", user_id=w.bob)
    assert resolved == ResolvedMentions((w.alice,), False, ())


async def test_resolve_is_one_query_and_for_members_only(
    store: ChatStore, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    w = world
    with queries_sent(monkeypatch) as sent:
        await store.mentions.resolve(w.room, "@dave @carol @nobody @room", user_id=w.bob)
    assert len(sent) == 1, sent
    for text in ("@dave", ""):
        with pytest.raises(PermissionDenied):
            await store.mentions.resolve(w.room, text, user_id=w.mallory)
        with pytest.raises(NotFound):
            await store.mentions.resolve(uuid.uuid4(), text, user_id=w.bob)
    # Empty text and text without tokens resolve to nothing.
    assert await store.mentions.resolve(w.room, "", user_id=w.bob) == ResolvedMentions(
        (), False, ()
    )


@pytest.mark.parametrize(
    ("field", "args"),
    [
        ("text", ("x" * 10_001,)),
        ("text", (None,)),
        ("text", ("@bob\x00",)),
        ("text", ("@bob \ud800",)),
        ("room_id", ()),
        ("user_id", ()),
    ],
)
async def test_resolve_validates_its_input(
    store: ChatStore, world: World, field: str, args: tuple[object, ...]
) -> None:
    w = world
    room: object = "general" if field == "room_id" else w.room
    user: object = 7 if field == "user_id" else w.bob
    text = args[0] if args else "@dave"
    with pytest.raises(ValidationError) as raised:
        await store.mentions.resolve(room, text, user_id=user)  # type: ignore[arg-type]
    assert raised.value.field == field


# -- what a send and an edit keep ------------------------------------------------------------


async def test_a_send_keeps_members_only_never_the_sender_in_the_order_given(
    store: ChatStore, world: World
) -> None:
    w = world
    sent = await say(store, w.room, w.bob, w.mallory, w.bob, w.dave, uuid.uuid4(), w.alice, w.dave)
    assert sent.mentioned_ids == (w.dave, w.alice)
    assert (await store.messages.get(sent.id, user_id=w.carol)).mentioned_ids == (w.dave, w.alice)
    assert sorted(await mention_rows(store)) == sorted([(sent.id, w.dave), (sent.id, w.alice)])


@pytest.mark.parametrize("kind", ["public", "private"])
async def test_a_plain_member_may_not_mention_the_room_and_nothing_is_written(
    store: ChatStore, world: World, kind: str
) -> None:
    w = world
    room = w.room if kind == "public" else w.staff
    before = (await head(store, room), (await store.rooms.get(room)).last_seq)
    with pytest.raises(PermissionDenied, match=MAY_NOT):
        await say(store, room, w.bob, w.alice, everyone=True)
    assert (await head(store, room), (await store.rooms.get(room)).last_seq) == before
    assert await mention_rows(store) == []
    # The same member, an admin now, may.
    await store.rooms.set_role(room, w.bob, "admin", acting_user_id=w.alice)
    assert (await say(store, room, w.bob, everyone=True)).mentions_room


async def test_owners_admins_and_either_user_of_a_direct_room_mention_the_room(
    store: ChatStore, world: World
) -> None:
    w = world
    for room, sender in (
        (w.room, w.alice),
        (w.room, w.carol),
        (w.direct, w.bob),
        (w.direct, w.dave),
    ):
        assert (await say(store, room, sender, everyone=True)).mentions_room
    # An edit may not turn @room on for a plain member either.
    plain = await say(store, w.room, w.dave, text="later")
    with pytest.raises(PermissionDenied, match=MAY_NOT):
        await store.messages.update(plain.id, "later, all", editor_id=w.dave, mentions_room=True)
    assert not (await store.messages.get(plain.id, user_id=w.dave)).mentions_room


# -- unread mention counts ---------------------------------------------------------------------


async def test_counts_follow_sends_reads_edits_and_deletes(store: ChatStore, world: World) -> None:
    w = world
    await assert_counts(store, w.dave, {w.room: 0, w.direct: 0})
    first = await say(store, w.room, w.bob, w.dave)
    await say(store, w.room, w.bob)  # unread, but no mention
    both = await say(store, w.room, w.alice, w.dave, everyone=True)  # counts once
    await say(store, w.direct, w.bob, everyone=True)
    await assert_counts(store, w.dave, {w.room: 2, w.direct: 1})
    await assert_counts(store, w.bob, {w.room: 1, w.direct: 0, w.staff: 0})  # the @room
    await assert_counts(store, w.carol, {w.room: 1})

    # An edit drops dave's mention, another adds carol's: counts move at once.
    await store.messages.update(first.id, "never mind", editor_id=w.bob, mention_ids=[w.carol])
    await assert_counts(store, w.dave, {w.room: 1})
    await assert_counts(store, w.carol, {w.room: 2})
    # Turning @room off leaves the name; dave is still named by `both`.
    await store.messages.update(both.id, "dave only", editor_id=w.alice, mentions_room=False)
    await assert_counts(store, w.dave, {w.room: 1})
    await assert_counts(store, w.carol, {w.room: 1})
    await assert_counts(store, w.bob, {w.room: 0})

    # Reading up to the first message leaves `both` unread; reading it clears it.
    marker = await store.messages.mark_read_up_to(w.room, w.dave, first.seq)
    assert (marker.unread_count, marker.unread_mention_count) == (2, 1)
    await store.messages.mark_as_read(both.id, w.dave)
    await assert_counts(store, w.dave, {w.room: 0, w.direct: 1})

    # A deleted message stops counting.
    again = await say(store, w.room, w.bob, w.dave, w.carol)
    await assert_counts(store, w.dave, {w.room: 1})
    await store.messages.delete(again.id, acting_user_id=w.bob)
    await assert_counts(store, w.dave, {w.room: 0})
    await assert_counts(store, w.carol, {w.room: 1})
    assert (await store.messages.mark_read_up_to(w.direct, w.dave)).unread_mention_count == 0
    await assert_counts(store, w.dave, {w.room: 0, w.direct: 0})


async def test_a_senders_own_mentions_never_count(store: ChatStore, world: World) -> None:
    w = world
    await say(store, w.room, w.bob)
    await say(store, w.room, w.alice, w.alice, everyone=True)
    await assert_counts(store, w.alice, {w.room: 0})
    await assert_counts(store, w.bob, {w.room: 1})


async def test_the_marker_moved_event_carries_the_mention_count(
    store: ChatStore, world: World
) -> None:
    w = world
    await say(store, w.room, w.bob, w.dave)
    await say(store, w.room, w.bob, w.dave)
    async with store.events.subscribe([user_channel(w.dave)]) as subscription:
        marker = await store.messages.mark_read_up_to(w.room, w.dave, 1)
        assert (marker.unread_count, marker.unread_mention_count) == (1, 1)
        async with asyncio.timeout(10):
            while (event := await anext(subscription)).type != "marker.moved":
                pass
    assert event.payload == {
        "user_id": str(w.dave),
        "last_read_seq": 1,
        "unread_count": 1,
        "unread_mention_count": 1,
    }


# -- the inbox ---------------------------------------------------------------------------------


async def test_the_inbox_pages_newest_first_without_repeats_or_gaps(
    store: ChatStore, world: World
) -> None:
    w = world
    expected: list[tuple[str, bool]] = []

    async def sent(
        room: uuid.UUID, sender: uuid.UUID, *named: uuid.UUID, everyone: bool = False
    ) -> None:
        text = f"message {len(expected) + 1}"
        await say(store, room, sender, *named, everyone=everyone, text=text)
        if w.dave in named or (everyone and sender != w.dave):
            expected.insert(0, (text, w.dave in named))

    # Before dave is in the room: an @room there is not his.
    outside = await store.rooms.create(name="later", kind="public", created_by=w.alice)
    await say(store, outside.id, w.alice, everyone=True, text="before dave joined")
    await store.rooms.add_member(outside.id, w.dave, acting_user_id=w.alice)
    for n in range(12):
        room = (w.room, w.direct, outside.id)[n % 3]
        sender = {w.room: (w.alice, w.carol)[n % 2], w.direct: w.bob, outside.id: w.alice}[room]
        named = (w.dave,) if n % 4 != 1 else ()
        await sent(room, sender, *named, everyone=n % 5 in (1, 2))
        await sent(room, w.dave, everyone=room == w.direct)  # his own: never listed
    await sent(w.room, w.bob, w.carol)  # not his
    assert len(expected) >= 10
    for limit in (1, 2, 5, 200):
        assert shown(await whole_inbox(store, w.dave, limit)) == expected, limit
    page = await store.mentions.inbox(w.dave, limit=3)
    assert isinstance(page, MentionPage)
    assert [m.message.created_at for m in page.mentions] == sorted(
        (m.message.created_at for m in page.mentions), reverse=True
    )
    assert page.next_cursor == MentionCursor(
        page.mentions[-1].message.created_at, page.mentions[-1].message.id
    )
    assert await store.mentions.inbox(w.mallory) == MentionPage((), None)
    assert await store.mentions.inbox(uuid.uuid4()) == MentionPage((), None)


async def test_a_message_naming_and_mentioning_the_room_is_listed_once_by_name(
    store: ChatStore, world: World
) -> None:
    w = world
    both = await say(store, w.room, w.alice, w.dave, everyone=True, text="both")
    await say(store, w.room, w.carol, everyone=True, text="room")
    [room_only, named] = (await store.mentions.inbox(w.dave)).mentions
    assert shown([room_only, named]) == [("room", False), ("both", True)]
    # The message as a normal read returns it.
    assert named.message == await store.messages.get(both.id, user_id=w.dave)
    # Un-named by an edit, the message stays, as an @room one.
    await store.messages.update(both.id, "both", editor_id=w.alice, mention_ids=[])
    assert shown((await store.mentions.inbox(w.dave)).mentions) == [
        ("room", False),
        ("both", False),
    ]


async def test_deleting_a_message_or_leaving_the_room_takes_its_mentions_away(
    store: ChatStore, world: World
) -> None:
    w = world
    named = await say(store, w.room, w.bob, w.dave, text="named")
    await say(store, w.room, w.alice, everyone=True, text="everyone")
    await say(store, w.direct, w.bob, w.dave, text="direct")
    assert shown((await store.mentions.inbox(w.dave)).mentions) == [
        ("direct", True),
        ("everyone", False),
        ("named", True),
    ]
    await store.messages.delete(named.id, acting_user_id=w.alice)
    assert shown((await store.mentions.inbox(w.dave)).mentions) == [
        ("direct", True),
        ("everyone", False),
    ]
    await store.rooms.remove_member(w.room, w.dave)
    assert shown((await store.mentions.inbox(w.dave)).mentions) == [("direct", True)]
    # Back in the room, what was said while he was away is not his.
    await store.rooms.add_member(w.room, w.dave, acting_user_id=w.alice)
    assert shown((await store.mentions.inbox(w.dave)).mentions) == [("direct", True)]


async def test_a_thread_reply_mention_is_in_the_inbox_with_its_thread(
    store: ChatStore, world: World
) -> None:
    w = world
    root = await say(store, w.room, w.alice, text="root")
    reply = await store.send_message(
        CreateMessage(w.room, w.bob, "in thread", thread_root_id=root.id, mention_ids=(w.dave,))
    )
    [mention] = (await store.mentions.inbox(w.dave)).mentions
    assert (mention.message.id, mention.message.thread_root_id, mention.by_name) == (
        reply.id,
        root.id,
        True,
    )


@pytest.mark.parametrize(
    ("field", "kwargs"),
    [
        ("before", {"before": "newest"}),
        ("before", {"before": MentionCursor(datetime(2026, 1, 1), uuid.uuid4())}),  # naive
        ("before", {"before": MentionCursor(datetime.now(UTC), "id")}),  # type: ignore[arg-type]
        ("limit", {"limit": 0}),
        ("limit", {"limit": 201}),
        ("user_id", {}),
    ],
)
async def test_the_inbox_validates_its_input(
    store: ChatStore, world: World, field: str, kwargs: dict[str, object]
) -> None:
    user: object = b"dave" if field == "user_id" else world.dave
    with pytest.raises(ValidationError) as raised:
        await store.mentions.inbox(user, **kwargs)  # type: ignore[arg-type]
    assert raised.value.field == field
