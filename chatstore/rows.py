"""The row type every chatstore query returns: a dict that fails as a chatstore error.

A query whose result lacks a column the code reads (an alias renamed in `sql/`, a column
dropped) raises ResultShapeError naming the column and what the query did return, instead
of a bare KeyError escaping to the caller.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any

from psycopg.pq import ExecStatus
from psycopg.rows import RowMaker, no_result, tuple_row

from chatstore.errors import ResultShapeError


class Row(dict[str, Any]):
    __slots__ = ()

    def __missing__(self, key: str) -> Any:
        raise ResultShapeError(key, list(self))


# Results that carry rows (COMMAND_OK too, when it has columns: a DML ... RETURNING).
_WITH_ROWS = frozenset({ExecStatus.TUPLES_OK, ExecStatus.SINGLE_TUPLE})


def row_factory(cursor: Any) -> RowMaker[Row]:
    """psycopg row factory, the same as `dict_row` but building `Row`s.

    Column names come straight from the result, as `dict_row` takes them: going through
    `cursor.description` builds a Column object per column on every call, which cost more
    than the row mapping itself on a one-row read.
    """
    result = cursor.pgresult
    if result is None or not (
        result.status in _WITH_ROWS or (result.status == ExecStatus.COMMAND_OK and result.nfields)
    ):
        return no_result
    encoding = cursor.connection.info.encoding
    names = [(result.fname(i) or b"").decode(encoding) for i in range(result.nfields)]

    def make(values: Sequence[Any]) -> Row:
        # One name per value (both come from the result), so no strict check per row.
        return Row(zip(names, values, strict=False))

    return make


async def all_rows(
    query_cursor: Callable[..., AbstractAsyncContextManager[Any]], conn: Any, **params: Any
) -> list[Row]:
    """Every row of a many-row query, in one fetch: `query_cursor` is the aiosql query's
    `<name>_cursor` form (`queries.messages.page_before_cursor`).

    The plain form hands rows out one at a time through an async generator, one await per
    row: on a 50-row page that cost more client time than building the 50 messages.
    """
    async with query_cursor(conn, **params) as cursor:
        rows: list[Row] = await cursor.fetchall()
        return rows


async def all_tuples(
    query_cursor: Callable[..., AbstractAsyncContextManager[Any]], conn: Any, **params: Any
) -> tuple[list[str], list[tuple[Any, ...]]]:
    """all_rows with each row a plain tuple, made by psycopg in C, and the column names once
    (for chatstore.mapping.ColumnsBuilder): for pages, where a dict per row was measurable."""
    async with query_cursor(conn, **params) as cursor:
        cursor.row_factory = tuple_row
        rows: list[tuple[Any, ...]] = await cursor.fetchall()
        names = [column.name for column in cursor.description or ()]
        return names, rows


def position(names: Sequence[str], column: str) -> int:
    """Where `column` is among a result's `names`; ResultShapeError when it is not there."""
    try:
        return names.index(column)
    except ValueError:
        raise ResultShapeError(column, list(names)) from None


__all__: list[str] = ["Row", "all_rows", "all_tuples", "position", "row_factory"]
