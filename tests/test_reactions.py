"""Reactions to messages (store.reactions) against a real PostgreSQL: idempotent adds and
removes, counts and reacted-by-me, keyset pages of reactors, the counts of many messages,
membership and deleted-message rules, validation, the change-log entries (gap-free, none for
no-ops), cascades, and exact counts when adds race for the room lock.
"""

from __future__ import annotations

import asyncio
import unicodedata
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
import pytest

from chatstore import (
    ChatStore,
    CreateMessage,
    ReactionChange,
    ReactionCount,
    ReactorPage,
    validation,
)
from chatstore.conversation_models import ReactorCursor
from chatstore.errors import Conflict, NotFound, PermissionDenied, ValidationError
from chatstore.models import LogEntry, Message
from chatstore.queries import load_queries
from chatstore.validation import _REACTION_REFUSED
from tests.dbchecks import connect, conversations
from tests.test_change_log import Published, make_users, statements


@dataclass(frozen=True)
class World:
    """A public room: alice owns it, carol is an admin, bob and dave are members; mallory
    is not. `hello` is alice's message there."""

    room: uuid.UUID
    alice: uuid.UUID
    bob: uuid.UUID
    carol: uuid.UUID
    dave: uuid.UUID
    mallory: uuid.UUID
    hello: Message


async def make_world(store: ChatStore) -> World:
    alice, bob, carol, dave, mallory = await make_users(store, 5)
    room = await store.rooms.create(name="general", kind="public", created_by=alice)
    for user in (bob, carol, dave):
        await store.rooms.add_member(room.id, user, acting_user_id=alice)
    await store.rooms.set_role(room.id, carol, "admin", acting_user_id=alice)
    hello = await store.send_message(CreateMessage(room.id, alice, "hello"))
    return World(room.id, alice, bob, carol, dave, mallory, hello)


@pytest.fixture
async def world(store: ChatStore) -> World:
    return await make_world(store)


@pytest.fixture
def published(store: ChatStore) -> Any:
    recorder, original = Published(), store.db.log_publisher
    store.db.log_publisher = recorder
    try:
        yield recorder
    finally:
        store.db.log_publisher = original


async def log_tail(store: ChatStore, room: uuid.UUID, after: int) -> list[LogEntry]:
    return await store.log.after(room, after, limit=10_000)


async def head(store: ChatStore, room: uuid.UUID) -> int:
    return (await store.log.heads([room]))[room].last_event_seq


def counts(found: list[ReactionCount]) -> list[tuple[str, int, bool]]:
    return [(c.reaction, c.count, c.reacted_by_me) for c in found]


async def reaction_rows(store: ChatStore) -> int:
    async with connect(store.settings.database_url) as conn:
        row = await conversations.count_reactions(conn)
    assert row is not None
    return int(row["n"])


# -- adding and removing ---------------------------------------------------------------------


async def test_add_and_remove_are_idempotent_and_count(store: ChatStore, world: World) -> None:
    w = world
    added = await store.reactions.add(w.hello.id, "👍", user_id=w.bob)
    assert added == ReactionChange(w.room, w.hello.id, w.bob, "👍", changed=True, count=1)
    again = await store.reactions.add(str(w.hello.id), "👍", user_id=str(w.bob))
    assert (again.changed, again.count) == (False, 1)
    assert (await store.reactions.add(w.hello.id, "👍", user_id=w.carol)).count == 2
    assert (await store.reactions.add(w.hello.id, ":tada:", user_id=w.bob)).count == 1
    assert counts(await store.reactions.reactions(w.hello.id, user_id=w.bob)) == [
        ("👍", 2, True),
        (":tada:", 1, True),
    ]
    # The reader's own flag, and keys in the order they were first used.
    assert counts(await store.reactions.reactions(w.hello.id, user_id=w.dave)) == [
        ("👍", 2, False),
        (":tada:", 1, False),
    ]

    removed = await store.reactions.remove(w.hello.id, "👍", user_id=w.bob)
    assert (removed.changed, removed.count) == (True, 1)
    absent = await store.reactions.remove(w.hello.id, "👍", user_id=w.bob)
    assert absent == ReactionChange(w.room, w.hello.id, w.bob, "👍", changed=False, count=1)
    never = await store.reactions.remove(w.hello.id, "+1", user_id=w.dave)
    assert (never.changed, never.count) == (False, 0)
    assert counts(await store.reactions.reactions(w.hello.id, user_id=w.carol)) == [
        ("👍", 1, True),
        (":tada:", 1, False),
    ]
    await store.reactions.remove(w.hello.id, "👍", user_id=w.carol)
    await store.reactions.remove(w.hello.id, ":tada:", user_id=w.bob)
    assert await store.reactions.reactions(w.hello.id, user_id=w.bob) == []
    assert await reaction_rows(store) == 0


