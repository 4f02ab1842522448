"""The row type every chatstore query returns: a dict that fails as a chatstore error.

A query whose result lacks a column the code reads (an alias renamed in `sql/`, a column
dropped) raises ResultShapeError naming the column and what the query did return, instead
of a bare KeyError escaping to the caller.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from psycopg.pq import ExecStatus
from psycopg.rows import RowMaker, no_result

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


__all__: list[str] = ["Row", "row_factory"]
