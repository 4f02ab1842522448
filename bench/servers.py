"""The PostgreSQL a benchmark runs against, started from the installed binaries.

Redis comes from tests.servers unchanged (throwaway, in a temporary directory: it holds only
counters chatstore rebuilds from PostgreSQL). PostgreSQL gets this small start function of
its own instead of tests.servers.start_postgres, for two reasons: the test servers run with
fsync off, while the full benchmark measures durable commits; and the test executor always
wipes and re-initialises its data directory, while the full benchmark keeps its cluster
under bench/.data/ so that a second run reuses the loaded dataset.

PostgreSQL refuses to run as root; as root, every server-side command runs as the
unprivileged `postgres` user, which then owns the cluster's directory (as in tests.servers).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from tests.servers import PG_USER, SERVICE_USER, free_port, pg_bindir

# Settings the server starts with, written into the results. shared_buffers holds the full
# dataset's hot part; max_connections leaves room for chatstore's pool, the raw psycopg and
# SQLAlchemy pools and pgbench's 64 clients; max_wal_size keeps checkpoints out of the load.
SERVER_SETTINGS: dict[str, str] = {
    "shared_buffers": "1GB",
    "max_connections": "200",
    "max_wal_size": "4GB",
}
DURABLE = {"fsync": "on", "synchronous_commit": "on", "full_page_writes": "on"}
# What tests.servers uses: commits are not flushed to disk (fine for a smoke run only).
NOT_DURABLE = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}


def _as_service_user(command: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return command
    return ["runuser", "-u", SERVICE_USER, "--", *command]


COMMAND_TIMEOUT_SECONDS = 300  # initdb, or a start that replays a crashed run's WAL


def _run(command: list[str], what: str) -> None:
    # Our own fixed command lines (PostgreSQL's binaries), never built from input.
    result = subprocess.run(  # noqa: S603
        command, capture_output=True, text=True, check=False, timeout=COMMAND_TIMEOUT_SECONDS
    )
    if result.returncode != 0:
        raise RuntimeError(f"{what} failed ({result.returncode}):\n{result.stdout}{result.stderr}")


@dataclass
class BenchPostgres:
    """A PostgreSQL cluster this run started (and stops), in `base`."""

    base: Path
    port: int
    fsync: bool
    settings: dict[str, str] = field(default_factory=dict)

    @property
    def datadir(self) -> Path:
        return self.base / "data"

    def url(self, dbname: str) -> str:
        return f"postgresql://{PG_USER}@127.0.0.1:{self.port}/{dbname}?sslmode=disable"

    def stop(self) -> None:
        pg_ctl = str(pg_bindir() / "pg_ctl")
        _run(
            _as_service_user([pg_ctl, "stop", "-D", str(self.datadir), "-m", "fast", "-w"]),
            "pg_ctl stop",
        )


def _running(datadir: Path) -> bool:
    pg_ctl = str(pg_bindir() / "pg_ctl")
    status = subprocess.run(  # noqa: S603 - our own fixed command line
        _as_service_user([pg_ctl, "status", "-D", str(datadir)]),
        capture_output=True,
        check=False,
        timeout=COMMAND_TIMEOUT_SECONDS,
    )
    return status.returncode == 0


def start_postgres(base: Path, *, fsync: bool) -> BenchPostgres:
    """Start a cluster in `base` (initialised there first when it has none yet)."""
    bindir = pg_bindir()
    base.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        base.chmod(0o755)
        shutil.chown(base, user=SERVICE_USER, group=SERVICE_USER)
    datadir = base / "data"
    if datadir.exists() and _running(datadir):
        # Another run (or a crashed one) still serves this cluster: it is not ours to stop.
        raise RuntimeError(
            f"a PostgreSQL server is already running on {datadir}; stop it "
            f"(pg_ctl stop -D {datadir}) or pass another --data-dir"
        )
    if not (datadir / "PG_VERSION").exists():
        shutil.rmtree(datadir, ignore_errors=True)
        _run(
            _as_service_user(
                [
                    str(bindir / "initdb"),
                    "-D",
                    str(datadir),
                    "-U",
                    PG_USER,
                    "--auth=trust",
                    "-E",
                    "UTF8",
                    "--locale=C.UTF-8",
                ]
            ),
            "initdb",
        )
    port = free_port()
    settings = {**SERVER_SETTINGS, **(DURABLE if fsync else NOT_DURABLE)}
    options = " ".join(
        [
            f"-p {port}",
            "-c listen_addresses=127.0.0.1",
            f"-c unix_socket_directories={base}",
            *(f"-c {name}={value}" for name, value in settings.items()),
        ]
    )
    command = [str(bindir / "pg_ctl"), "start", "-w", "-t", "120", "-D", str(datadir)]
    command += ["-l", str(base / "postgresql.log"), "-o", options]
    _run(_as_service_user(command), "pg_ctl start")
    return BenchPostgres(base=base, port=port, fsync=fsync, settings=settings)