async def test_changes_log_one_entry_each_and_no_ops_none(
    store: ChatStore, world: World, published: Published
) -> None:
    w = world
    start = await head(store, w.room)
    await store.reactions.add(w.hello.id, "👍", user_id=w.bob)
    await store.reactions.add(w.hello.id, "👍", user_id=w.bob)  # no-op
    await store.reactions.add(w.hello.id, "👍", user_id=w.dave)
    await store.reactions.remove(w.hello.id, "👍", user_id=w.bob)
    await store.reactions.remove(w.hello.id, "👍", user_id=w.bob)  # no-op
    await store.reactions.remove(w.hello.id, "🎉", user_id=w.dave)  # no-op
    entries = await log_tail(store, w.room, start)
    assert [e.event_seq for e in entries] == [start + 1, start + 2, start + 3]
    assert [(e.type, e.actor_id) for e in entries] == [
        ("reaction.added", w.bob),
        ("reaction.added", w.dave),
        ("reaction.removed", w.bob),
    ]
    message = str(w.hello.id)
    assert [e.payload for e in entries] == [
        {"message_id": message, "user_id": str(w.bob), "reaction": "👍", "count": 1},
        {"message_id": message, "user_id": str(w.dave), "reaction": "👍", "count": 2},
        {"message_id": message, "user_id": str(w.bob), "reaction": "👍", "count": 1},
    ]
    # Handed to the publisher once committed, each exactly once; no-ops hand over nothing.
    assert published.entries == entries
    assert await head(store, w.room) == start + 3


