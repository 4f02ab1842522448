"""Guardrails for the `sql/` folder, so a DBA's edit cannot silently break the library.

- every loaded query is EXPLAINed against the migrated schema, so a broken query fails CI
  even when no repository test happens to call it;
- Python under chatstore/ holds no SQL statements: they all live in sql/.
"""

from __future__ import annotations

import ast
import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from psycopg import sql
from psycopg.types.json import Jsonb

from chatstore.db import SQL_DIR, load_queries
from tests.dbchecks import connect
from tests.servers import PROJECT

# Typed stand-ins for each parameter name used in sql/, so PostgreSQL plans the query with
# realistic types. A name not listed is sent as NULL, whose type PostgreSQL infers from the
# query (and refuses if it cannot, which fails the test as it should).
SAMPLE_VALUES: dict[str, Any] = {
    "limit": 50,
    "offset": 0,
    "content": "hello",
    "kind": "text",
    "role": "member",
    "name": "general",
    "description": "a room",
    "email": "alice@example.com",
    "username": "alice",
    "login": "alice",
    "display_name": "Alice",
    "password_hash": "$2b$10$" + "a" * 53,
    "old_hash": "$2b$10$" + "b" * 53,
    "client_id": "client-1",
    "attachment": Jsonb({"url": "u", "name": "n", "mime_type": "m", "size": 1}),
    "online": True,
    "is_online": True,
    "at": datetime(2026, 1, 1, tzinfo=UTC),
}


def sample(name: str) -> Any:
    if name in SAMPLE_VALUES:
        return SAMPLE_VALUES[name]
    if name == "id" or name.endswith("_id"):
        return uuid.uuid4()
    if name.endswith("_ids"):
        return [uuid.uuid4()]
    if name == "seq" or name.endswith("_seq"):
        return 1
    return None


def all_queries() -> Iterator[tuple[str, str, Any]]:
    for file_name, queries in load_queries(SQL_DIR).files.items():
        for query_name in queries.available_queries:
            # aiosql also exposes `<name>_cursor` helpers; they wrap the same statement.
            if query_name.endswith("_cursor"):
                continue
            yield file_name, query_name, getattr(queries, query_name)


QUERIES = sorted(all_queries(), key=lambda item: (item[0], item[1]))


def test_sql_folder_has_queries() -> None:
    assert len(QUERIES) >= 3, QUERIES


@pytest.mark.parametrize("query", QUERIES, ids=[f"{file}.{name}" for file, name, _ in QUERIES])
async def test_query_plans_against_the_migrated_schema(
    database_url: str, query: tuple[str, str, Any]
) -> None:
    _, _, function = query
    params = {name: sample(name) for name in function.parameters}
    statement = sql.SQL("EXPLAIN ") + sql.SQL(function.sql)
    async with connect(database_url) as conn:
        await conn.execute(statement, params)


def test_every_query_has_a_comment_saying_what_it_returns() -> None:
    for path in sorted(SQL_DIR.glob("*.sql")):
        lines = path.read_text().splitlines()
        for number, line in enumerate(lines):
            if line.startswith("-- name:"):
                following = lines[number + 1] if number + 1 < len(lines) else ""
                message = f"{path.name}:{number + 1}: {line} needs a comment saying what it returns"
                assert following.startswith("-- "), message
                assert len(following) > 4, message


def test_query_names_are_unique_within_each_file() -> None:
    for path in sorted(SQL_DIR.glob("*.sql")):
        names = re.findall(r"^-- name: ([a-z_0-9]+)", path.read_text(), flags=re.MULTILINE)
        assert len(names) == len(set(names)), f"{path.name} repeats a query name"


SQL_STATEMENT = re.compile(
    r"\bselect\b[\s\S]+\bfrom\b|\binsert\s+into\b|\bupdate\s+\w+\s+set\b|\bdelete\s+from\b"
    r"|\b(create|alter|drop)\s+(table|index|view|function)\b|\bexplain\b\s+\w",
    re.IGNORECASE,
)


def string_literals(tree: ast.AST) -> Iterator[tuple[int, str]]:
    """Every string constant in a module except docstrings (prose may name SQL)."""
    docstrings: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                docstrings.add(id(body[0].value))
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and id(node) not in docstrings
        ):
            yield node.lineno, node.value


def test_no_sql_statements_in_library_python() -> None:
    offenders = [
        f"{path.relative_to(PROJECT)}:{line}: {text[:60]!r}"
        for path in sorted((PROJECT / "chatstore").rglob("*.py"))
        for line, text in string_literals(ast.parse(path.read_text()))
        if SQL_STATEMENT.search(text)
    ]
    assert offenders == [], "SQL belongs in sql/*.sql:\n" + "\n".join(offenders)


def test_the_sql_detector_catches_what_it_should() -> None:
    module = 'x = "SELECT id FROM users WHERE id = %s"\ny = f"DELETE FROM rooms"\n'
    found = [text for _, text in string_literals(ast.parse(module)) if SQL_STATEMENT.search(text)]
    assert len(found) == 2
