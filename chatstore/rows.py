"""The row type every chatstore query returns: a dict that fails as a chatstore error.

A query whose result lacks a column the code reads (an alias renamed in `sql/`, a column
dropped) raises ResultShapeError naming the column and what the query did return, instead
of a bare KeyError escaping to the caller.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from psycopg.rows import RowMaker, no_result

from chatstore.errors import ResultShapeError


class Row(dict[str, Any]):
    __slots__ = ()

    def __missing__(self, key: str) -> Any:
        raise ResultShapeError(key, list(self))


def row_factory(cursor: Any) -> RowMaker[Row]:
    """psycopg row factory, the same as `dict_row` but building `Row`s."""
    description = cursor.description
    if description is None:
        return no_result
    names = [column.name for column in description]

    def make(values: Sequence[Any]) -> Row:
        return Row(zip(names, values, strict=True))

    return make


__all__: list[str] = ["Row", "row_factory"]