async def test_one_statement_per_add_and_remove(
    store: ChatStore, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    for call in (store.reactions.add, store.reactions.add, store.reactions.remove):
        with statements(monkeypatch) as sent:
            await call(world.hello.id, "👍", user_id=world.bob)
        assert [s.split()[0] for s in sent if not s.startswith("(pool")] == ["WITH"], sent


async def test_only_members_react_and_read(store: ChatStore, world: World) -> None:
    w = world
    await store.reactions.add(w.hello.id, "👍", user_id=w.bob)
    before = await head(store, w.room)
    for call in (
        store.reactions.add(w.hello.id, "👍", user_id=w.mallory),
        store.reactions.remove(w.hello.id, "👍", user_id=w.mallory),
        store.reactions.reactions(w.hello.id, user_id=w.mallory),
        store.reactions.reactors(w.hello.id, "👍", user_id=w.mallory),
    ):
        with pytest.raises(PermissionDenied):
            await call
    missing = uuid.uuid4()
    for call in (
        store.reactions.add(missing, "👍", user_id=w.bob),
        store.reactions.remove(missing, "👍", user_id=w.bob),
        store.reactions.reactions(missing, user_id=w.bob),
        store.reactions.reactors(missing, "👍", user_id=w.bob),
    ):
        with pytest.raises(NotFound):
            await call
    # Counts of messages the reader may not see are simply absent.
    found = await store.reactions.reaction_counts([w.hello.id, missing], user_id=w.mallory)
    assert found == {w.hello.id: [], missing: []}
    assert await head(store, w.room) == before
    assert await reaction_rows(store) == 1
    # A member who leaves can no longer react; their reaction stays.
    await store.rooms.remove_member(w.room, w.bob, acting_user_id=w.bob)
    with pytest.raises(PermissionDenied):
        await store.reactions.remove(w.hello.id, "👍", user_id=w.bob)
    assert counts(await store.reactions.reactions(w.hello.id, user_id=w.dave)) == [("👍", 1, False)]


async def test_a_deleted_message_gets_no_new_reactions_but_loses_old_ones(
    store: ChatStore, world: World
) -> None:
    w = world
    await store.reactions.add(w.hello.id, "👍", user_id=w.bob)
    await store.messages.delete(w.hello.id, acting_user_id=w.alice)
    before = await head(store, w.room)
    with pytest.raises(Conflict) as refused:
        await store.reactions.add(w.hello.id, "🎉", user_id=w.dave)
    assert refused.value.field == "message"
    with pytest.raises(Conflict):  # even one the user already has
        await store.reactions.add(w.hello.id, "👍", user_id=w.bob)
    assert await head(store, w.room) == before
    assert counts(await store.reactions.reactions(w.hello.id, user_id=w.dave)) == [("👍", 1, False)]
    removed = await store.reactions.remove(w.hello.id, "👍", user_id=w.bob)
    assert (removed.changed, removed.count) == (True, 0)
    assert [e.type for e in await log_tail(store, w.room, before)] == ["reaction.removed"]


# -- validation ------------------------------------------------------------------------------

GOOD_KEYS = [
    "👍",
    ":thumbsup:",
    "+1",
    "👍🏽",
    "🇫🇷",
    "👨‍👩‍👧‍👦",  # joined by zero-width joiners, which are format characters, not controls
    "❤️",  # with a variation selector
    "x" * 32,
    "é" * 32,  # 32 code points, 64 bytes
]
BAD_KEYS: list[tuple[object, str]] = [
    ("", "must be 1 to 32 characters long"),
    ("x" * 33, "must be 1 to 32 characters long"),
    ("thumbs up", "must not contain whitespace or control characters"),
    (" 👍", "must not contain whitespace or control characters"),
    ("👍\n", "must not contain whitespace or control characters"),
    ("a\u00a0b", "must not contain whitespace or control characters"),
    ("a\u3000b", "must not contain whitespace or control characters"),
    ("a\x7fb", "must not contain whitespace or control characters"),
    ("a\x00b", "must not contain whitespace or control characters"),
    ("a\ud800", "must be valid Unicode text"),
    (None, "must be a string"),
    (1, "must be a string"),
    (b"+1", "must be a string"),
]


@pytest.mark.parametrize("key", GOOD_KEYS)
async def test_good_reaction_keys_are_stored_as_given(
    store: ChatStore, world: World, key: str
) -> None:
    change = await store.reactions.add(world.hello.id, key, user_id=world.bob)
    assert (change.reaction, change.changed) == (key, True)
    page = await store.reactions.reactors(world.hello.id, key, user_id=world.dave)
    assert [r.user_id for r in page.reactors] == [world.bob]


@pytest.mark.parametrize(("key", "rule"), BAD_KEYS, ids=[repr(k)[:20] for k, _ in BAD_KEYS])
async def test_bad_reaction_keys_name_the_field_and_write_nothing(
    store: ChatStore, world: World, key: Any, rule: str
) -> None:
    before = await head(store, world.room)
    for call in (
        store.reactions.add(world.hello.id, key, user_id=world.bob),
        store.reactions.remove(world.hello.id, key, user_id=world.bob),
        store.reactions.reactors(world.hello.id, key, user_id=world.bob),
    ):
        with pytest.raises(ValidationError) as raised:
            await call
        assert raised.value.field == "reaction"
        assert rule in raised.value.rule
    assert await head(store, world.room) == before
    assert await reaction_rows(store) == 0


async def test_other_bad_arguments_name_their_field(store: ChatStore, world: World) -> None:
    w = world
    not_ids: list[Any] = [uuid.uuid4(), 1]
    cases: list[tuple[str, Any]] = [
        ("message_id", store.reactions.add("nope", "👍", user_id=w.bob)),
        ("user_id", store.reactions.remove(w.hello.id, "👍", user_id=None)),  # type: ignore[arg-type]
        ("limit", store.reactions.reactors(w.hello.id, "👍", user_id=w.bob, limit=0)),
        ("after", store.reactions.reactors(w.hello.id, "👍", user_id=w.bob, after="x")),  # type: ignore[arg-type]
        (
            "after",
            store.reactions.reactors(
                w.hello.id,
                "👍",
                user_id=w.bob,
                after=ReactorCursor(datetime(2026, 1, 1), w.bob),  # naive: no instant
            ),
        ),
        ("message_ids", store.reactions.reaction_counts("abc", user_id=w.bob)),
        ("message_ids", store.reactions.reaction_counts(not_ids, user_id=w.bob)),
        (
            "message_ids",
            store.reactions.reaction_counts([uuid.uuid4() for _ in range(1001)], user_id=w.bob),
        ),
    ]
    for field, call in cases:
        with pytest.raises(ValidationError) as raised:
            await call
        assert raised.value.field == field


def test_python_refuses_exactly_whitespace_and_control_characters() -> None:
    refused = {
        code
        for code in range(0x110000)
        if not 0xD800 <= code <= 0xDFFF
        and (chr(code).isspace() or unicodedata.category(chr(code)) == "Cc")
    }
    matched = {
        code
        for code in range(0x110000)
        if not 0xD800 <= code <= 0xDFFF and _REACTION_REFUSED.search(chr(code))
    }
    assert matched == refused


REACTION_CHECK = "message_reactions_reaction_format"


async def refused_by_the_check(
    conn: psycopg.AsyncConnection[Any], probe: Any, **params: Any
) -> bool:
    """Whether the table's reaction check refuses what the db/checks `probe` inserts into
    reaction_probe (rolled back either way); any other error is raised."""
    try:
        async with conn.transaction(force_rollback=True):
            await probe(conn, **params)
    except psycopg.errors.CheckViolation as refused:
        constraint = refused.diag.constraint_name
    else:
        return False
    assert constraint == REACTION_CHECK, constraint
    return True


async def refused_code_points(conn: psycopg.AsyncConnection[Any], low: int, high: int) -> list[int]:
    """The code points from low to high (surrogates skipped) whose one-character key the
    table's check refuses. The whole range goes into reaction_probe in one INSERT; only a
    refused range is split in two and tried again, down to single code points, so the
    million-odd keys cost a few hundred statements."""
    if not await refused_by_the_check(conn, conversations.probe_code_points, low=low, high=high):
        return []
    if low == high:
        return [low]
    middle = (low + high) // 2
    below = await refused_code_points(conn, low, middle)
    return below + await refused_code_points(conn, middle + 1, high)


async def table_accepts(conn: psycopg.AsyncConnection[Any], key: str) -> bool:
    """Whether the table's check lets `key` in."""
    return not await refused_by_the_check(conn, conversations.probe_reaction, reaction=key)


def python_accepts(key: str) -> bool:
    try:
        validation.reaction(key)
    except ValidationError:
        return False
    return True


async def test_the_table_check_refuses_exactly_what_python_refuses(database_url: str) -> None:
    """The message_reactions_reaction_format check, tried on a one-character key for every
    code point (PostgreSQL text cannot hold NUL or surrogates), refuses the same characters
    as the Python rule, and counts length in code points as Python does.

    The keys go into reaction_probe, a temporary table PostgreSQL itself shapes like
    message_reactions with its CHECK constraints copied from the catalog (LIKE ... INCLUDING
    CONSTRAINTS), so what is tried is the table's own check, not a copy of its text."""
    async with connect(database_url) as conn:
        await conversations.create_reaction_probe(conn)
        refused = await refused_code_points(conn, 1, 0x10FFFF)
        assert refused == [c for c in range(1, 0x110000) if _REACTION_REFUSED.search(chr(c))]
        for key, ok in (
            ("é" * 32, True),
            ("é" * 33, False),
            ("👍" * 32, True),
            ("👍" * 33, False),
            ("👨‍👩‍👧‍👦", True),
            ("", False),
        ):
            assert (await table_accepts(conn, key), python_accepts(key)) == (ok, ok), key


# -- reading ---------------------------------------------------------------------------------


async def test_reactors_come_oldest_first_in_keyset_pages(store: ChatStore, world: World) -> None:
    w = world
    people = await make_users(store, 7)
    for person in people:
        await store.rooms.add_member(w.room, person)
    # Four one at a time, then three in one transaction: those share created_at (now() is
    # the transaction's start), and user_id orders them.
    for person in people[:4]:
        await store.reactions.add(w.hello.id, "👍", user_id=person)
    async with store.transaction():
        for person in people[4:]:
            await store.reactions.add(w.hello.id, "👍", user_id=person)
    await store.reactions.add(w.hello.id, "🎉", user_id=w.bob)  # another key: not listed
    expected = people[:4] + sorted(people[4:])

    seen: list[uuid.UUID] = []
    page = await store.reactions.reactors(w.hello.id, "👍", user_id=w.dave, limit=3)
    pages = [page]
    while page.next_cursor is not None:
        page = await store.reactions.reactors(
            w.hello.id, "👍", user_id=w.dave, after=page.next_cursor, limit=3
        )
        pages.append(page)
    for each in pages:
        seen += [r.user_id for r in each.reactors]
    assert [len(each.reactors) for each in pages] == [3, 3, 1]
    assert seen == expected
    times = [r.reacted_at for each in pages for r in each.reactors]
    assert times == sorted(times)
    first = pages[0].reactors[0]
    assert first.username == people[0].hex  # make_users names each user by its id
    # An exact fit ends without an empty extra page.
    whole = await store.reactions.reactors(w.hello.id, "👍", user_id=w.dave, limit=7)
    assert ([r.user_id for r in whole.reactors], whole.next_cursor) == (expected, None)
    assert await store.reactions.reactors(w.hello.id, "+1", user_id=w.dave) == ReactorPage((), None)


async def test_reaction_counts_for_many_messages(store: ChatStore, world: World) -> None:
    w = world
    second = await store.send_message(CreateMessage(w.room, w.bob, "second"))
    quiet = await store.send_message(CreateMessage(w.room, w.bob, "no reactions"))
    elsewhere = await store.rooms.create(name="staff", kind="private", created_by=w.mallory)
    hidden = await store.send_message(CreateMessage(elsewhere.id, w.mallory, "staff only"))
    await store.reactions.add(hidden.id, "👀", user_id=w.mallory)
    await store.reactions.add(w.hello.id, "🎉", user_id=w.bob)
    await store.reactions.add(w.hello.id, "👍", user_id=w.dave)
    await store.reactions.add(w.hello.id, "👍", user_id=w.bob)
    await store.reactions.add(second.id, "👍", user_id=w.dave)
    missing = uuid.uuid4()
    asked: list[uuid.UUID | str] = [w.hello.id, str(second.id), quiet.id, hidden.id, missing]
    asked.append(w.hello.id)  # asked twice, answered once
    found = await store.reactions.reaction_counts(asked, user_id=w.bob)
    assert list(found) == [w.hello.id, second.id, quiet.id, hidden.id, missing]
    assert {m: counts(c) for m, c in found.items()} == {
        w.hello.id: [("🎉", 1, True), ("👍", 2, True)],
        second.id: [("👍", 1, False)],
        quiet.id: [],
        hidden.id: [],
        missing: [],
    }
    # The same answer as asking one message at a time.
    assert found[w.hello.id] == await store.reactions.reactions(w.hello.id, user_id=w.bob)
    assert await store.reactions.reaction_counts([], user_id=w.bob) == {}


# -- cascades --------------------------------------------------------------------------------


async def test_reactions_go_with_their_user_and_their_room(store: ChatStore, world: World) -> None:
    w = world
    await store.reactions.add(w.hello.id, "👍", user_id=w.bob)
    await store.reactions.add(w.hello.id, "👍", user_id=w.dave)
    await store.users.delete(w.bob)
    assert counts(await store.reactions.reactions(w.hello.id, user_id=w.dave)) == [("👍", 1, True)]
    assert await reaction_rows(store) == 1
    await store.rooms.delete(w.room, acting_user_id=w.alice)
    assert await reaction_rows(store) == 0
    with pytest.raises(NotFound):
        await store.reactions.reactions(w.hello.id, user_id=w.dave)


# -- racing for the room lock ----------------------------------------------------------------


async def test_concurrent_adds_log_every_count_once(store: ChatStore, world: World) -> None:
    w = world
    people = await make_users(store, 12)
    for person in people:
        await store.rooms.add_member(w.room, person)
    start = await head(store, w.room)
    changes = await asyncio.gather(
        *(store.reactions.add(w.hello.id, "👍", user_id=person) for person in people)
    )
    assert sorted(c.count for c in changes) == list(range(1, 13))
    entries = await log_tail(store, w.room, start)
    assert [e.event_seq for e in entries] == list(range(start + 1, start + 13))
    # In commit order the count goes up by one each time.
    assert [e.payload["count"] for e in entries] == list(range(1, 13))
    assert {e.payload["user_id"] for e in entries} == {str(p) for p in people}
    removals = await asyncio.gather(
        *(store.reactions.remove(w.hello.id, "👍", user_id=person) for person in people)
    )
    assert sorted(c.count for c in removals) == list(range(12))
    entries = await log_tail(store, w.room, start + 12)
    assert [e.payload["count"] for e in entries] == list(range(11, -1, -1))


async def test_an_add_that_waited_for_the_room_lock_counts_what_committed_meanwhile(
    store: ChatStore, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its statement's snapshot predates the other add's commit; it notices, writes nothing,
    and runs again after taking the room lock in a transaction (messages.lock_message), so
    its count and its log entry include the other reaction."""
    w = world
    queries = load_queries()
    start = await head(store, w.room)
    async with connect(store.settings.database_url) as holder:
        with sent_by_others(monkeypatch, holder) as sent:
            async with holder.transaction():
                row = await queries.reactions.add_reaction(
                    holder, message_id=w.hello.id, user_id=w.dave, reaction="👍"
                )
                assert row["changed"]
                waiting = asyncio.create_task(store.reactions.add(w.hello.id, "👍", user_id=w.bob))
                await until_waiting_for_a_lock(holder)
            change = await waiting
    assert (change.changed, change.count) == (True, 2)
    assert sum("INSERT INTO message_reactions" in s for s in sent) == 2, sent
    assert sum("FOR NO KEY UPDATE OF m" in s for s in sent) == 1, sent  # lock_message
    entries = await log_tail(store, w.room, start)
    assert [(e.event_seq, e.payload["count"]) for e in entries] == [(start + 1, 1), (start + 2, 2)]
    assert counts(await store.reactions.reactions(w.hello.id, user_id=w.bob)) == [("👍", 2, True)]


async def test_a_remove_that_waited_sees_the_reaction_added_meanwhile(
    store: ChatStore, world: World
) -> None:
    w = world
    queries = load_queries()
    async with connect(store.settings.database_url) as holder:
        async with holder.transaction():
            await queries.reactions.add_reaction(
                holder, message_id=w.hello.id, user_id=w.bob, reaction="👍"
            )
            waiting = asyncio.create_task(store.reactions.remove(w.hello.id, "👍", user_id=w.bob))
            await until_waiting_for_a_lock(holder)
        change = await waiting
    assert (change.changed, change.count) == (True, 0)
    assert await reaction_rows(store) == 0


@contextmanager
def sent_by_others(
    monkeypatch: pytest.MonkeyPatch, holder: psycopg.AsyncConnection[Any]
) -> Iterator[list[str]]:
    """The statements sent on any connection but `holder` while the block runs."""
    seen: list[str] = []
    original = psycopg.AsyncConnection.execute

    async def execute(self: Any, query: Any, *args: Any, **kwargs: Any) -> Any:
        if self is not holder:
            seen.append(" ".join(str(query).split()))
        return await original(self, query, *args, **kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(psycopg.AsyncConnection, "execute", execute)
        yield seen


async def until_waiting_for_a_lock(conn: psycopg.AsyncConnection[Any]) -> None:
    """Until another session of this database waits for a lock (the room row)."""
    for _ in range(500):
        row = await conversations.sessions_waiting_for_a_lock(conn)
        if row is not None and row["n"]:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("nothing waited for the room lock")
