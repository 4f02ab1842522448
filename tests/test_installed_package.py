"""chatstore as a new user meets it: a wheel built from this checkout, installed into a fresh
virtualenv outside it, then `chatstore migrate`, `chatstore check` and a program that sends
and reads a message, against throwaway servers. Then the same for an application folder
with its own query file and migration.

Slow (a wheel build and a virtualenv install, about a minute with a warm pip cache), so
the virtualenv is built once for the module.
"""

from __future__ import annotations

import itertools
import shutil
import subprocess
import sys
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from chatstore.resources import migration_versions
from tests.servers import PROJECT, PgServer, RedisServer

APP = PROJECT / "tests" / "app_example"
_databases = itertools.count(1)
pytestmark = pytest.mark.timeout(600)


@dataclass
class Installed:
    wheel: Path
    venv: Path
    workdir: Path  # outside the checkout, so nothing imports from the source tree

    def run(
        self, *command: str, env: dict[str, str], check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        executable = str(self.venv / "bin" / command[0])
        result = subprocess.run(
            [executable, *command[1:]],
            cwd=self.workdir,
            env={"PATH": f"{self.venv / 'bin'}:/usr/bin:/bin", "HOME": str(self.workdir), **env},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"{command} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
            )
        return result


def _pip(*args: str, python: str = sys.executable, cwd: Path | None = None) -> None:
    subprocess.run(
        [python, "-m", "pip", "--disable-pip-version-check", "--quiet", *args],
        check=True,
        cwd=cwd,
        timeout=500,
    )


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    base = tmp_path_factory.mktemp("installed")
    _pip("wheel", "--no-deps", "--wheel-dir", str(base / "dist"), str(PROJECT))
    (wheel,) = (base / "dist").glob("chatstore-*.whl")
    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    _pip("install", str(wheel), python=str(venv / "bin" / "python"))
    workdir = base / "work"
    workdir.mkdir()
    return Installed(wheel=wheel, venv=venv, workdir=workdir)


def _env(pg_server: PgServer, redis_server: RedisServer, **extra: str) -> dict[str, str]:
    return {
        "DATABASE_URL": pg_server.url(f"chatstore_installed_{next(_databases)}"),
        "REDIS_URL": redis_server.url(0),
        "BCRYPT_ROUNDS": "10",
        **extra,
    }


def test_the_wheel_carries_the_sql_and_the_migrations(installed: Installed) -> None:
    names = zipfile.ZipFile(installed.wheel).namelist()
    for query_file in sorted((PROJECT / "sql").glob("*.sql")):
        assert f"chatstore/_data/sql/{query_file.name}" in names
    for migration in sorted((PROJECT / "db" / "migrations").glob("*.sql")):
        assert f"chatstore/_data/migrations/{migration.name}" in names
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert (
        "chatstore = chatstore.cli:main"
        in zipfile.ZipFile(installed.wheel).read(entry_points).decode()
    )


def test_the_sdist_carries_the_sql_and_the_migrations(tmp_path: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-c",
            f"from setuptools import build_meta; build_meta.build_sdist({str(tmp_path)!r})",
        ],
        cwd=PROJECT,
        check=True,
        capture_output=True,
        timeout=120,
    )
    (sdist,) = tmp_path.glob("chatstore-*.tar.gz")
    with tarfile.open(sdist) as archive:
        names = archive.getnames()
    for query_file in sorted((PROJECT / "sql").glob("*.sql")):
        assert any(n.endswith(f"chatstore/_data/sql/{query_file.name}") for n in names)
    for migration in sorted((PROJECT / "db" / "migrations").glob("*.sql")):
        assert any(n.endswith(f"chatstore/_data/migrations/{migration.name}") for n in names)


def test_every_verb_has_help(installed: Installed) -> None:
    verbs = ("migrate", "status", "rollback", "check", "demo", "new-migration", "lint-sql")
    for verb in (*verbs, "lint-migrations"):
        result = installed.run("chatstore", verb, "--help", env={})
        assert "usage: chatstore" in result.stdout
    assert "COMMAND" in installed.run("python", "-m", "chatstore", "--help", env={}).stdout


def test_migrate_check_send_and_read_from_the_installed_package(
    installed: Installed, pg_server: PgServer, redis_server: RedisServer
) -> None:
    env = _env(pg_server, redis_server)
    # A database nothing was applied to: check names every missing version, exits 1.
    installed.run("dbmate", "--url", env["DATABASE_URL"], "create", env={})
    before = installed.run("chatstore", "check", env=env, check=False)
    assert before.returncode == 1, before.stdout
    assert "ok    PostgreSQL answers" in before.stdout
    assert "FAIL  schema:" in before.stdout
    assert "chatstore migrate" in before.stdout
    versions = migration_versions(PROJECT / "db" / "migrations")
    assert all(version in before.stdout for version in versions)
    pending = installed.run("chatstore", "status", env=env, check=False)
    assert pending.returncode == 1

    installed.run("chatstore", "migrate", env=env)
    after = installed.run("chatstore", "check", env=env)
    assert "ok    schema: up to date" in after.stdout
    assert "ok    Redis credentials: accepted" in after.stdout
    assert installed.run("chatstore", "status", env=env).returncode == 0

    program = installed.run("python", str(APP / "smoke.py"), env=env)
    assert "read back: [(1, 'hello from a wheel')]" in program.stdout
    assert "unread for bob: 1" in program.stdout

    demo = installed.run("chatstore", "demo", env=env)
    assert "delivered live: [1] 'are you there?'" in demo.stdout


def test_an_application_folder_with_its_own_queries_and_migrations(
    installed: Installed, pg_server: PgServer, redis_server: RedisServer
) -> None:
    app = installed.workdir / "app"
    shutil.copytree(APP, app, dirs_exist_ok=True)
    env = _env(pg_server, redis_server, CHATSTORE_SQL_PATH=str(app / "sql"))
    installed.run("chatstore", "migrate", env=env)
    own = ("--dir", str(app / "db" / "migrations"), "--table", "app_migrations")
    installed.run("chatstore", "migrate", *own, env=env)
    assert installed.run("chatstore", "status", *own, env=env).returncode == 0
    # chatstore's own table does not see the application's versions, and the reverse.
    assert "ok    schema: up to date" in installed.run("chatstore", "check", env=env).stdout
    assert installed.run("chatstore", "lint-sql", str(app / "sql"), env=env).returncode == 0

    program = installed.run("python", str(app / "smoke.py"), env=env)
    assert "app query: [(True, 'launch plans')]" in program.stdout
    assert "sent seq 1" in program.stdout

    installed.run("chatstore", "rollback", *own, env=env)
    assert installed.run("chatstore", "status", *own, env=env, check=False).returncode == 1


def test_configuration_errors_exit_2_and_say_what_is_missing(installed: Installed) -> None:
    result = installed.run("chatstore", "check", env={}, check=False)
    assert result.returncode == 2
    assert "DATABASE_URL: must be set" in result.stderr
    result = installed.run("chatstore", "migrate", env={"DATABASE_URL": ""}, check=False)
    assert result.returncode == 2


def test_env_file_in_the_current_folder_is_read(
    installed: Installed, pg_server: PgServer, redis_server: RedisServer
) -> None:
    env = _env(pg_server, redis_server)
    (installed.workdir / ".env").write_text(
        "".join(f'{name}="{value}"\n' for name, value in env.items())
    )
    try:
        installed.run("chatstore", "migrate", env={})
        assert "ok    schema: up to date" in installed.run("chatstore", "check", env={}).stdout
    finally:
        (installed.workdir / ".env").unlink()
