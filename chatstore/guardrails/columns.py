"""Result columns versus what the code reads, found without running any query.

Each query is prepared and described through libpq (`PQprepare` + `PQdescribePrepared` on
the connection's `pgconn`): PostgreSQL parses and analyzes the statement and reports the
names of its result columns, and nothing executes, writes included. Parameter types come
from the same sample values the EXPLAIN check uses, as psycopg would send them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from typing import Any, Final

import psycopg
from psycopg import pq
from psycopg.adapt import PyFormat

from chatstore.guardrails.placeholders import numbered
from chatstore.guardrails.samples import values_for
from chatstore.guardrails.sqlfiles import SqlQuery, load_queries, sql_paths

# The unnamed prepared statement: each prepare replaces the previous one, nothing to clean.
_UNNAMED: Final = b""


class DescribeError(Exception):
    """PostgreSQL could not prepare the statement; the message says why."""


def _oid(conn: psycopg.Connection[Any], value: Any) -> int:
    """The type psycopg would send `value` as (0, unknown, for None)."""
    if value is None:
        return 0
    dumper_class = conn.adapters.get_dumper(type(value), PyFormat.AUTO)
    dumper = dumper_class(type(value), conn).upgrade(value, PyFormat.AUTO)
    return int(dumper.oid)


def _checked(result: pq.abc.PGresult, encoding: str) -> pq.abc.PGresult:
    if result.status != pq.ExecStatus.COMMAND_OK:
        message = result.error_message.decode(encoding, "replace").strip()
        raise DescribeError(message.removeprefix("ERROR:").strip())
    return result


def result_columns(
    conn: psycopg.Connection[Any], query: SqlQuery, samples: Mapping[str, Any] | None = None
) -> list[str]:
    """The names of the columns `query` returns, in order (none for a plain write)."""
    try:
        statement, names = numbered(query.sql)
    except ValueError as exc:
        raise DescribeError(str(exc)) from None
    values = values_for(names, None, samples)
    types = [_oid(conn, values[name]) for name in names]
    encoding = conn.info.encoding
    pgconn = conn.pgconn
    _checked(pgconn.prepare(_UNNAMED, statement.encode(encoding), types), encoding)
    described = _checked(pgconn.describe_prepared(_UNNAMED), encoding)
    columns = []
    for index in range(described.nfields):
        raw = described.fname(index)
        columns.append("" if raw is None else raw.decode(encoding))
    return columns


def undeclared_queries(dirs: Sequence[Path], expected: Mapping[str, Collection[str]]) -> list[str]:
    """The queries of `dirs` that return rows but have no entry in `expected`.

    Needs no database: a new query cannot be added without saying what the code reads of it.
    """
    queries, problems = load_queries(dirs)
    return problems + _undeclared(queries, expected)


def _undeclared(queries: list[SqlQuery], expected: Mapping[str, Collection[str]]) -> list[str]:
    return [
        f"{query.where}: query {query.name} returns rows, but the declaration of what the code "
        f"reads has no entry {query.key!r}; list the columns the code reads (an empty set when "
        f"it reads none by name)"
        for query in queries
        if query.returns_rows and query.key not in expected
    ]


def _unknown(
    dirs: Sequence[Path],
    queries: list[SqlQuery],
    expected: Mapping[str, Collection[str]],
    readers: Mapping[str, str],
) -> list[str]:
    """Entries of `expected` that name no loaded query."""
    keys = {query.key for query in queries}
    loaded = {query.file.stem for query in queries}
    present = {path.stem for path in sql_paths(dirs)[0]}
    problems = []
    for key in sorted(set(expected) - keys):
        stem = key.split(".")[0]
        if stem in loaded:
            why = f"{stem}.sql has no such query"
        elif stem in present:
            why = f"{stem}.sql could not be loaded"
        else:
            why = f"no folder has a {stem}.sql"
        problems.append(f"{key}: declared as read by {readers.get(key, 'the code')}, but {why}")
    return problems


def _missing_text(missing: list[str]) -> str:
    quoted = ", ".join(repr(name) for name in missing)
    return f"column {quoted}" if len(missing) == 1 else f"columns {quoted}"


def column_problems(
    database_url: str,
    dirs: Sequence[Path],
    expected: Mapping[str, Collection[str]],
    *,
    readers: Mapping[str, str] | None = None,
    samples: Mapping[str, Any] | None = None,
    require_all: bool = False,
) -> list[str]:
    """Queries that no longer return a column the code reads, declared as
    `expected["file.query"] = {column, ...}`; `readers["file.query"]` names who reads it,
    for the message. Also: entries naming no query, result columns named twice (a dict row
    keeps one), and with `require_all`, row-returning queries without an entry.
    """
    queries, problems = load_queries(dirs)
    problems += _unknown(dirs, queries, expected, readers or {})
    if require_all:
        problems += _undeclared(queries, expected)
    with psycopg.connect(database_url, autocommit=True) as conn:
        for query in queries:
            if query.is_script or (query.key not in expected and not query.returns_rows):
                continue
            try:
                columns = result_columns(conn, query, samples)
            except DescribeError as exc:
                problems.append(f"{query.where}: query {query.name} cannot be described: {exc}")
                continue
            problems += _compare(query, columns, expected.get(query.key), readers)
    return problems


def _compare(
    query: SqlQuery,
    columns: list[str],
    reads: Collection[str] | None,
    readers: Mapping[str, str] | None,
) -> list[str]:
    problems = [
        f"{query.where}: query {query.name} returns column {name!r} {count} times; a dict row "
        f"keeps only the last, so give each its own alias"
        for name, count in sorted(Counter(columns).items())
        if count > 1
    ]
    missing = sorted(set(reads or ()) - set(columns))
    if missing:
        reader = (readers or {}).get(query.key, "the code")
        returned = ", ".join(columns) or "no columns"
        problems.append(
            f"{query.where}: query {query.name} no longer returns {_missing_text(missing)}, "
            f"which {reader} reads (it returns: {returned})"
        )
    return problems
