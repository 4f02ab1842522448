"""Guardrails for the `sql/` folder, so a DBA's edit cannot silently break the library.

- static checks (`chatstore lint-sql`): every file loads with aiosql, every query says what
  it returns, names are unique, `-- may scan` annotations are well formed;
- every loaded query is EXPLAINed against the migrated schema, so a broken query fails CI
  even when no repository test happens to call it;
- every column the code reads (chatstore/repositories/reads.py) is still returned, and
  every query returning rows is declared there;
- Python under chatstore/ holds no SQL statements: they all live in .sql files.

The holes are shown closed on copies of the files in tmp_path; sql/ itself is never edited.
The plan check on a large dataset is in test_query_plans.py.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from chatstore.guardrails import (
    assert_sql_ok,
    assert_static_ok,
    column_problems,
    explain_problems,
    load_queries,
    main,
    static_problems,
    undeclared_queries,
)
from chatstore.guardrails.placeholders import numbered
from chatstore.guardrails.plans import CATALOG_SQL
from chatstore.repositories.reads import READERS, READS
from chatstore.resources import packaged_sql_dir
from tests.dbchecks import copy_sql
from tests.servers import PROJECT

SQL = packaged_sql_dir()


def edit_query(folder: Path, key: str, old: str, new: str) -> None:
    """Replace `old` with `new` within one query's text (its `-- name:` line to the next)."""
    stem, name = key.split(".")
    path = folder / f"{stem}.sql"
    text = path.read_text()
    start = text.index(f"-- name: {name}(")
    end = text.find("-- name:", start + 1)
    end = len(text) if end == -1 else end
    block = text[start:end]
    assert old in block, f"{old!r} is not in {key}"
    path.write_text(text[:start] + block.replace(old, new) + text[end:])


# -- static ------------------------------------------------------------------------------------


def test_sql_folder_has_queries() -> None:
    queries, problems = load_queries([SQL])
    assert problems == []
    assert len(queries) >= 3, queries


def test_chatstore_sql_passes_the_static_checks() -> None:
    assert static_problems([SQL]) == []
    assert_static_ok([SQL])


