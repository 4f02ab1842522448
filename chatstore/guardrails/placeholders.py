"""psycopg's placeholders, as aiosql's `apsycopg` adapter writes them (`%(name)s`)."""

from __future__ import annotations

import re

# psycopg's placeholder grammar: `%%` is a literal `%`, `%(name)s` (or b, t) a parameter.
_PLACEHOLDER = re.compile(r"%(?:\((?P<name>[^)]+)\))?(?P<kind>.)", re.DOTALL)


def numbered(statement: str) -> tuple[str, list[str]]:
    """`statement` with psycopg's `%(name)s` placeholders turned into `$1, $2, ...` as psycopg
    sends them (one number per name, in order of first use), and the names in that order.

    Raises ValueError for a `%` psycopg would refuse too (a literal `%` is written `%%`).
    """
    names: list[str] = []

    def replace(match: re.Match[str]) -> str:
        name, kind = match.group("name"), match.group("kind")
        if name is None and kind == "%":
            return "%"
        if name is None or kind not in "sbt":
            raise ValueError(
                f"{match.group(0)!r} is not a placeholder psycopg accepts; write a literal % as %%"
            )
        if name not in names:
            names.append(name)
        return f"${names.index(name) + 1}"

    return _PLACEHOLDER.sub(replace, statement), names
