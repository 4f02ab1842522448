"""Thread replies and mentions: what one costs in the biggest room against a 2-member room,
and what the decorated history page holds.

Three sends, each made in the hot room (the dataset's biggest, with a thread every member
follows: bench/fixtures.py started it) and in the direct room (2 members, both following
its thread): a thread reply, a thread reply mentioning one member, and a plain message
mentioning one member. For each send and room:

- one warm call, counted as bench/roundtrips.py counts: PostgreSQL statements, round trips
  (statements, BEGIN/COMMIT, separate Parse waits, pool checks), Redis commands. A call
  that paid a pooled connection's one-time costs (the Parse psycopg sends on a statement's
  prepare_threshold-th run there, or the pool's check of a connection that sat idle) is
  counted again with the next message, at most STEADY_TRIES times: those costs belong to
  the connection, not to the send, and which connection a call gets is the pool's choice;
- one call inside a transaction, whose rows written are read from pg_stat_xact_user_tables
  just before and after it, before COMMIT: the rows inserted, updated and deleted per table
  by the statement (triggers included), exact and immediate (pg_stat_user_tables lags);
- its latency at one task, the two rooms interleaved round by round (bench/suite.py's
  measure, with the per-operation table's time and rounds).

"Same in both rooms" when the statements, round trips, Redis commands and rows written per
table are equal. Then one counted call of the decorated page (bench/fixtures.py): its round
trips and what it returned.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any, Final
from uuid import UUID

import aiosql

from bench.fixtures import Fixtures
from bench.peers import PAGE
from bench.roundtrips import Counts, counted, watching
from bench.runner import Op
from bench.sections import SectionContext
from bench.suite import measure as measure_interleaved
from bench.workloads import Workload
from chatstore import ChatStore, CreateMessage, MessagePage

queries: Any = aiosql.from_path(Path(__file__).with_name("writes.sql"), "apsycopg")

# name -> (label, a thread reply, mentions one member)
SENDS: Final = {
    "reply": ("thread reply", True, False),
    "reply_mention": ("thread reply mentioning one member", True, True),
    "mention": ("message mentioning one member", False, True),
}
STEADY_TRIES: Final = 10
# What the send itself exchanges. A Parse or a pool check is the connection's (see above)
# and is reported, not compared: the pool hands out its least recently used connection,
# which after the load sections may have sat idle long enough to be checked first.
COMPARED: Final = (
    "statements",
    "transaction_commands",
    "send_round_trips",
    "redis_commands",
    "redis_round_trips",
)
WRITES: Final = ("inserted", "updated", "deleted")  # pg_stat_xact_user_tables' n_tup_*


@dataclass(frozen=True)
class Room:
    key: str  # "big" or "direct", in the results file
    room_id: UUID
    root_id: UUID  # the thread every member follows
    members: int
    followers: int
    senders: Sequence[UUID]  # members sending in turn; each mentions the next

    @property
    def label(self) -> str:
        return f"{self.members:,}-member room, {self.followers:,} thread followers"


def rooms(fx: Fixtures) -> tuple[Room, Room]:
    big = Room("big", fx.hot_room, fx.hot_thread, fx.hot_members, fx.hot_followers, fx.readers)
    direct = Room(
        "direct", fx.direct_room, fx.direct_thread, 2, fx.direct_followers, fx.direct_users
    )
    return big, direct


def message(room: Room, send: str, n: int) -> CreateMessage:
    label, in_thread, mentions = SENDS[send]
    sender, other = room.senders[n % len(room.senders)], room.senders[(n + 1) % len(room.senders)]
    return CreateMessage(
        room.room_id,
        sender,
        f"{label}, {n}",
        thread_root_id=room.root_id if in_thread else None,
        mention_ids=(other,) if mentions else (),
    )


async def _table_writes(conn: Any) -> dict[str, dict[str, int]]:
    return {
        row["table_name"]: {key: int(row[key]) for key in WRITES}
        async for row in queries.rows_written(conn)
    }


async def _rows_written(store: ChatStore, new: CreateMessage) -> dict[str, dict[str, int]]:
    """Table -> rows inserted, updated, deleted by one send (committed). The backend's
    counts also hold its earlier transactions' until it reports them (at most once a
    second, when idle), so the send's are the difference across it, in one transaction."""
    async with store.transaction() as conn:
        before = await _table_writes(conn)
        await store.messages.create(new)
        after = await _table_writes(conn)
    zero = dict.fromkeys(WRITES, 0)
    written = {
        table: {key: n - before.get(table, zero)[key] for key, n in counts.items()}
        for table, counts in after.items()
    }
    return {table: counts for table, counts in written.items() if any(counts.values())}


async def _steady_counts(store: ChatStore, room: Room, send: str) -> tuple[Counts, int]:
    """The counts of one send that paid no connection's one-time costs (see above), and
    the number of sends made to find it."""
    with watching():
        for n in range(1, STEADY_TRIES + 1):
            counts = await counted(partial(store.messages.create, message(room, send, n)))
            if not counts.prepares and not counts.pool_checks:
                break
    return counts, n


