"""With a few hundred thousand messages (and tens of thousands of users, memberships, read
receipts and revisions) loaded, no query in sql/ reads a whole large table (a sequential
scan), nor sorts thousands of its rows to return a LIMIT of them, unless its comment block
says why: `-- may scan <table>: <why>`.

Every query is planned, writes included (EXPLAIN plans them without running them), with
real ids and seqs from the loaded dataset: once for an average room, once for the hot room
(a fifth of all messages, a fifth of all memberships, deep seqs and offsets), because a
real chat is skewed and a plan fit for an average room can sort or walk a whole big one.
The page queries are also run (EXPLAIN ANALYZE, read-only) deep in the hot room, to see
that they read only the rows of their page. Reactions (a few on the first messages of every
room, and thousands of one key on one hot-room message) and pins (the first messages of
every room) make message_reactions and message_pins large too, and mentions (every tenth
message names the rooms' owner, one in 200 mentions the whole room) message_mentions.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiosql
import bcrypt
import psycopg
import pytest
from psycopg import sql
from psycopg.rows import dict_row

from chatstore.guardrails import (
    assert_plans_ok,
    find_large_tables,
    load_queries,
    plan_problems,
    static_problems,
)
from chatstore.guardrails.plans import connect, explain, plan_nodes
from chatstore.queries import load_queries as chatstore_queries
from chatstore.resources import packaged_sql_dir
from tests.dbchecks import (
    CHECKS,
    analyzed_page_reads,
    conversations,
    copy_sql,
    copy_sql_with_the_old_offset_page,
    probes,
)
from tests.dbchecks import connect as connect_async
from tests.servers import PgServer, migrate

bulk: Any = aiosql.from_path(CHECKS / "bulk.sql", "apsycopg")
threads: Any = aiosql.from_path(CHECKS / "threads.sql", "apsycopg")
ROOMS, PER_ROOM = 100, 3000
# Members (and read receipts) spread over the rooms; messages edited per room.
PEOPLE, EDITED_PER_ROOM = 20_000, 200
# The hot room: a fifth of all messages and of all memberships, as one busy room has.
HOT_MESSAGES, HOT_MEMBERS = 75_000, 5_000
# A message that was edited and read by others, for the queries about one message.
SAMPLE_SEQ = 10
SQL = packaged_sql_dir()
PAGES = ("messages.page_before", "messages.page_after", "messages.page_by_offset")
# Plans fine for an average room that sort or scan the whole hot one, awaiting a fix outside
# this module; the check fails when one appears or is fixed (then drop it here).
# list_members sorts all the room's members per page: wants room_users (room_id, joined_at).
HOT_ROOM_KNOWN = {"members.list_members"}
# Reactions and pins: on the first messages of every room, and one hot-room message (the
# SAMPLE_SEQ one) that HOT_REACTORS people reacted to with the same key.
REACTED_PER_ROOM, PINNED_PER_ROOM, HOT_REACTORS = 100, 120, 5000
REACTION = "👍"
# Mentions: every NAMED_EVERY-th message names the owner (of every room), every
# ROOM_EVERY-th mentions the whole room (already denser than real rooms, where only owners
# and admins may); the queries that count or list them. The inbox merges each room's newest
# @room messages with a sort of up to rooms x limit keys: at 1 in 100 the planner expects
# more than the guardrails' 1,000 sorted rows for the owner's 101 rooms.
NAMED_EVERY, ROOM_EVERY = 10, 200
# Threads: one in the hot room, rooted at THREAD_ROOT_SEQ, with THREAD_REPLIES replies and
# every member of the room (HOT_MEMBERS) following it; the queries that read it.
THREAD_ROOT_SEQ, THREAD_REPLIES = 1_000, 20_000
# Two more threads of the hot room, without replies, that every member also follows: three
# follows per member (thread_follows is then one of the large tables).
FOLLOWED_ROOT_SEQS = (500, 600)
THREAD_QUERIES = ("threads.thread_page", "threads.mark_thread_read", "threads.followed_threads")
MENTION_QUERIES = (
    "members.unread_counts",
    "members.mark_read_up_to",
    "rooms.rooms_of_user",
    "mentions.mention_inbox",
    "mentions.resolve_mentions",
)
CONVERSATIONS: Any = aiosql.from_str(
    """