def test_lint_sql_verb(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 0
    assert main([str(SQL)]) == 0
    folder = copy_sql(tmp_path)
    edit_query(folder, "users.get_user", "-- The user with this id, or nothing.\n", "")
    assert main([str(folder)]) == 1
    assert "sql/users.sql:21: query get_user needs a one-line comment" in capsys.readouterr().out


def test_a_query_without_its_comment_fails_the_static_check(tmp_path: Path) -> None:
    folder = copy_sql(tmp_path)
    edit_query(folder, "users.get_user", "-- The user with this id, or nothing.\n", "")
    problems = static_problems([folder])
    assert len(problems) == 1, problems
    assert problems[0].startswith("sql/users.sql:21: query get_user needs a one-line comment")
    with pytest.raises(AssertionError, match="get_user"):
        assert_static_ok([folder])


@pytest.mark.parametrize(
    ("annotation", "expected"),
    [
        ("-- may scan messages", "write the annotation as `-- may scan <table>: <why>`"),
        ("-- may scan messages:", "gives no reason"),
        ("-- may scan messages: ok", "gives no reason"),
        ("-- may-scan messages: reads them all for the report", "write the annotation as"),
        ("-- may scan 'messages': reads them all for the report", "is not a table name"),
    ],
)
def test_a_malformed_scan_annotation_fails_the_static_check(
    tmp_path: Path, annotation: str, expected: str
) -> None:
    folder = copy_sql(tmp_path)
    summary = "-- One room, or nothing.\n"
    edit_query(folder, "rooms.get_room", summary, f"{summary}{annotation}\n")
    problems = static_problems([folder])
    assert len(problems) == 1, problems
    assert problems[0].startswith("sql/rooms.sql:21: query get_room: "), problems
    assert expected in problems[0]


def test_a_scan_annotation_outside_a_comment_block_fails(tmp_path: Path) -> None:
    folder = copy_sql(tmp_path)
    edit_query(
        folder, "rooms.get_room", "FROM rooms\n", "-- may scan rooms: small table\nFROM rooms\n"
    )
    problems = static_problems([folder])
    assert len(problems) == 1, problems
    assert "applies to no query" in problems[0]


def test_repeated_names_and_files_fail_the_static_check(tmp_path: Path) -> None:
    folder = copy_sql(tmp_path)
    edit_query(folder, "rooms.get_direct_room", "get_direct_room(", "get_room(")
    other = tmp_path / "app"
    other.mkdir()
    (other / "users.sql").write_text("-- name: count_users()$\n-- How many users exist.\n")
    (other / "broken.sql").write_text("-- name: 1st()\n-- Starts with a digit.\nSELECT 1;\n")
    problems = static_problems([folder, other])
    assert any(
        "sql/rooms.sql:115: query get_room is defined again (first at line 19)" in p
        for p in problems
    ), problems
    assert any("two query files named users.sql" in p for p in problems), problems
    assert any("app/broken.sql: aiosql cannot load this file" in p for p in problems), problems
    assert not any("cannot override" in p for p in problems), problems


def test_a_missing_folder_is_a_problem(tmp_path: Path) -> None:
    assert static_problems([tmp_path / "nowhere"]) == [
        f"{tmp_path / 'nowhere'}: not a folder of .sql files"
    ]


# -- against the migrated schema -----------------------------------------------------------------


def test_every_query_plans_against_the_migrated_schema(database_url: str) -> None:
    assert explain_problems(database_url, [SQL]) == []


def test_a_broken_query_fails_naming_it_and_the_postgres_error(
    database_url: str, tmp_path: Path
) -> None:
    folder = copy_sql(tmp_path)
    edit_query(folder, "messages.page_after", "    m.edit_count,\n", "    m.edit_cnt,\n")
    problems = explain_problems(database_url, [folder])
    assert len(problems) == 1, problems
    lines = (folder / "messages.sql").read_text().splitlines()
    line = (
        lines.index("-- name: page_after(room_id, user_id, after_seq, limit, thread_replies)") + 1
    )
    assert problems[0].startswith(f"messages.page_after (sql/messages.sql:{line}): ")
    assert "column m.edit_cnt does not exist" in problems[0]


def test_an_untyped_parameter_is_named_with_a_hint(database_url: str, tmp_path: Path) -> None:
    (tmp_path / "echo.sql").write_text(
        "-- name: echo(thing)^\n"
        "-- Whether the thing is missing.\n"
        "SELECT :thing IS NULL AS missing;\n"
    )
    problems = explain_problems(database_url, [tmp_path])
    assert len(problems) == 1, problems
    assert problems[0].startswith(f"echo.echo ({tmp_path.name}/echo.sql:1): ")
    assert "could not determine data type of parameter $1" in problems[0]
    assert "that is :thing; pass a typed sample value: samples={'thing': ...}" in problems[0]
    assert explain_problems(database_url, [tmp_path], samples={"thing": 1}) == []


def test_the_guardrails_own_queries_pass_their_checks(database_url: str) -> None:
    folder = CATALOG_SQL.parent
    assert static_problems([folder]) == []
    assert explain_problems(database_url, [folder]) == []


def test_placeholders_are_numbered_as_psycopg_sends_them() -> None:
    statement = "a = %(x)s AND b = %(y)s OR c = %(x)s AND d LIKE 'a%%'"
    assert numbered(statement) == ("a = $1 AND b = $2 OR c = $1 AND d LIKE 'a%'", ["x", "y"])
    with pytest.raises(ValueError, match="write a literal % as %%"):
        numbered("d LIKE 'a%'")


def test_what_the_code_reads_is_what_the_queries_return(database_url: str) -> None:
    assert column_problems(database_url, [SQL], READS, readers=READERS, require_all=True) == []
    assert_sql_ok(database_url, [SQL], reads=READS, readers=READERS, require_all=True)


def test_every_query_returning_rows_is_declared_in_reads() -> None:
    assert undeclared_queries([SQL], READS) == []
    queries, _ = load_queries([SQL])
    assert set(READS) <= {query.key for query in queries}, set(READS) - {q.key for q in queries}


def test_a_new_query_must_be_declared_in_reads(tmp_path: Path) -> None:
    folder = copy_sql(tmp_path)
    with (folder / "rooms.sql").open("a") as file:
        file.write("\n-- name: room_names()\n-- Every room's name.\nSELECT name FROM rooms;\n")
    problems = undeclared_queries([folder], READS)
    assert len(problems) == 1, problems
    assert "query room_names returns rows" in problems[0]
    assert "'rooms.room_names'" in problems[0]


@pytest.mark.parametrize(
    ("key", "edits"),
    [
        ("messages.page_before", [("END AS content", "END AS body"), ("m.content,", "m.body,")]),
        ("messages.get_message", [("END AS content", "END AS body")]),
    ],
)
def test_a_renamed_column_fails_the_column_check(
    database_url: str, tmp_path: Path, key: str, edits: list[tuple[str, str]]
) -> None:
    folder = copy_sql(tmp_path)
    name = key.split(".")[1]
    lines = (folder / "messages.sql").read_text().splitlines()
    line = next(n for n, text in enumerate(lines, 1) if text.startswith(f"-- name: {name}("))
    for old, new in edits:
        edit_query(folder, key, old, new)
    # The query itself is fine: only the comparison with what the code reads catches it.
    assert explain_problems(database_url, [folder]) == []
    problems = column_problems(database_url, [folder], READS, readers=READERS)
    assert len(problems) == 1, problems
    assert problems[0].startswith(f"sql/messages.sql:{line}: query {key.split('.')[1]} ")
    assert "no longer returns column 'content', which MessageRepository reads" in problems[0]
    assert "body" in problems[0].split("(it returns: ")[1]
    with pytest.raises(AssertionError, match="no longer returns column 'content'"):
        assert_sql_ok(database_url, [folder], reads=READS, readers=READERS)


def test_declared_reads_of_unknown_queries_are_problems(database_url: str) -> None:
    reads = {**READS, "messages.nope": frozenset({"id"}), "nofile.query": frozenset()}
    problems = column_problems(database_url, [SQL], reads)
    assert problems == [
        "messages.nope: declared as read by the code, but messages.sql has no such query",
        "nofile.query: declared as read by the code, but no folder has a nofile.sql",
    ]


def test_a_column_named_twice_is_a_problem(database_url: str, tmp_path: Path) -> None:
    folder = copy_sql(tmp_path)
    edit_query(folder, "rooms.get_room", "    updated_at\n", "    updated_at,\n    id\n")
    problems = column_problems(database_url, [folder], READS)
    assert len(problems) == 1, problems
    assert "query get_room returns column 'id' 2 times" in problems[0]


# -- no SQL in Python -----------------------------------------------------------------------------

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
