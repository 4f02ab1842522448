"""Start and stop the development PostgreSQL and Redis servers (`just db-up` / `just db-down`).

With a Docker engine, `docker compose` runs compose.yaml. Without one, the servers run from the
installed PostgreSQL and Redis binaries under `.data/`, on the ports from the environment
(55432 and 56379 by default, so they never clash with servers on the standard ports), with the
same passwords and persistence as the compose services.

PostgreSQL refuses to run as root; when this runs as root the server runs as the `postgres`
system user (present wherever Debian's server package is installed).
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / ".data"
PG_DATA = DATA / "postgres"
PG_LOG = DATA / "postgres.log"
REDIS_DIR = DATA / "redis"
REDIS_PID = REDIS_DIR / "redis.pid"
SERVICE_USER = "postgres"


class DevServerError(Exception):
    """A development server could not be started or stopped; the message says why."""


def env(name: str, default: str) -> str:
    return os.environ.get(name) or default


def docker_engine_available() -> bool:
    if shutil.which("docker") is None:
        return False
    try:
        probe = subprocess.run(
            ["docker", "info", "--format", "{{.ServerVersion}}"],
            capture_output=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return probe.returncode == 0


def find_pg_bindir() -> Path:
    """The newest installed PostgreSQL server binaries, or PG_BINDIR when set."""
    explicit = os.environ.get("PG_BINDIR")
    candidates = [Path(explicit)] if explicit else []
    candidates += sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
        reverse=True,
    )
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(Path(on_path).resolve().parent)
    for candidate in candidates:
        if (candidate / "initdb").exists() and (candidate / "pg_ctl").exists():
            return candidate
    raise DevServerError(
        "no PostgreSQL server binaries found (looked in PG_BINDIR, /usr/lib/postgresql/*/bin "
        "and PATH); install them with: apt-get install postgresql"
    )


def as_service_user(command: list[str]) -> list[str]:
    """Prefix a command so it runs unprivileged when we are root."""
    if os.geteuid() != 0:
        return command
    return ["runuser", "-u", SERVICE_USER, "--", *command]


def give_to_service_user(path: Path) -> None:
    if os.geteuid() == 0:
        shutil.chown(path, user=SERVICE_USER, group=SERVICE_USER)


def port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def wait_for_port(port: int, what: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if port_in_use(port):
            return
        time.sleep(0.1)
    raise DevServerError(f"{what} did not start listening on 127.0.0.1:{port} in {seconds}s")


def check_reachable_by_service_user(path: Path) -> None:
    """PostgreSQL (as `postgres`) must be able to walk down to .data/."""
    if os.geteuid() != 0:
        return
    probe = subprocess.run(
        as_service_user(["test", "-x", str(path)]), capture_output=True, check=False
    )
    if probe.returncode != 0:
        raise DevServerError(
            f"the '{SERVICE_USER}' user cannot reach {path}; clone the project somewhere every "
            "user can read (for example under /work or /tmp), or run as an unprivileged user"
        )


def pg_running(bindir: Path) -> bool:
    if not (PG_DATA / "PG_VERSION").exists():
        return False
    status = subprocess.run(
        as_service_user([str(bindir / "pg_ctl"), "status", "-D", str(PG_DATA)]),
        capture_output=True,
        check=False,
    )
    return status.returncode == 0


def pg_up() -> None:
    bindir = find_pg_bindir()
    port = int(env("POSTGRES_PORT", "55432"))
    user = env("POSTGRES_USER", "chatstore")
    password = env("POSTGRES_PASSWORD", "chatstore")
    DATA.mkdir(exist_ok=True)
    check_reachable_by_service_user(DATA)
    if pg_running(bindir):
        print(f"postgres: already running on 127.0.0.1:{port} ({PG_DATA})")
        return
    if port_in_use(port):
        raise DevServerError(
            f"port {port} is taken by another program; set POSTGRES_PORT (and DATABASE_URL) "
            "in .env to a free port"
        )
    if not (PG_DATA / "PG_VERSION").exists():
        PG_DATA.mkdir(mode=0o700, exist_ok=True)
        give_to_service_user(PG_DATA)
        # initdb reads the superuser password from a file so it never shows in `ps`.
        with tempfile.NamedTemporaryFile("w", dir=DATA, delete=False) as pwfile:
            pwfile.write(password + "\n")
        pwpath = Path(pwfile.name)
        give_to_service_user(pwpath)
        try:
            subprocess.run(
                as_service_user(
                    [
                        str(bindir / "initdb"),
                        "--pgdata",
                        str(PG_DATA),
                        "--username",
                        user,
                        "--pwfile",
                        str(pwpath),
                        "--auth",
                        "scram-sha-256",
                        "--encoding",
                        "UTF8",
                        "--locale",
                        "C.UTF-8",
                    ]
                ),
                check=True,
                capture_output=True,
            )
        except subprocess.CalledProcessError as exc:
            raise DevServerError(f"initdb failed:\n{exc.stderr.decode(errors='replace')}") from exc
        finally:
            pwpath.unlink(missing_ok=True)
    PG_LOG.touch()
    give_to_service_user(PG_LOG)
    options = f"-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories='{PG_DATA}'"
    started = subprocess.run(
        as_service_user(
            [
                str(bindir / "pg_ctl"),
                "start",
                "-w",
                "-D",
                str(PG_DATA),
                "-l",
                str(PG_LOG),
                "-o",
                options,
            ]
        ),
        capture_output=True,
        check=False,
    )
    if started.returncode != 0:
        raise DevServerError(f"postgres did not start; see {PG_LOG}")
    print(f"postgres: running on 127.0.0.1:{port} (data in {PG_DATA}, log {PG_LOG})")


def pg_down() -> None:
    if not (PG_DATA / "PG_VERSION").exists():
        return
    bindir = find_pg_bindir()
    if not pg_running(bindir):
        print("postgres: not running")
        return
    subprocess.run(
        as_service_user([str(bindir / "pg_ctl"), "stop", "-w", "-m", "fast", "-D", str(PG_DATA)]),
        check=True,
        capture_output=True,
    )
    print("postgres: stopped")


def redis_pid() -> int | None:
    """The pid of the Redis server this script started, if it still runs."""
    try:
        pid = int(REDIS_PID.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    cmdline = Path(f"/proc/{pid}/cmdline")
    if cmdline.exists() and b"redis-server" not in cmdline.read_bytes():
        return None  # a stale pid file whose number now belongs to someone else
    return pid


def redis_up() -> None:
    server = shutil.which("redis-server")
    if server is None:
        raise DevServerError(
            "redis-server not found; install it with: apt-get install redis-server"
        )
    port = int(env("REDIS_PORT", "56379"))
    password = env("REDIS_PASSWORD", "chatstore")
    REDIS_DIR.mkdir(parents=True, exist_ok=True)
    if redis_pid() is not None:
        print(f"redis: already running on 127.0.0.1:{port} ({REDIS_DIR})")
        return
    if port_in_use(port):
        raise DevServerError(
            f"port {port} is taken by another program; set REDIS_PORT (and REDIS_URL) "
            "in .env to a free port"
        )
    # The password goes in through a config file read from stdin, so it never shows in `ps`.
    config = "\n".join(
        [
            "bind 127.0.0.1",
            f"port {port}",
            f'requirepass "{password}"',
            "appendonly yes",
            "appendfsync everysec",
            f'dir "{REDIS_DIR}"',
            "daemonize yes",
            f'pidfile "{REDIS_PID}"',
            f'logfile "{REDIS_DIR / "redis.log"}"',
            "",
        ]
    )
    subprocess.run([server, "-"], input=config.encode(), check=True)
    wait_for_port(port, "redis")
    print(f"redis: running on 127.0.0.1:{port} (append-only file in {REDIS_DIR})")


def redis_down() -> None:
    pid = redis_pid()
    if pid is None:
        if REDIS_DIR.exists():
            print("redis: not running")
        return
    os.kill(pid, signal.SIGTERM)  # SIGTERM makes Redis flush its append-only file and exit
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            print("redis: stopped")
            return
        time.sleep(0.1)
    raise DevServerError(f"redis (pid {pid}) did not stop within 30s")


def compose(*args: str) -> None:
    subprocess.run(["docker", "compose", *args], cwd=ROOT, check=True)


def up() -> None:
    if docker_engine_available() and not os.environ.get("CHATSTORE_LOCAL_SERVERS"):
        compose("up", "-d", "--wait")
        return
    pg_up()
    redis_up()


def down() -> None:
    local = (PG_DATA / "PG_VERSION").exists() or REDIS_DIR.exists()
    if local:
        pg_down()
        redis_down()
    elif docker_engine_available():
        compose("down")
    else:
        print("nothing to stop")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("action", choices=["up", "down"])
    args = parser.parse_args()
    try:
        if args.action == "up":
            up()
        else:
            down()
    except DevServerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except subprocess.CalledProcessError as exc:
        print(f"error: {' '.join(map(str, exc.cmd))} exited with {exc.returncode}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
