"""Guardrails for folders of aiosql `.sql` files: chatstore's own `sql/`, and an application's.

Four checks, each a function taking folders and returning a list of problems (empty: all
good), every message naming the file, line and query:

- `static_problems(dirs)`: no database. Each file loads with aiosql; each `-- name:` line is
  followed by a one-line comment saying what the query returns; names are unique within a
  file and file names across the folders; `-- may scan <table>: <why>` annotations are well
  formed. `chatstore lint-sql [DIR...]` runs it (`chatstore.guardrails.static.main`).
- `explain_problems(database_url, dirs, samples)`: every query EXPLAINed on a migrated
  schema, with typed sample values for its parameters.
- `plan_problems(database_url, dirs, params, large_tables)`: on a large dataset, no plan
  reads a whole large table (a Seq Scan), nor sorts more than 1,000 of its rows under a
  LIMIT, unless the query's comment block says `-- may scan <table>: <why>`.
- `column_problems(database_url, dirs, expected)`: every column the code reads
  (`{"file.query": {column, ...}}`) is still returned, found without executing anything.

For tests, `assert_static_ok`, `assert_sql_ok` and `assert_plans_ok` raise AssertionError
listing every problem. Nothing here executes a query: plans come from EXPLAIN and result
columns from describing a prepared statement.

An application's test, with the `database_url` of a migrated database::

    from pathlib import Path

    from chatstore.guardrails import assert_sql_ok, assert_static_ok

    APP_SQL = Path(__file__).resolve().parent.parent / "app" / "sql"


    def test_app_sql_is_documented() -> None:
        assert_static_ok([APP_SQL])


    def test_app_sql_plans_and_returns_what_the_app_reads(database_url: str) -> None:
        assert_sql_ok(
            database_url,
            [APP_SQL],
            samples={"tag": "news"},  # a typed value for each parameter no rule covers
            reads={"posts.recent_posts": {"id", "title", "posted_at"}},
            require_all=True,
        )
"""

from __future__ import annotations

from chatstore.guardrails.checks import (
    assert_no_problems,
    assert_plans_ok,
    assert_sql_ok,
    assert_static_ok,
)
from chatstore.guardrails.columns import column_problems, result_columns, undeclared_queries
from chatstore.guardrails.plans import (
    DEFAULT_MIN_ROWS,
    explain_problems,
    find_large_tables,
    plan_problems,
)
from chatstore.guardrails.samples import SAMPLE_VALUES, sample, values_for
from chatstore.guardrails.sqlfiles import SqlQuery, load_queries
from chatstore.guardrails.static import main, static_problems

__all__ = [
    "DEFAULT_MIN_ROWS",
    "SAMPLE_VALUES",
    "SqlQuery",
    "assert_no_problems",
    "assert_plans_ok",
    "assert_sql_ok",
    "assert_static_ok",
    "column_problems",
    "explain_problems",
    "find_large_tables",
    "load_queries",
    "main",
    "plan_problems",
    "result_columns",
    "sample",
    "static_problems",
    "undeclared_queries",
    "values_for",
]
