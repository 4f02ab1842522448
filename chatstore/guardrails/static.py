"""The checks that need no database: fast enough for `just lint` (`chatstore lint-sql`).

- every file parses with aiosql;
- every `-- name:` line is followed by a one-line comment saying what the query returns;
- query names are unique within a file, and file names (stems) across the folders;
- `-- may scan <table>: <why>` annotations are well formed, give a reason, and sit in the
  comment block of the query they allow.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from chatstore.guardrails.sqlfiles import read_folders


def static_problems(dirs: Sequence[Path]) -> list[str]:
    """Everything wrong with the `.sql` files of `dirs` that can be seen without a database.

    Each message names `folder/file.sql:line` and the query.
    """
    files, problems = read_folders(dirs)
    for loaded in files:
        problems += loaded.problems
        names = [header.name for header in loaded.headers]
        repeated = len(set(names)) < len(names)
        # A repeated name also makes aiosql refuse the file; the message above says it better.
        if loaded.load_error is not None and not repeated:
            problems.append(loaded.load_error)
    return problems


def main(argv: list[str] | None = None) -> int:
    """`chatstore lint-sql [DIR...]`: print the static problems; 0 when there are none.

    Without folders, checks chatstore's own packaged `sql/`.
    """
    parser = argparse.ArgumentParser(
        prog="chatstore lint-sql",
        description="Check folders of aiosql .sql files without a database.",
    )
    parser.add_argument(
        "dirs", nargs="*", type=Path, help="folders of .sql files (default: chatstore's sql/)"
    )
    args = parser.parse_args(argv)
    dirs: list[Path] = args.dirs
    if not dirs:
        from chatstore.resources import packaged_sql_dir

        dirs = [packaged_sql_dir()]
    problems = static_problems(dirs)
    for problem in problems:
        print(problem)
    folders = ", ".join(str(folder) for folder in dirs)
    if problems:
        print(f"{len(problems)} problem(s) in {folders}", file=sys.stderr)
        return 1
    print(f"sql ok: {folders}", file=sys.stderr)
    return 0
