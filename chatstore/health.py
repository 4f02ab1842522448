"""`chatstore check`: can this configuration run chatstore? One line per question.

Each check says ok or FAIL and, on failure, why and what to do. The answers come from
the same code the library opens with (the connection probe, the schema comparison, the
Redis PING), so a green check means `ChatStore.open` succeeds with the same settings.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from chatstore.config import Settings
from chatstore.db import Database, probe_connection
from chatstore.errors import ChatStoreError, ConfigurationError
from chatstore.realtime.connection import open_redis
from chatstore.schema_version import schema_state


@dataclass(frozen=True, slots=True)
class Finding:
    ok: bool
    subject: str
    detail: str

    def line(self) -> str:
        return f"{'ok  ' if self.ok else 'FAIL'}  {self.subject}: {self.detail}"


def _where(url: str) -> str:
    """host:port of a URL, without the user or password."""
    try:
        parts = urlsplit(url)
        return f"{parts.hostname or 'local socket'}:{parts.port or 'default port'}"
    except ValueError:
        return "an unparsable URL"


def _tls(error: ConfigurationError) -> bool:
    # Every TLS refusal (a certificate that does not verify, CHATSTORE_REQUIRE_TLS, a TLS
    # setting) says TLS, in its text or its setting's name; refused credentials never do.
    return "TLS" in str(error)


async def _postgres(settings: Settings) -> list[Finding]:
    where = _where(settings.database_url)
    try:
        await probe_connection(settings)
    except ConfigurationError as error:
        if _tls(error):
            return [Finding(False, "PostgreSQL TLS", f"{where}: {error}")]
        return [
            Finding(True, "PostgreSQL answers", where),
            Finding(False, "PostgreSQL credentials", f"refused: {error}"),
        ]
    except ChatStoreError as error:
        return [Finding(False, "PostgreSQL answers", f"{where}: {error}")]
    findings = [
        Finding(True, "PostgreSQL answers", where),
        Finding(True, "PostgreSQL credentials", "accepted"),
    ]
    try:
        async with Database.open(settings) as db:
            state = await schema_state(db)
    except ChatStoreError as error:
        return [*findings, Finding(False, "schema", str(error))]
    return [*findings, Finding(state.ok, "schema", state.describe())]


async def _redis(settings: Settings) -> list[Finding]:
    where = _where(settings.redis_url)
    try:
        client = await open_redis(settings)
    except ConfigurationError as error:
        if _tls(error):
            return [Finding(False, "Redis TLS", f"{where}: {error}")]
        if "credentials" in str(error):
            return [
                Finding(True, "Redis answers", where),
                Finding(False, "Redis credentials", f"refused: {error}"),
            ]
        return [Finding(False, "Redis answers", str(error))]
    except ChatStoreError as error:
        return [Finding(False, "Redis answers", f"{where}: {error}")]
    await client.aclose()
    return [Finding(True, "Redis answers", where), Finding(True, "Redis credentials", "accepted")]


async def check(settings: Settings, report: Callable[[str], None] = print) -> bool:
    """Run every check, report each line, and say whether all passed."""
    findings = [*await _postgres(settings), *await _redis(settings)]
    for finding in findings:
        report(finding.line())
    return all(finding.ok for finding in findings)