-- name: bulk_load_reactions(hot_room_id, hot_seq, per_room, reactors, reaction)!
-- Three people react with the key and with 🎉 to each of the first per_room messages of
-- every room, and `reactors` people with the key to one hot-room message, one a second.
WITH people AS (
    SELECT u.id, row_number() OVER (ORDER BY u.id) AS n
    FROM users AS u
    ORDER BY u.id
    LIMIT :reactors
)
INSERT INTO message_reactions (room_id, message_id, user_id, reaction, created_at)
SELECT m.room_id, m.id, p.id, k.reaction, m.created_at + make_interval(secs => p.n)
FROM messages AS m
CROSS JOIN (VALUES (:reaction::text), ('🎉')) AS k (reaction)
INNER JOIN people AS p ON p.n <= 3
WHERE m.seq <= :per_room
UNION ALL
SELECT m.room_id, m.id, p.id, :reaction, m.created_at + make_interval(secs => p.n)
FROM messages AS m
CROSS JOIN people AS p
WHERE m.room_id = :hot_room_id AND m.seq = :hot_seq AND p.n > 3;

-- name: bulk_load_pins(pinned_by, per_room)!
-- Pins the first per_room messages of every room, each when it was sent.
INSERT INTO message_pins (room_id, message_id, pinned_by, pinned_at)
SELECT m.room_id, m.id, :pinned_by, m.created_at
FROM messages AS m
WHERE m.seq <= :per_room;

-- name: analyze_conversations()!
-- Planner statistics after the bulk load.
ANALYZE message_reactions, message_pins;

-- name: message_ids(room_id, limit)
-- The ids of the room's first messages, as a page of history names them.
SELECT id FROM messages WHERE room_id = :room_id ORDER BY seq LIMIT :limit;

-- name: reactor_at(message_id, reaction, position)^
-- The reactors cursor (created_at, user_id) of the position-th reactor, oldest first.
SELECT mr.created_at, mr.user_id
FROM message_reactions AS mr
INNER JOIN messages AS m ON mr.room_id = m.room_id AND mr.message_id = m.id
WHERE m.id = :message_id AND mr.reaction = :reaction
ORDER BY mr.created_at, mr.user_id
OFFSET :position - 1 LIMIT 1;

-- name: pin_at(room_id, seq)^
-- The pins cursor (pinned_at, message_id) of the pin of the message with this seq.
SELECT p.pinned_at, p.message_id
FROM message_pins AS p
INNER JOIN messages AS m ON p.room_id = m.room_id AND p.message_id = m.id
WHERE m.room_id = :room_id AND m.seq = :seq;
""",
    "apsycopg",
)
# The reaction and pin queries, and the table of theirs each must read through an index.
CONVERSATION_QUERIES = {
    "reactions.add_reaction": "message_reactions",
    "reactions.remove_reaction": "message_reactions",
    "reactions.message_reactions": "message_reactions",
    "reactions.reaction_counts": "message_reactions",
    "reactions.reactors": "message_reactions",
    "pins.pin_message": "message_pins",
    "pins.unpin_message": "message_pins",
    "pins.room_pins": "message_pins",
}
# The public room directory: many public rooms (and private ones, which it never lists), so
# that reading every room would show; the main dataset has too few rooms for that.
PUBLIC_ROOMS, PRIVATE_ROOMS = 30_000, 10_000
DIRECTORY: Any = aiosql.from_str(
    """
-- name: bulk_load_directory(public_rooms, private_rooms)!
-- Public rooms named '<a word of 8 pseudo-random letters> <n>' ('Awtgsqaa 1'), so that
-- trigrams are about as varied as in real names; then private ones named alike.
INSERT INTO rooms (kind, name)
SELECT
    CASE WHEN g.n <= :public_rooms::integer THEN 'public' ELSE 'private' END,
    initcap(w.word) || ' ' || g.n
FROM generate_series(1, :public_rooms::integer + :private_rooms::integer) AS g (n)
CROSS JOIN LATERAL (
    SELECT string_agg(chr(97 + mod(get_byte(decode(md5(g.n || '-' || i), 'hex'), 0), 26)), '')
    FROM generate_series(1, 8) AS i
) AS w (word);

