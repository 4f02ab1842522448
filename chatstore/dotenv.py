"""Reading a development `.env` file the way dbmate does, for the `chatstore` command only.

The library never reads files for its settings; the command does, so `chatstore migrate`
and `chatstore check` see what dbmate and `just` see. Variables already set in the
environment win over the file, as with dbmate.
"""

from __future__ import annotations

import os
import re
from collections.abc import MutableMapping
from pathlib import Path

_LINE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$")


def _value(raw: str) -> str:
    if len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "'\"":
        inner = raw[1:-1]
        return inner.replace("\\n", "\n").replace('\\"', '"') if raw[0] == '"' else inner
    # An unquoted value ends where a comment starts (" #"), as in dbmate's reader.
    return raw.split(" #", 1)[0].rstrip()


def parse(text: str) -> dict[str, str]:
    values: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = _LINE.match(line)
        if match:
            values[match.group(1)] = _value(match.group(2))
    return values


def load(path: Path, environ: MutableMapping[str, str] | None = None) -> bool:
    """Add the file's variables to the environment, keeping those already set.
    Returns whether the file existed."""
    target = os.environ if environ is None else environ
    if not path.is_file():
        return False
    for name, value in parse(path.read_text()).items():
        target.setdefault(name, value)
    return True
