"""EXPLAIN every query: against a migrated schema (does it plan at all?), and on a large
dataset (does any plan read a whole large table, or sort many of its rows to keep a few?).

Only EXPLAIN, never EXPLAIN ANALYZE: nothing is executed, writes included, and each query's
transaction is rolled back anyway.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Collection, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Final

import aiosql
import psycopg
from psycopg import sql
from psycopg.rows import DictRow, dict_row

from chatstore.guardrails.placeholders import numbered
from chatstore.guardrails.samples import has_value, values_for
from chatstore.guardrails.sqlfiles import SqlQuery, load_queries

DEFAULT_MIN_ROWS: Final = 10_000
# A Sort under a LIMIT reads and sorts every row it is fed to return a few. A page of a
# room or a list of a user's rooms sorts far fewer than this; a plan sorting more is one
# that did not find an index in the ORDER BY's order, and it only gets slower as the room
# (or the offset) grows, while the planner, estimating an average room, does not notice.
DEFAULT_MAX_SORTED_ROWS: Final = 1_000
CATALOG_SQL: Final = Path(__file__).with_name("catalog.sql")
# The prefix that turns each query into its plan; the statements themselves live in .sql files.
_EXPLAIN_JSON: Final = sql.SQL("EXPLAIN (FORMAT JSON) ")
_PARAMETER_NUMBER = re.compile(r"parameter \$(\d+)")

Connection = psycopg.Connection[DictRow]
Plan = dict[str, Any]


def connect(database_url: str) -> Connection:
    return psycopg.connect(database_url, row_factory=dict_row)


def explain(conn: Connection, query: SqlQuery, params: Mapping[str, Any]) -> Plan:
    """The plan of `query` with these parameter values (its top node). Runs nothing."""
    try:
        cursor = conn.execute(_EXPLAIN_JSON + sql.SQL(query.sql), dict(params))
        row = cursor.fetchone()
    finally:
        conn.rollback()
    if row is None:  # pragma: no cover - EXPLAIN always answers one row
        raise psycopg.ProgrammingError("the server sent no plan")
    plan: Plan = row["QUERY PLAN"][0]["Plan"]
    return plan


def plan_nodes(node: Plan) -> Iterator[Plan]:
    """The node and every node below it (subplans and CTEs included)."""
    yield node
    for child in node.get("Plans", []):
        yield from plan_nodes(child)


def error_text(exc: psycopg.Error, query: SqlQuery) -> str:
    """PostgreSQL's message, the text it points at, and a hint a DBA can act on."""
    text = str(exc).strip()
    message = exc.diag.message_primary or text.splitlines()[0]
    near = [line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("LINE ")]
    parts = [message + (f" (near `{near[0]}`)" if near else "")]
    if exc.diag.message_hint:
        parts.append(f"hint: {exc.diag.message_hint}")
    number = _PARAMETER_NUMBER.search(message)
    if number is not None:
        try:
            names = numbered(query.sql)[1]
            name = names[int(number.group(1)) - 1]
        except (ValueError, IndexError):
            name = None
        if name is not None:
            parts.append(f"that is :{name}; pass a typed sample value: samples={{{name!r}: ...}}")
    if "multiple commands" in message:
        parts.append("each `-- name:` holds one statement; is a `-- name:` line missing?")
    if "placeholder" in message:
        parts.append("write a literal % as %% in these files")
    return "; ".join(parts)


def explain_problems(
    database_url: str, dirs: Sequence[Path], samples: Mapping[str, Any] | None = None
) -> list[str]:
    """EXPLAIN every query of `dirs` on the (migrated) database; the ones PostgreSQL refuses.

    Parameters get typed sample values (see chatstore.guardrails.samples; `samples` adds to
    or overrides them). aiosql scripts (`#`) are left out: they are not single statements.
    """
    queries, problems = load_queries(dirs)
    with connect(database_url) as conn:
        for query in queries:
            if query.is_script:
                continue
            try:
                explain(conn, query, values_for(query.parameters, None, samples))
            except psycopg.Error as exc:
                problems.append(
                    f"{query.key} ({query.where}): PostgreSQL cannot plan it: "
                    f"{error_text(exc, query)}"
                )
    return problems


def find_large_tables(database_url: str, min_rows: int = DEFAULT_MIN_ROWS) -> dict[str, int]:
    """Tables holding more than `min_rows` rows (planner statistics or live-row counters)."""
    with connect(database_url) as conn:
        return _table_sizes(conn, min_rows)


@functools.cache
def _catalog() -> Any:
    """The guardrails' own catalog queries (loaded on first use: packaged beside this file)."""
    return aiosql.from_path(CATALOG_SQL, "psycopg")


def _table_sizes(conn: Connection, min_rows: int) -> dict[str, int]:
    return {
        row["table_name"]: int(row["row_count"])
        for row in _catalog().large_tables(conn, min_rows=min_rows)
    }


