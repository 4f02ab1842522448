"""Lint the project's dbmate migrations: `just lint` runs this.

The checks live in chatstore.migration_files.lint_migrations, so an application can lint its
own migrations folder the same way (`chatstore lint-migrations --dir ...`).
"""

from __future__ import annotations

import sys
from pathlib import Path

from chatstore.errors import ConfigurationError
from chatstore.migration_files import lint_migrations

ROOT = Path(__file__).resolve().parent.parent
MIGRATIONS = ROOT / "db" / "migrations"


def main() -> int:
    try:
        problems = lint_migrations(MIGRATIONS, ROOT / ".squawk.toml")
    except ConfigurationError as error:
        print(error, file=sys.stderr)
        return 1
    for problem in problems:
        print(problem)
    count = len(list(MIGRATIONS.glob("*.sql")))
    print(f"migrations: {count} checked, problems: {len(problems)}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
