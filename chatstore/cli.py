"""The `chatstore` command (also `python -m chatstore`).

Exit codes a script can rely on: 0 done (or every check passed); 1 the work failed (a check
failed, dbmate failed, a lint found problems, `status` found pending migrations); 2 the
command was used wrongly or the configuration is missing or invalid.

The command reads `.env` from the current directory first, as dbmate does; variables already
in the environment win. The library itself never reads `.env`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from chatstore import dotenv
from chatstore.config import PgTls, Settings
from chatstore.dbmate import DEFAULT_TABLE, MigrationTarget, run_dbmate
from chatstore.errors import ChatStoreError, ConfigurationError
from chatstore.resources import packaged_migrations_dir, packaged_sql_dir

OK, FAILED, USAGE = 0, 1, 2


def _database_url() -> str:
    value = os.environ.get("DATABASE_URL", "").strip()
    if not value:
        raise ConfigurationError("DATABASE_URL", "must be set (in the environment or ./.env)")
    return value


def _target(args: argparse.Namespace) -> MigrationTarget:
    return MigrationTarget(
        database_url=_database_url(),
        directory=args.dir,
        table=args.table,
        schema_file=args.schema_file,
        # The library's TLS settings, without the rest: migrating needs no REDIS_URL.
        tls=PgTls.from_env(),
    )


def _migrate(args: argparse.Namespace) -> int:
    return OK if run_dbmate(_target(args), "up", wait=True) == 0 else FAILED


def _rollback(args: argparse.Namespace) -> int:
    return OK if run_dbmate(_target(args), "rollback") == 0 else FAILED


def _status(args: argparse.Namespace) -> int:
    # dbmate's --exit-code: 1 when migrations are pending.
    return OK if run_dbmate(_target(args), "status", "--exit-code") == 0 else FAILED


def _check(args: argparse.Namespace) -> int:
    from chatstore.health import check

    return OK if asyncio.run(check(Settings.from_env())) else FAILED


def _demo(args: argparse.Namespace) -> int:
    from chatstore import demo

    return demo.main()


def _new_migration(args: argparse.Namespace) -> int:
    from chatstore.migration_files import new_migration

    path = new_migration(args.dir, args.name, concurrent_index=args.concurrent_index)
    print(path)
    return OK


def _report(problems: Sequence[str], what: str) -> int:
    for problem in problems:
        print(problem)
    print(f"{what}: {len(problems)} problem(s)" if problems else f"{what}: no problems")
    return FAILED if problems else OK


def _lint_sql(args: argparse.Namespace) -> int:
    from chatstore.guardrails.static import static_problems

    folders = args.folders or [packaged_sql_dir()]
    return _report(static_problems(folders), "sql")


def _lint_migrations(args: argparse.Namespace) -> int:
    from chatstore.migration_files import lint_migrations

    return _report(lint_migrations(args.dir or packaged_migrations_dir()), "migrations")


def _migration_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--dir",
        type=Path,
        default=None,
        help="an application's own migrations folder (default: chatstore's packaged ones)",
    )
    parser.add_argument(
        "--table",
        default=DEFAULT_TABLE,
        help=f"the table recording them (default: {DEFAULT_TABLE}); give an application's "
        "migrations a table of their own",
    )
    parser.add_argument(
        "--schema-file",
        type=Path,
        default=None,
        help="also write dbmate's schema dump here after the change",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="chatstore",
        description="chatstore's migrations, checks and demo. Reads ./.env, then the "
        "environment (DATABASE_URL, REDIS_URL, ...).",
        epilog="exit codes: 0 done, 1 failed, 2 wrong usage or configuration",
    )
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="COMMAND")

    def verb(
        name: str, help_text: str, run: Callable[[argparse.Namespace], int]
    ) -> argparse.ArgumentParser:
        sub = verbs.add_parser(name, help=help_text, description=help_text)
        sub.set_defaults(run=run)
        return sub

    _migration_options(
        verb("migrate", "apply pending migrations (creating the database if needed)", _migrate)
    )
    _migration_options(verb("status", "list applied and pending migrations; 1 if pending", _status))
    _migration_options(verb("rollback", "undo the newest applied migration", _rollback))
    verb(
        "check",
        "say, one line each, whether PostgreSQL and Redis answer and accept the credentials "
        "and whether the schema is current; 1 if anything fails",
        _check,
    )
    verb("demo", "run a scripted conversation against the configured servers", _demo)
    new = verb("new-migration", "write a new migration from the house template", _new_migration)
    new.add_argument("name", help="what it does, in lowercase_with_underscores")
    new.add_argument(
        "--dir", type=Path, default=Path("db/migrations"), help="(default: %(default)s)"
    )
    new.add_argument(
        "--concurrent-index",
        action="store_true",
        help="the template for one concurrent index build, outside a transaction",
    )
    lint_sql = verb("lint-sql", "static checks of aiosql query files (no database)", _lint_sql)
    lint_sql.add_argument("folders", nargs="*", type=Path, help="(default: chatstore's own sql/)")
    lint_migrations = verb("lint-migrations", "lint migrations with squawk", _lint_migrations)
    lint_migrations.add_argument(
        "--dir", type=Path, default=None, help="(default: chatstore's own migrations)"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    dotenv.load(Path.cwd() / ".env")
    args = build_parser().parse_args(argv)
    try:
        code: int = args.run(args)
    except ConfigurationError as error:
        print(f"chatstore {args.verb}: {error}", file=sys.stderr)
        return USAGE
    except ChatStoreError as error:
        print(f"chatstore {args.verb}: {error}", file=sys.stderr)
        return FAILED
    return code
