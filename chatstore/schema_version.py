"""Does the database carry the migrations this chatstore was built with?

`ChatStore.open` and `chatstore check` both ask. A database missing any packaged migration
is refused (its queries would fail later with "relation does not exist"); one with versions
the package does not know (a newer chatstore applied them: a rolling deploy) is allowed,
with a warning.
"""

from __future__ import annotations

from dataclasses import dataclass

from chatstore.db import Database
from chatstore.errors import ConfigurationError
from chatstore.resources import migration_versions, packaged_migrations_dir


@dataclass(frozen=True, slots=True)
class SchemaState:
    """The packaged migrations compared with those recorded in `schema_migrations`."""

    missing: tuple[str, ...]  # packaged, not applied: run `chatstore migrate`
    unknown: tuple[str, ...]  # applied, not packaged: a newer chatstore migrated this database

    @property
    def ok(self) -> bool:
        return not self.missing

    def describe(self) -> str:
        if self.missing:
            return (
                f"{len(self.missing)} migration(s) not applied: {', '.join(self.missing)}; "
                "run `chatstore migrate`"
            )
        if self.unknown:
            return (
                f"up to date, and {len(self.unknown)} migration(s) newer than this chatstore "
                f"({', '.join(self.unknown)}): upgrade chatstore to match"
            )
        return "up to date"

    def require_current(self) -> None:
        if self.missing:
            raise ConfigurationError(
                "DATABASE_URL", f"the database schema is behind: {self.describe()}"
            )


def compare(applied: list[str]) -> SchemaState:
    packaged = migration_versions(packaged_migrations_dir())
    recorded = set(applied)
    return SchemaState(
        missing=tuple(v for v in packaged if v not in recorded),
        unknown=tuple(sorted(recorded - set(packaged))),
    )


async def schema_state(db: Database) -> SchemaState:
    async with db.connection() as conn:
        exists = await db.queries.migrations.migrations_table_exists(conn)
        applied: list[str] = []
        if exists is not None and exists["present"]:
            applied = [
                row["version"] async for row in db.queries.migrations.applied_migrations(conn)
            ]
    return compare(applied)
