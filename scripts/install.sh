#!/usr/bin/env bash
# Install what chatstore needs on a Debian machine: PostgreSQL and Redis server binaries
# (the tests and `just db-up` start their own servers from them), a virtualenv in .venv with
# the project and its dev extras (pytest, dbmate, just, ruff, mypy, sqlfluff, squawk).
# Safe to run again: it installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

sudo_if_needed() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

missing=()
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || missing+=(postgresql)
command -v psql >/dev/null || missing+=(postgresql-client)
command -v pg_dump >/dev/null || missing+=(postgresql-client)
command -v redis-server >/dev/null || missing+=(redis-server)
command -v runuser >/dev/null || missing+=(util-linux)
python3 -c 'import ensurepip, venv' 2>/dev/null || missing+=(python3-venv)

if [ "${#missing[@]}" -gt 0 ]; then
    echo "installing Debian packages: ${missing[*]}"
    if [ ! -e /etc/postgresql-common/createcluster.conf ]; then
        # Only the binaries are wanted: don't let the package create and start a cluster of
        # its own on port 5432.
        sudo_if_needed mkdir -p /etc/postgresql-common
        echo "create_main_cluster = false" | sudo_if_needed tee /etc/postgresql-common/createcluster.conf >/dev/null
    fi
    sudo_if_needed apt-get update -q
    sudo_if_needed env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

python3 - <<'PY'
import sys
if sys.version_info < (3, 11):
    sys.exit(f"chatstore needs Python 3.11 or newer, found {sys.version.split()[0]}")
PY

[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[dev]'
[ -f .env ] || cp .env.example .env
echo "installed: .venv ready ($(.venv/bin/python --version)), .env present"