-- name: analyze_directory()!
-- Planner statistics after the bulk load (the expression indexes' too).
ANALYZE rooms;

-- name: public_room_at(position)^
-- The directory cursor (name_key, id) of the position-th public room in directory order.
SELECT lower(name) AS name_key, id
FROM rooms
WHERE kind = 'public'
ORDER BY lower(name), id
OFFSET :position::integer - 1 LIMIT 1;
""",
    "apsycopg",
)
SEARCH = """
-- name: search_messages(pattern)
-- returns messages matching
SELECT id FROM messages WHERE content ILIKE :pattern;
"""


@pytest.fixture(scope="module")
async def loaded(pg_server: PgServer) -> dict[str, Any]:
    """One database with ROOMS x PER_ROOM messages and the hot room, shared by this module's
    read-only tests, and real values from it for every query parameter that names something
    (in an average room, and deep in the hot room)."""
    url = pg_server.url("chatstore_plans")
    migrate(url, "up")
    user_id = uuid.uuid4()
    password_hash = bcrypt.hashpw(b"plan checks", bcrypt.gensalt(10)).decode()
    async with connect_async(url) as conn:
        await probes.insert_user(
            conn, id=user_id, email="bulk@example.com", username="bulk", password_hash=password_hash
        )
        await bulk.bulk_load_rooms(conn, user_id=user_id, rooms=ROOMS, per_room=PER_ROOM)
        await bulk.bulk_load_people(
            conn, owner_id=user_id, people=PEOPLE, password_hash=password_hash
        )
        # After the people, who join the average rooms only.
        hot = await bulk.bulk_load_hot_room(
            conn,
            owner_id=user_id,
            messages=HOT_MESSAGES,
            members=HOT_MEMBERS,
            password_hash=password_hash,
        )
        await bulk.bulk_load_edits(conn, per_room=EDITED_PER_ROOM)
        await bulk.analyze_tables(conn)
        await CONVERSATIONS.bulk_load_reactions(
            conn,
            hot_room_id=hot["id"],
            hot_seq=SAMPLE_SEQ,
            per_room=REACTED_PER_ROOM,
            reactors=HOT_REACTORS,
            reaction=REACTION,
        )
        await CONVERSATIONS.bulk_load_pins(conn, pinned_by=user_id, per_room=PINNED_PER_ROOM)
        await CONVERSATIONS.analyze_conversations(conn)
        await conversations.bulk_load_mentions(
            conn, owner_id=user_id, named_every=NAMED_EVERY, room_every=ROOM_EVERY
        )
        await conversations.backdate_memberships(conn, user_id=user_id)
        await conversations.analyze_mentions(conn)
        await threads.bulk_load_thread(
            conn, room_id=hot["id"], root_seq=THREAD_ROOT_SEQ, replies=THREAD_REPLIES
        )
        await threads.bulk_follow_threads(
            conn, room_id=hot["id"], root_seqs=list(FOLLOWED_ROOT_SEQS)
        )
        await threads.analyze_threads(conn)
        hot_root = await bulk.message_at(conn, room_id=hot["id"], seq=THREAD_ROOT_SEQ)
        # Halfway through the owner's named mentions: an inbox cursor deep in them.
        named = (ROOMS * PER_ROOM + HOT_MESSAGES) // NAMED_EVERY
        deep_mention = await conversations.mention_after(conn, user_id=user_id, skipped=named // 2)
        rooms = [
            row["room_id"]
            async for row in chatstore_queries().members.unread_counts(conn, user_id=user_id)
            if row["room_id"] != hot["id"]
        ]
        room_id = rooms[0]
        message = await bulk.message_at(conn, room_id=room_id, seq=SAMPLE_SEQ)
        hot_message = await bulk.message_at(conn, room_id=hot["id"], seq=SAMPLE_SEQ)
        page_ids = {
            room: [
                row["id"] async for row in CONVERSATIONS.message_ids(conn, room_id=room, limit=50)
            ]
            for room in (room_id, hot["id"])
        }
        # Halfway through the hot message's reactors, and through the hot room's pins.
        deep_reactor = await CONVERSATIONS.reactor_at(
            conn, message_id=hot_message["id"], reaction=REACTION, position=HOT_REACTORS // 2
        )
        deep_pin = await CONVERSATIONS.pin_at(conn, room_id=hot["id"], seq=PINNED_PER_ROOM // 2)
    known = {
        "room_id": room_id,
        "room_ids": rooms[:10],
        "message_id": message["id"],
        "user_id": user_id,
        "user_ids": [user_id],
        "sender_id": user_id,
        "editor_id": user_id,
        "created_by": user_id,
        "deleted_by": user_id,
        "before_seq": PER_ROOM // 2,
        "after_seq": PER_ROOM // 3,
        "seq": PER_ROOM // 2,
        "limit": 51,
        "offset": 100,
        # Reactions and pins: a page of history, the first page of reactors and of pins.
        "reaction": REACTION,
        "message_ids": page_ids[room_id],
        "after_at": datetime.min.replace(tzinfo=UTC),
        "after_user_id": uuid.UUID(int=0),
        "before_at": datetime.max.replace(tzinfo=UTC),
        "before_message_id": uuid.UUID(int=2**128 - 1),
        # Room pages with every thread reply (the default).
        "thread_replies": True,
        # Usernames written in a text: members of some room, a user of the hot room, nobody.
        "names": ["person1", "hot2", "nobody"],
        # Threads: a message of an average room (no thread), and the cursors of thread
        # pages and of the followed-threads list.
        "root_id": message["id"],
        "before_thread_seq": THREAD_REPLIES // 2,
        "after_thread_seq": THREAD_REPLIES // 3,
        "thread_seq": THREAD_REPLIES // 2,
        "before_root_id": uuid.UUID(int=2**128 - 1),
    }
    # Deep in the hot room: an offset far past an average room's size, seqs in the middle.
    in_hot_room = known | {
        "room_id": hot["id"],
        "room_ids": [hot["id"], *rooms[:9]],
        "message_id": hot_message["id"],
        "before_seq": HOT_MESSAGES // 2,
        "after_seq": HOT_MESSAGES // 3,
        "seq": HOT_MESSAGES // 2,
        "offset": HOT_MESSAGES // 2,
        "message_ids": page_ids[hot["id"]],
        # The hot room's thread, followed by every member, cursors in its middle.
        "root_id": hot_root["id"],
    }
    return {
        "url": url,
        "user_id": user_id,
        "room_id": room_id,
        "hot_room_id": hot["id"],
        "known": known,
        "hot": in_hot_room,
        # The inbox cursor halfway through the owner's named mentions.
        "deep_mention": {
            "before_at": deep_mention["created_at"],
            "before_message_id": deep_mention["message_id"],
        },
        # Keyset cursors halfway through the hot message's reactors and the hot room's pins.
        "deep": in_hot_room
        | {
            "after_at": deep_reactor["created_at"],
            "after_user_id": deep_reactor["user_id"],
            "before_at": deep_pin["pinned_at"],
            "before_message_id": deep_pin["message_id"],
        },
    }


def test_the_dataset_makes_these_tables_large(loaded: dict[str, Any]) -> None:
    large = find_large_tables(loaded["url"])
    assert set(large) == {
        "messages",
        "users",
        "room_users",
        "message_read_receipts",
        "message_revisions",
        "message_reactions",
        "message_pins",
        "message_mentions",
        "thread_follows",
    }, large
    assert large["messages"] >= (ROOMS * PER_ROOM + HOT_MESSAGES) * 0.9
    assert "rooms" not in large
    # Skewed like a real chat: one room holds a fifth of the messages and memberships.
    assert HOT_MESSAGES * 5 == ROOMS * PER_ROOM + HOT_MESSAGES
    assert HOT_MEMBERS * 5 == PEOPLE + HOT_MEMBERS


@pytest.mark.parametrize("room", ["known", "hot"])
def test_no_query_reads_a_whole_large_table(loaded: dict[str, Any], room: str) -> None:
    problems = plan_problems(loaded["url"], [SQL], loaded[room])
    if room == "known":
        assert problems == []
        assert_plans_ok(loaded["url"], [SQL], loaded[room])
    else:
        assert {problem.split(" ", 1)[0] for problem in problems} == HOT_ROOM_KNOWN, problems


@pytest.mark.parametrize("room", ["known", "hot"])
@pytest.mark.parametrize(
    "key",
    [
        *PAGES,
        "members.unread_counts",
        "members.mark_read_up_to",
        "rooms.rooms_of_user",
        "messages.message_history",
        "receipts.message_receipts",
    ],
)
def test_hot_queries_read_messages_through_an_index(
    loaded: dict[str, Any], key: str, room: str
) -> None:
    """The check above is not vacuous: these plans do read messages, without a scan."""
    queries, _ = load_queries([SQL])
    query = next(q for q in queries if q.key == key)
    params = {name: loaded[room][name] for name in query.parameters}
    with connect(loaded["url"]) as conn:
        plan = explain(conn, query, params)
    scans = [n["Node Type"] for n in plan_nodes(plan) if n.get("Relation Name") == "messages"]
    assert scans, "the plan does not read messages at all"
    assert "Seq Scan" not in scans, plan


# The reads a client makes most. Each must keep one generic plan once prepared: PostgreSQL
# plans every call again when the generic plan looks much dearer than the custom ones, as
# messages.page_after's did with an upper bound `... OR NOT thread_replies` no index could
# use (about 1 ms of planning per call on the benchmark's dataset).
GENERIC_PLAN_QUERIES = (
    *PAGES,
    "messages.get_message",
    "threads.thread_page",
    "members.unread_counts",
    "rooms.rooms_of_user",
)
PLANNED_CALLS = 8  # PostgreSQL weighs the generic plan after five custom ones
# Planned again on every call on this dataset, awaiting a fix; the check fails when one
# appears or is fixed (then drop it here). thread_page's reply range depends on whether
# after_thread_seq is NULL, which a generic plan cannot know.
CUSTOM_PLANS_KNOWN = {"threads.thread_page"}


@pytest.mark.parametrize("thread_replies", [True, False])
@pytest.mark.parametrize("key", GENERIC_PLAN_QUERIES)
def test_hot_reads_keep_a_generic_plan(
    loaded: dict[str, Any], key: str, thread_replies: bool
) -> None:
    queries, _ = load_queries([SQL])
    query = next(q for q in queries if q.key == key)
    values = loaded["hot"] | {"thread_replies": thread_replies}
    params = {name: values[name] for name in query.parameters}
    with psycopg.connect(loaded["url"], autocommit=True, prepare_threshold=0) as conn:
        for _ in range(PLANNED_CALLS):
            conn.execute(query.sql, params).fetchall()
        plans = conn.execute(
            "SELECT generic_plans, custom_plans FROM pg_prepared_statements", prepare=False
        ).fetchall()
    assert len(plans) == 1, plans
    generic, custom = plans[0]
    keeps_generic = generic >= PLANNED_CALLS - 5
    assert keeps_generic is (key not in CUSTOM_PLANS_KNOWN), (key, generic, custom)


@pytest.mark.parametrize("room", ["known", "hot", "deep"])
@pytest.mark.parametrize("key", sorted(CONVERSATION_QUERIES))
def test_reaction_and_pin_queries_read_their_table_through_an_index(
    loaded: dict[str, Any], key: str, room: str
) -> None:
    queries, _ = load_queries([SQL])
    query = next(q for q in queries if q.key == key)
    params = {name: loaded[room][name] for name in query.parameters}
    table = CONVERSATION_QUERIES[key]
    with connect(loaded["url"]) as conn:
        plan = explain(conn, query, params)
    scans = [n["Node Type"] for n in plan_nodes(plan) if n.get("Relation Name") == table]
    assert scans, f"the plan does not read {table} at all"
    assert "Seq Scan" not in scans, plan


@pytest.mark.parametrize("room", ["hot", "deep"])
@pytest.mark.parametrize(
    ("key", "table"),
    [("reactions.reactors", "message_reactions"), ("pins.room_pins", "message_pins")],
)
def test_reactor_and_pin_pages_read_only_their_rows(
    loaded: dict[str, Any], key: str, table: str, room: str
) -> None:
    """Run for real on the hot message's thousands of reactors and the hot room's pins, from
    the first page and from halfway: a page reads at most its LIMIT of rows."""
    read, plan = analyzed_page_reads(loaded["url"], SQL, key, loaded[room], table)
    assert 0 < read <= loaded[room]["limit"], json.dumps(plan, indent=1)


@pytest.mark.parametrize("room", ["known", "hot"])
@pytest.mark.parametrize("key", MENTION_QUERIES + THREAD_QUERIES)
def test_mention_and_thread_counts_scan_no_messages_or_mentions(
    loaded: dict[str, Any], key: str, room: str
) -> None:
    """Run for real (rolled back): the owner's unread mention counts (the SQL function
    unread_mentions(), whose inner queries EXPLAIN does not show), the room list, a marker
    move, the inbox, a resolve, a thread page, a thread marker move and the followed threads
    with their unread counts (in the hot room: a thread of THREAD_REPLIES replies) make no
    sequential scan of messages or message_mentions.
    The transaction's own scan counters (pg_stat_xact_user_tables) say so, the function's
    scans included."""
    queries, _ = load_queries([SQL])
    query = next(q for q in queries if q.key == key)
    checks, _ = load_queries([CHECKS])
    scans = next(q for q in checks if q.key == "conversations.scans_in_this_transaction")
    with psycopg.connect(loaded["url"], row_factory=dict_row) as conn:
        conn.execute(sql.SQL(query.sql), {name: loaded[room][name] for name in query.parameters})
        used = {
            row["table_name"]: (row["seq_scan"], row["idx_scan"])
            for row in conn.execute(sql.SQL(scans.sql)).fetchall()
        }
        conn.rollback()
    assert all(seq_scans == 0 for seq_scans, _ in used.values()), used
    if key != "mentions.resolve_mentions":
        assert used["messages"][1] > 0, used


def test_a_thread_page_reads_only_its_replies(loaded: dict[str, Any]) -> None:
    """Halfway through the hot room's long thread, newest-first and catching up: the page
    reads its root and at most `limit` replies (the closed thread_seq range)."""
    for after in (None, THREAD_REPLIES // 3):
        params = loaded["hot"] | {"after_thread_seq": after}
        read, plan = analyzed_page_reads(loaded["url"], SQL, "threads.thread_page", params)
        assert 1 < read <= params["limit"] + 1, json.dumps(plan, indent=1)


@pytest.mark.parametrize("where", ["first", "deep"])
def test_the_inbox_reads_a_page_of_mentions_and_a_few_rows_per_room(
    loaded: dict[str, Any], where: str
) -> None:
    """The owner is named by tens of thousands of messages and is in every room: a page
    reads at most its LIMIT of message_mentions rows (the named half walks the inbox index
    from the cursor; the @room half only probes the primary key), and of messages at most a
    LIMIT per room (the @room half's walk in each room) and the page's own."""
    params = loaded["known"] | (loaded["deep_mention"] if where == "deep" else {})
    key = "mentions.mention_inbox"
    read, plan = analyzed_page_reads(loaded["url"], SQL, key, params, "message_mentions")
    assert 0 < read <= params["limit"], json.dumps(plan, indent=1)
    read, plan = analyzed_page_reads(loaded["url"], SQL, key, params)
    assert 0 < read <= (ROOMS + 2) * params["limit"], json.dumps(plan, indent=1)


# Near the hot room's end no other room has seqs that high, so with an open range the
# planner (depending on ANALYZE's sample) could expect a handful of rows and bitmap-scan and
# sort the rest of the room; the closed seq ranges of page_after and page_by_offset bound it.
DEPTHS = (1_000, 10_000, HOT_MESSAGES // 2, HOT_MESSAGES - 20)


@pytest.mark.parametrize(
    ("key", "depth"),
    [(key, depth) for key in PAGES for depth in DEPTHS],
)
def test_pages_read_only_their_rows_at_any_depth(
    loaded: dict[str, Any], key: str, depth: int
) -> None:
    """Run for real deep in the hot room, each page query reads at most its LIMIT of
    messages: it walks messages_room_seq_key from its position, and sorts none of them."""
    params = loaded["hot"] | {
        "before_seq": HOT_MESSAGES - depth,
        "after_seq": HOT_MESSAGES - depth,
        "offset": depth,
    }
    read, plan = analyzed_page_reads(loaded["url"], SQL, key, params)
    assert read <= params["limit"], json.dumps(plan, indent=1)


def test_the_old_offset_page_fails_these_checks(loaded: dict[str, Any], tmp_path: Path) -> None:
    """page_by_offset as it was (LIMIT ... OFFSET over the room's messages): fine for an
    average room at a shallow offset, a sort of the whole hot room at a deep one."""
    folder = copy_sql_with_the_old_offset_page(tmp_path)
    assert plan_problems(loaded["url"], [folder], loaded["known"]) == []
    problems = plan_problems(loaded["url"], [folder], loaded["hot"])
    [offset_page] = [p for p in problems if p.startswith("messages.page_by_offset ")]
    assert "sorts about" in offset_page
    assert "rows of messages to return a LIMIT of them" in offset_page
    # Shallower, the planner walks the index instead, and reads every row it skips.
    params = loaded["hot"] | {"offset": 1_000}
    read, plan = analyzed_page_reads(loaded["url"], folder, "messages.page_by_offset", params)
    assert read > 1_000, json.dumps(plan, indent=1)


def test_a_scanning_query_fails_until_annotated(loaded: dict[str, Any], tmp_path: Path) -> None:
    folder = copy_sql(tmp_path)
    messages = folder / "messages.sql"
    messages.write_text(messages.read_text() + SEARCH)
    assert static_problems([folder]) == []
    problems = plan_problems(loaded["url"], [folder], loaded["known"])
    assert len(problems) == 1, problems
    assert problems[0].startswith("messages.search_messages (sql/messages.sql:")
    assert "reads all of table messages (Seq Scan" in problems[0]
    assert "Add an index" in problems[0]
    assert "`-- may scan messages: <why>`" in problems[0]
    # The same with the large tables named instead of found.
    assert plan_problems(loaded["url"], [folder], loaded["known"], ["messages"]) == problems
    with pytest.raises(AssertionError, match="search_messages"):
        assert_plans_ok(loaded["url"], [folder], loaded["known"])

    messages.write_text(
        messages.read_text().replace(
            "-- returns messages matching\n",
            "-- returns messages matching\n"
            "-- may scan messages: a substring search has no index to use; admin tool only\n",
        )
    )
    assert static_problems([folder]) == []
    assert plan_problems(loaded["url"], [folder], loaded["known"]) == []


def test_an_annotation_naming_a_table_the_plan_never_reads_fails(
    loaded: dict[str, Any], tmp_path: Path
) -> None:
    folder = copy_sql(tmp_path)
    rooms = folder / "rooms.sql"
    rooms.write_text(
        rooms.read_text().replace(
            "-- One room, or nothing.\n",
            "-- One room, or nothing.\n-- may scan message: a typo in the table name here\n",
        )
    )
    problems = plan_problems(loaded["url"], [folder], loaded["known"])
    assert len(problems) == 1, problems
    assert problems[0].startswith("rooms.get_room (sql/rooms.sql:19): `-- may scan message`")
    assert "never reads" in problems[0]


def test_named_large_tables_must_exist(loaded: dict[str, Any]) -> None:
    problems = plan_problems(loaded["url"], [SQL], loaded["known"], ["messages", "mesages"])
    assert problems == ["large_tables names mesages, which is not a table in this database"]


def test_a_parameter_without_a_value_is_a_problem(loaded: dict[str, Any], tmp_path: Path) -> None:
    folder = copy_sql(tmp_path)
    (folder / "extra.sql").write_text(
        "-- name: rooms_named(label)\n-- Rooms with this name.\n"
        "SELECT id FROM rooms WHERE name = :label;\n"
    )
    problems = plan_problems(loaded["url"], [folder], loaded["known"])
    assert problems == [
        "extra.rooms_named (sql/extra.sql:1): no value for parameter :label; pass one in "
        "params or samples (planned with NULL, a query can hide the scan it would do)"
    ]
    assert plan_problems(loaded["url"], [folder], loaded["known"], samples={"label": "x"}) == []


def test_an_empty_database_checks_nothing_and_says_so(database_url: str) -> None:
    problems = plan_problems(database_url, [SQL], {})
    assert problems == [
        "no table holds more than 10,000 rows, so no plan was checked; load a realistic "
        "dataset (and ANALYZE) first, or name the large tables"
    ]


async def test_the_dataset_is_big_enough_to_matter(loaded: dict[str, Any]) -> None:
    async with connect_async(loaded["url"]) as conn:
        rows = [
            row
            async for row in chatstore_queries().members.unread_counts(
                conn, user_id=loaded["user_id"]
            )
        ]
    assert len(rows) == ROOMS + 1
    assert sum(row["last_seq"] for row in rows) == ROOMS * PER_ROOM + HOT_MESSAGES
    # Every 50th message is soft-deleted and the marker sits halfway: exact arithmetic.
    unread = {
        size: size - size // 2 - (size // 50 - (size // 2) // 50)
        for size in (PER_ROOM, HOT_MESSAGES)
    }
    counts = {row["room_id"]: row["unread_count"] for row in rows}
    assert counts.pop(loaded["hot_room_id"]) == unread[HOT_MESSAGES]
    assert set(counts.values()) == {unread[PER_ROOM]}


@pytest.fixture(scope="module")
async def directory(pg_server: PgServer) -> dict[str, Any]:
    """A database of its own with PUBLIC_ROOMS public and PRIVATE_ROOMS private rooms, and
    directory cursors at its start and halfway through."""
    url = pg_server.url("chatstore_directory_plans")
    migrate(url, "up")
    async with connect_async(url) as conn:
        await DIRECTORY.bulk_load_directory(
            conn, public_rooms=PUBLIC_ROOMS, private_rooms=PRIVATE_ROOMS
        )
        await DIRECTORY.analyze_directory(conn)
        middle = await DIRECTORY.public_room_at(conn, position=PUBLIC_ROOMS // 2)
    first = {"after_name": "", "after_id": uuid.UUID(int=0), "limit": 51}
    return {
        "url": url,
        "first": first,
        "middle": first | {"after_name": middle["name_key"], "after_id": middle["id"]},
        # Four letters of the middle room's word: in a handful of names at most.
        "rare": str(middle["name_key"])[1:5],
        # Its whole word, as someone searching for that very room types it.
        "word": str(middle["name_key"]).split(" ", 1)[0],
    }


def room_reads(url: str, key: str, params: Mapping[str, Any]) -> tuple[int, list[str], Any]:
    """Rows of rooms the read-only query really read, the indexes its plan used, the plan."""
    read, plan = analyzed_page_reads(url, SQL, key, params, "rooms")
    indexes = sorted({str(n["Index Name"]) for n in plan_nodes(plan) if "Index Name" in n})
    assert not [n for n in plan_nodes(plan) if n["Node Type"] == "Seq Scan"], json.dumps(
        plan, indent=1
    )
    return read, indexes, plan


def test_the_directory_dataset_makes_rooms_large(directory: dict[str, Any]) -> None:
    large = find_large_tables(directory["url"])
    assert large.get("rooms", 0) >= (PUBLIC_ROOMS + PRIVATE_ROOMS) * 0.9, large


@pytest.mark.parametrize("where", ["first", "middle"])
def test_a_directory_page_walks_the_name_index_reading_only_its_rows(
    directory: dict[str, Any], where: str
) -> None:
    params = directory[where]
    read, indexes, plan = room_reads(directory["url"], "rooms.public_rooms", params)
    assert indexes == ["rooms_public_name_idx"], json.dumps(plan, indent=1)
    assert read <= params["limit"], json.dumps(plan, indent=1)


@pytest.mark.parametrize("where", ["first", "middle"])
@pytest.mark.parametrize("term", ["rare", "1234", "word"])
def test_a_selective_search_finds_its_rooms_through_the_trigram_index(
    directory: dict[str, Any], where: str, term: str
) -> None:
    """A term that few names contain is looked up by its trigrams: the rooms read are the
    matches (and the index's false positives), not the public rooms around them."""
    words = {"rare": directory["rare"], "1234": "1234", "word": directory["word"]}
    params = directory[where] | {"pattern": f"%{words[term]}%"}
    read, indexes, plan = room_reads(directory["url"], "rooms.search_public_rooms", params)
    assert "rooms_public_name_trgm_idx" in indexes, json.dumps(plan, indent=1)
    assert read <= 100, json.dumps(plan, indent=1)


@pytest.mark.parametrize("where", ["first", "middle"])
@pytest.mark.parametrize("term", ["a", "zq", "e 1"])
def test_a_common_or_short_search_walks_the_name_index(
    directory: dict[str, Any], where: str, term: str
) -> None:
    """A term of one or two characters has no trigram, and one that many names contain is
    cheaper found in name order: the name index is walked from the cursor, filtering, until
    a page of matches is found; never a sequential scan of rooms."""
    params = directory[where] | {"pattern": f"%{term}%"}
    read, indexes, plan = room_reads(directory["url"], "rooms.search_public_rooms", params)
    assert indexes == ["rooms_public_name_idx"], json.dumps(plan, indent=1)
    assert read <= PUBLIC_ROOMS, json.dumps(plan, indent=1)


def test_the_directory_queries_pass_the_plan_checks_with_rooms_large(
    directory: dict[str, Any],
) -> None:
    """The guardrails' own check, naming rooms as the large table: no scan of it, no sort of
    thousands of its rows for a page."""
    queries, _ = load_queries([SQL])
    directory_keys = {"rooms.public_rooms", "rooms.search_public_rooms"}
    problems = plan_problems(
        directory["url"],
        [SQL],
        directory["middle"] | {"pattern": f"%{directory['rare']}%"},
        ["rooms"],
    )
    assert [p for p in problems if p.split(" ", 1)[0] in directory_keys] == []
    assert directory_keys <= {q.key for q in queries}