async def _costs(store: ChatStore, room: Room, send: str) -> dict[str, Any]:
    await store.messages.create(message(room, send, 0))  # warm, and past a first reply
    counts, tries = await _steady_counts(store, room, send)
    written = await _rows_written(store, message(room, send, tries + 1))
    numbers = counts.numbers()
    return {
        **numbers,
        "send_round_trips": numbers["statements"] + numbers["transaction_commands"],
        "sql": counts.statements,
        "rows_written": sum(sum(row.values()) for row in written.values()),
        "by_table": written,
    }


def _op(store: ChatStore, room: Room, send: str) -> Op:
    async def op(task: int, n: int) -> object:
        return await store.messages.create(message(room, send, n))

    return op


async def _rich_page(store: ChatStore, fx: Fixtures) -> dict[str, Any]:
    pages: list[MessagePage] = []
    reader = fx.readers[0]

    async def read() -> None:
        pages.append(
            await store.messages.page_before(
                fx.hot_room, user_id=reader, before_seq=fx.rich_before_seq, limit=PAGE
            )
        )

    with watching():
        counts: Counts = await counted(read)
    messages = pages[0].messages
    reactions = [r for m in messages for r in m.reactions]
    return {
        **counts.numbers(),
        "messages": len(messages),
        "with_reactions": sum(1 for m in messages if m.reactions),
        "reactions": sum(r.count for r in reactions),
        "reaction_keys": len({r.reaction for r in reactions}),
        "reacted_by_reader": sum(1 for r in reactions if r.reacted_by_me),
        "with_reply_preview": sum(1 for m in messages if m.reply_to is not None),
        "with_thread_summary": sum(1 for m in messages if m.thread is not None),
        "thread_replies": sum(1 for m in messages if m.thread_root_id is not None),
    }


async def measure(ctx: SectionContext) -> dict[str, Any]:
    store, big, direct = ctx.store, *rooms(ctx.fixtures)
    plan = replace(ctx.mode.plan, concurrencies=(1,))
    workloads = [
        Workload(send, label, "threads", {r.key: _op(store, r, send) for r in (big, direct)})
        for send, (label, _, _) in SENDS.items()
    ]
    timed = {
        entry["workload"]: entry["results"] for entry in await measure_interleaved(workloads, plan)
    }
    sends = {}
    for send, (label, _, _) in SENDS.items():
        costs = {room.key: await _costs(store, room, send) for room in (big, direct)}
        same = all(costs["big"][key] == costs["direct"][key] for key in (*COMPARED, "by_table"))
        sends[send] = {"label": label, **costs, "timed": timed[send], "same_in_both_rooms": same}
    return {
        "note": "one warm call counted per send and room (one that paid no connection's "
        "one-time Parse or pool check); rows written from "
        "pg_stat_xact_user_tables in the send's transaction; timed at 1 task, interleaved",
        "rooms": {
            room.key: {"label": room.label, "members": room.members, "followers": room.followers}
            for room in (big, direct)
        },
        "sends": sends,
        "rich_page": await _rich_page(store, ctx.fixtures),
    }


def _pair(entry: dict[str, Any], cell: Callable[[dict[str, Any]], str]) -> str:
    return f"{cell(entry['big'])} / {cell(entry['direct'])}"


def _writes(costs: dict[str, Any]) -> str:
    return ", ".join(
        " ".join(f"{sign}{n}" for sign, n in zip("+~-", row.values(), strict=True) if n)
        + f" {table_name}"
        for table_name, row in costs["by_table"].items()
    )


def table(section: dict[str, Any]) -> str:
    big, direct = section["rooms"]["big"]["label"], section["rooms"]["direct"]["label"]
    lines = [
        f"Each cell: {big} / {direct}.\n",
        "| send | statements (the send's round trips) | rows written | p50 ms (sends/s), 1 task "
        "| same in both rooms |",
        "| --- | ---: | ---: | ---: | --- |",
    ]
    for entry in section["sends"].values():
        timed = entry["timed"]
        trips = _pair(entry, lambda c: f"{c['statements']} ({c['send_round_trips']})")
        rows = _pair(entry, lambda c: str(c["rows_written"]))
        speed = " / ".join(
            f"{timed[key]['p50_ms']} ({timed[key]['throughput']:,.0f})" for key in ("big", "direct")
        )
        same = "yes" if entry["same_in_both_rooms"] else "no"
        lines.append(f"| {entry['label']} | {trips} | {rows} | {speed} | {same} |")
    lines.append(f"\nRows written per table (+ inserted, ~ updated, - deleted), {big}:")
    for entry in section["sends"].values():
        other = "" if entry["same_in_both_rooms"] else f" ({direct}: {_writes(entry['direct'])})"
        lines.append(f"- {entry['label']}: {_writes(entry['big'])}{other}")
    page = section["rich_page"]
    lines.append(
        "\nHistory page with reactions, replies and threads: round trips "
        f"{page['round_trips']}; {page['messages']} messages, {page['with_reactions']} with "
        f"reactions ({page['reactions']} in {page['reaction_keys']} keys), "
        f"{page['with_reply_preview']} with a reply preview, {page['with_thread_summary']} "
        f"thread roots with a summary, {page['thread_replies']} thread replies."
    )
    return "\n".join(lines)


def draw(section: dict[str, Any], stem: Path) -> list[Path]:
    return []  # a table says it all
