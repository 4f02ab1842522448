"""Where the packaged `sql/` queries and `db/migrations/` live, wherever chatstore runs.

The top-level `sql/` and `db/migrations/` folders of the repository are the one source: the
package reaches them through `chatstore/_data/`, whose entries are links to those folders in
a checkout or an editable install, and real copies in a built wheel or sdist (the build
follows the links). So the same lookup works in all three.
"""

from __future__ import annotations

import re
from importlib.resources import files
from pathlib import Path

from chatstore.errors import ConfigurationError

# dbmate's file names: a version of digits, an underscore, a description.
_MIGRATION_NAME = re.compile(r"^(\d+)_.+\.sql$")


def _packaged(name: str) -> Path:
    folder = Path(str(files("chatstore") / "_data" / name))
    if not folder.is_dir():
        raise ConfigurationError(
            "chatstore", f"the installed package has no {name}/ folder at {folder}; reinstall it"
        )
    return folder


def packaged_sql_dir() -> Path:
    """The folder holding chatstore's own query files (`users.sql`, `messages.sql`, ...)."""
    return _packaged("sql")


def packaged_migrations_dir() -> Path:
    """The folder holding chatstore's own dbmate migrations."""
    return _packaged("migrations")


def migration_versions(directory: Path) -> list[str]:
    """The versions (leading digits of each file name) of the migrations in `directory`,
    oldest first, as dbmate records them in its migrations table."""
    versions = []
    for path in directory.iterdir():
        match = _MIGRATION_NAME.match(path.name)
        if match:
            versions.append(match.group(1))
    return sorted(versions)