def _scan_problems(query: SqlQuery, plan: Plan, sizes: Mapping[str, int | None]) -> list[str]:
    nodes = list(plan_nodes(plan))
    read = {str(node["Relation Name"]).lower() for node in nodes if "Relation Name" in node}
    scanned = sorted(
        {
            str(node["Relation Name"]).lower()
            for node in nodes
            if node.get("Node Type") == "Seq Scan"
            and str(node.get("Relation Name", "")).lower() in sizes
        }
    )
    problems = []
    for table in scanned:
        if table in query.may_scan:
            continue
        rows = sizes[table]
        size = f", about {rows:,} rows" if rows else ""
        problems.append(
            f"{query.key} ({query.where}): its plan reads all of table {table} (Seq Scan{size}). "
            f"Add an index that serves this query, or, if reading the whole table is intended, "
            f"say why in its comment block: `-- may scan {table}: <why>`"
        )
    for table in sorted(query.may_scan):
        if table not in read:
            problems.append(
                f"{query.key} ({query.where}): `-- may scan {table}` names a table its plan "
                f"never reads; correct the table name or remove the line"
            )
    return problems


def _sort_problems(
    query: SqlQuery, plan: Plan, sizes: Mapping[str, int | None], max_rows: int
) -> list[str]:
    """Sorts under a Limit fed more than `max_rows` estimated rows read from large tables.

    Sorting them reads all of them, so `-- may scan <table>` is what excuses it too.
    """
    problems = []
    seen: set[int] = set()
    for limit in plan_nodes(plan):
        if limit.get("Node Type") != "Limit":
            continue
        for node in plan_nodes(limit):
            if node.get("Node Type") != "Sort" or id(node) in seen:
                continue
            seen.add(id(node))
            rows = max((int(child["Plan Rows"]) for child in node.get("Plans", [])), default=0)
            read = {
                str(n["Relation Name"]).lower() for n in plan_nodes(node) if "Relation Name" in n
            }
            tables = sorted((read & set(sizes)) - set(query.may_scan))
            if rows <= max_rows or not tables:
                continue
            problems.append(
                f"{query.key} ({query.where}): its plan sorts about {rows:,} rows of "
                f"{', '.join(tables)} to return a LIMIT of them (Sort under Limit; more than "
                f"{max_rows:,}), and the sort grows with the room or the offset. Walk an index "
                f"in the ORDER BY's order (a keyset or seq range), or, if sorting them is "
                f"intended, say why in its comment block: `-- may scan {tables[0]}: <why>`"
            )
    return problems


def plan_problems(
    database_url: str,
    dirs: Sequence[Path],
    params: Mapping[str, Any],
    large_tables: Collection[str] | None = None,
    *,
    min_rows: int = DEFAULT_MIN_ROWS,
    max_sorted_rows: int = DEFAULT_MAX_SORTED_ROWS,
    samples: Mapping[str, Any] | None = None,
) -> list[str]:
    """Every query of `dirs` whose plan has a Seq Scan on a large table, or a Sort under a
    Limit fed more than `max_sorted_rows` (estimated) of its rows, that it is not annotated
    to scan (`-- may scan <table>: <why>` in its comment block).

    Run it on a database loaded with a realistic dataset and ANALYZEd: `params` are values
    known to exist there (a real room_id, user_id, ...), used before the samples. Large
    tables are `large_tables` when given, else every table with more than `min_rows` rows.
    Every parameter needs a value: a query planned with NULL can hide the scan it would do.
    Run it again with the values of the biggest room (and deep seqs and offsets): a plan
    can be fine for an average room and not for that one.
    """
    queries, problems = load_queries(dirs)
    with connect(database_url) as conn:
        sizes: dict[str, int | None]
        if large_tables is None:
            sizes = dict(_table_sizes(conn, min_rows))
            if not sizes:
                problems.append(
                    f"no table holds more than {min_rows:,} rows, so no plan was checked; load "
                    f"a realistic dataset (and ANALYZE) first, or name the large tables"
                )
        else:
            existing = _table_sizes(conn, -1)
            sizes = {name.lower(): existing.get(name.lower()) for name in large_tables}
            problems += [
                f"large_tables names {name}, which is not a table in this database"
                for name in sorted(sizes)
                if name not in existing
            ]
        for query in queries:
            if query.is_script:
                continue
            problems += [
                f"{query.key} ({query.where}): no value for parameter :{name}; pass one in "
                f"params or samples (planned with NULL, a query can hide the scan it would do)"
                for name in query.parameters
                if not has_value(name, params, samples)
            ]
            try:
                plan = explain(conn, query, values_for(query.parameters, params, samples))
            except psycopg.Error as exc:
                problems.append(
                    f"{query.key} ({query.where}): PostgreSQL cannot plan it: "
                    f"{error_text(exc, query)}"
                )
                continue
            problems += _scan_problems(query, plan, sizes)
            problems += _sort_problems(query, plan, sizes, max_sorted_rows)
    return problems
