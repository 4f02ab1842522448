"""Lint the migrate:up section of every dbmate migration with squawk.

A migration's down section exists to undo its up (dropping what it created), so linting the
whole file would flag every down; the up section is what runs against production tables.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MIGRATIONS = ROOT / "db" / "migrations"


def up_section(text: str) -> str:
    return text.split("-- migrate:down", 1)[0]


def main() -> int:
    squawk = Path(sys.executable).parent / "squawk"
    binary = str(squawk) if squawk.exists() else shutil.which("squawk")
    if binary is None:
        print("squawk not found; pip install -e '.[dev]'", file=sys.stderr)
        return 1
    failed = False
    paths = sorted(MIGRATIONS.glob("*.sql"))
    for path in paths:
        result = subprocess.run(
            [
                binary,
                "--config",
                str(ROOT / ".squawk.toml"),
                "--stdin-filepath",
                str(path.relative_to(ROOT)),
            ],
            input=up_section(path.read_text()),
            text=True,
            capture_output=True,
            check=False,
        )
        if result.returncode != 0:
            failed = True
            print(result.stdout, result.stderr, sep="")
    print(f"squawk: {len(paths)} migrations, {'problems found' if failed else 'no problems'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
