"""Query files loaded with aiosql: chatstore's own `sql/` plus the application's folders.

`Queries` holds every file as a namespace taking a connection
(`queries.users.get_user(conn, user_id=...)`), which is how the repositories call them.
`BoundQueries` is what an application reaches as `store.queries`: the same files, each query
called without a connection (`await store.queries.app.list_public_rooms(limit=20)`). It runs
on the current `store.transaction()` when there is one, else on a pooled autocommit
connection, and driver errors come out as chatstore errors.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiosql
from aiosql.types import SQLOperationType

from chatstore.errors import ConfigurationError, ValidationError
from chatstore.resources import packaged_sql_dir

if TYPE_CHECKING:
    from chatstore.db import Database


class Queries:
    """Every `.sql` file of the given folders as a namespace named after the file's stem."""

    def __init__(self, folders: Sequence[Path]) -> None:
        self._by_file: dict[str, Any] = {}
        origin: dict[str, Path] = {}
        for folder in folders:
            for path in sorted(folder.glob("*.sql")):
                if path.stem in origin:
                    raise ConfigurationError(
                        "sql_paths",
                        f"{path} has the same name as {origin[path.stem]}; query files are "
                        "reached by file name, so give each a name of its own",
                    )
                origin[path.stem] = path
                self._by_file[path.stem] = _load(path)

    def __getattr__(self, name: str) -> Any:
        try:
            return self._by_file[name]
        except KeyError:
            raise AttributeError(f"no query file named {name}.sql") from None

    @property
    def files(self) -> dict[str, Any]:
        return dict(self._by_file)


def _load(path: Path) -> Any:
    try:
        return aiosql.from_path(path, "apsycopg")
    except (aiosql.SQLParseException, aiosql.SQLLoadException) as error:
        raise ConfigurationError("sql_paths", f"{path}: {error}") from None


@functools.cache
def load_queries(extra_folders: tuple[Path, ...] = ()) -> Queries:
    """chatstore's own query files plus the application's, parsed once per process."""
    return Queries((packaged_sql_dir(), *extra_folders))


class BoundQueries:
    """`store.queries.<file>.<query>(**params)`: queries that find their own connection."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def __getattr__(self, file_name: str) -> BoundFile:
        queries = getattr(self._db.queries, file_name)
        return BoundFile(self._db, file_name, queries)


class BoundFile:
    """One query file; each attribute is an async function of the query's parameters.

    Returns, by the query's suffix: a list of row dicts (none), one row dict or None (`^`),
    the affected row count (`!`), whatever aiosql's adapter returns for the others.
    """

    def __init__(self, db: Database, file_name: str, queries: Any) -> None:
        self._db = db
        self._file_name = file_name
        self._queries = queries

    def __getattr__(self, query_name: str) -> Callable[..., Awaitable[Any]]:
        if query_name not in self._queries.available_queries:
            raise AttributeError(f"{self._file_name}.sql has no query named {query_name}")
        function = getattr(self._queries, query_name)
        many = function.operation == SQLOperationType.SELECT
        expected = set(function.parameters or ())
        where = f"{self._file_name}.{query_name}"

        async def call(**params: Any) -> Any:
            # aiosql ignores unknown names and the driver reports a missing one as a bare
            # database error; say which parameter and which query instead.
            for name in sorted(set(params) - expected):
                raise ValidationError(name, f"is not a parameter of {where}")
            for name in sorted(expected - set(params)):
                raise ValidationError(name, f"is required by {where}")
            async with self._db.connection() as conn:
                if many:
                    return [row async for row in function(conn, **params)]
                return await function(conn, **params)

        call.__name__ = query_name
        call.__doc__ = function.__doc__
        return call
