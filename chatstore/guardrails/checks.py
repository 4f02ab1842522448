"""pytest-friendly entries: each runs checks and raises AssertionError listing every problem."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from typing import Any

from chatstore.guardrails.columns import column_problems
from chatstore.guardrails.plans import DEFAULT_MIN_ROWS, explain_problems, plan_problems
from chatstore.guardrails.static import static_problems


def assert_no_problems(problems: Sequence[str], what: str) -> None:
    """Raise AssertionError with one problem per line when there are any."""
    if problems:
        listed = "\n".join(f"  - {problem}" for problem in problems)
        raise AssertionError(f"{what}: {len(problems)} problem(s)\n{listed}")


def assert_static_ok(dirs: Sequence[Path]) -> None:
    """The checks `chatstore lint-sql` runs: no database needed."""
    assert_no_problems(static_problems(dirs), "static checks of the .sql files")


def assert_sql_ok(
    database_url: str,
    dirs: Sequence[Path],
    *,
    samples: Mapping[str, Any] | None = None,
    reads: Mapping[str, Collection[str]] | None = None,
    readers: Mapping[str, str] | None = None,
    require_all: bool = False,
) -> None:
    """Static checks, every query EXPLAINed on the migrated `database_url`, and, with
    `reads` ({"file.query": {column, ...}}), the result columns the code reads.
    `require_all` also fails row-returning queries that `reads` does not mention.
    """
    problems = static_problems(dirs)
    problems += [p for p in explain_problems(database_url, dirs, samples) if p not in problems]
    if reads is not None:
        problems += [
            p
            for p in column_problems(
                database_url,
                dirs,
                reads,
                readers=readers,
                samples=samples,
                require_all=require_all,
            )
            if p not in problems
        ]
    assert_no_problems(problems, "the .sql files")


def assert_plans_ok(
    database_url: str,
    dirs: Sequence[Path],
    params: Mapping[str, Any],
    large_tables: Collection[str] | None = None,
    *,
    min_rows: int = DEFAULT_MIN_ROWS,
    samples: Mapping[str, Any] | None = None,
) -> None:
    """No query reads a whole large table, nor sorts thousands of its rows to return a LIMIT
    of them, unless annotated `-- may scan <table>: <why>`.

    `database_url` must hold a realistic, ANALYZEd dataset; `params` real values from it.
    """
    problems = plan_problems(
        database_url, dirs, params, large_tables, min_rows=min_rows, samples=samples
    )
    assert_no_problems(problems, "query plans on the large dataset")
