#!/usr/bin/env bash
# One command from a fresh clone to a running demo: install, start the servers, migrate,
# seed, run the demo.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
.venv/bin/just dev
