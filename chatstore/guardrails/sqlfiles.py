"""Reading folders of aiosql `.sql` files: each query with its file, line and annotations.

What aiosql itself does not keep (the line of each `-- name:`, the comment under it, the
`-- may scan <table>: <why>` annotations) is read from the raw text here, so every message
can point a DBA at `file:line`. Problems found while reading are returned as text, never
raised: one broken file must not hide the others.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiosql
from aiosql.types import SQLOperationType

# aiosql's own pattern for a query's first line (it is case-sensitive, and `--name:` counts).
NAME_LINE = re.compile(r"^\s*--\s*name\s*:\s*(?P<spec>.*)$")
NAME_LIKE = re.compile(r"^\s*--\s*name\s*:", re.IGNORECASE)
SPEC_NAME = re.compile(r"^(?P<name>[\w-]+)")
COMMENT = re.compile(r"^\s*--(?P<text>.*)$")
# Anything that looks like a scan annotation; WELL_FORMED is the one accepted spelling.
SCAN_LIKE = re.compile(r"^\s*--\s*may[\s_-]*scans?\b", re.IGNORECASE)
WELL_FORMED = re.compile(r"^\s*--\s*may scan\s+(?P<tables>[^:]*?)\s*:(?P<why>.*)$")
TABLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]*$")
MIN_REASON_WORDS = 3
MIN_SUMMARY_WORDS = 2

# The operations whose result rows aiosql hands to the caller.
ROW_OPERATIONS = frozenset(
    {
        SQLOperationType.SELECT,
        SQLOperationType.SELECT_ONE,
        SQLOperationType.SELECT_VALUE,
        SQLOperationType.INSERT_RETURNING,
    }
)


@dataclass(frozen=True)
class Header:
    """What the raw text says about one query: its `-- name:` line and comment block."""

    name: str
    line: int
    may_scan: Mapping[str, str]


@dataclass(frozen=True)
class SqlQuery:
    """One loaded query. `sql` is as aiosql hands it to psycopg (`%(name)s` placeholders)."""

    file: Path
    label: str
    name: str
    line: int
    operation: SQLOperationType
    sql: str
    parameters: tuple[str, ...]
    may_scan: Mapping[str, str] = field(default_factory=dict)

    @property
    def key(self) -> str:
        """`file.query`, the way code reaches it: `queries.messages.page_before`."""
        return f"{self.file.stem}.{self.name}"

    @property
    def where(self) -> str:
        return f"{self.label}:{self.line}"

    @property
    def returns_rows(self) -> bool:
        return self.operation in ROW_OPERATIONS

    @property
    def is_script(self) -> bool:
        return self.operation is SQLOperationType.SCRIPT


@dataclass
class SqlFile:
    """One file: its headers, what is wrong with its text, and the queries aiosql loaded
    (none when `load_error` says why aiosql could not load it)."""

    path: Path
    label: str
    headers: list[Header] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    queries: list[SqlQuery] = field(default_factory=list)
    load_error: str | None = None


def label_of(path: Path) -> str:
    """`sql/messages.sql`: the folder and file name, short enough for a message."""
    return f"{path.parent.name}/{path.name}"


def sql_paths(dirs: Sequence[Path]) -> tuple[list[Path], list[str]]:
    """The `.sql` files of each folder (not recursive), and problems with the folders."""
    paths: list[Path] = []
    problems: list[str] = []
    seen: dict[str, Path] = {}
    for folder in dirs:
        if not Path(folder).is_dir():
            problems.append(f"{folder}: not a folder of .sql files")
            continue
        for path in sorted(Path(folder).glob("*.sql")):
            earlier = seen.get(path.stem)
            if earlier is not None:
                problems.append(
                    f"{path} and {earlier}: two query files named {path.name}; queries are "
                    f"reached as <file>.<query>, so file names must differ across the folders"
                )
                continue
            seen[path.stem] = path
            paths.append(path)
    return paths, problems


def _comment_block(lines: list[str], start: int) -> Iterator[tuple[int, str]]:
    """The comment lines right under a `-- name:` line (0-based index, text)."""
    index = start + 1
    while index < len(lines) and COMMENT.match(lines[index]) and not NAME_LIKE.match(lines[index]):
        yield index, lines[index]
        index += 1


def _annotation(
    label: str, number: int, query: str, line: str, following: str, into: dict[str, str]
) -> list[str]:
    """Read one `-- may scan <table>[, <table>]: <why>` line into `into`; its problems.

    The reason follows the colon, or (when nothing does) fills the next comment line.
    """
    spot = f"{label}:{number}: query {query}"
    match = WELL_FORMED.match(line)
    if match is None:
        got = line.strip()
        return [f"{spot}: write the annotation as `-- may scan <table>: <why>` (got `{got}`)"]
    tables = [name.strip() for name in match.group("tables").split(",")]
    why = match.group("why").strip()
    if not why and not SCAN_LIKE.match(following):
        why = following.strip().removeprefix("--").strip()
    problems = [
        f"{spot}: {name!r} in `{line.strip()}` is not a table name"
        for name in tables
        if not TABLE_NAME.match(name)
    ]
    if len(why.split()) < MIN_REASON_WORDS:
        example = tables[0] or "<table>"
        problems.append(
            f"{spot}: `{line.strip()}` gives no reason; say in a few words why reading the "
            f"whole table is right, e.g. `-- may scan {example}: counts every row for the report`"
        )
    for name in tables:
        if name.lower() in into:
            problems.append(f"{spot}: says `may scan {name}` twice")
        into[name.lower()] = why
    return problems


def read_headers(path: Path, label: str) -> tuple[list[Header], list[str]]:
    """Each query's header in the raw text, and what is wrong with them."""
    lines = path.read_text(encoding="utf-8").splitlines()
    headers: list[Header] = []
    problems: list[str] = []
    in_blocks: set[int] = set()
    first_line: dict[str, int] = {}
    for index, line in enumerate(lines):
        number = index + 1
        match = NAME_LINE.match(line)
        if match is None:
            if NAME_LIKE.match(line):
                problems.append(f"{label}:{number}: aiosql only reads `-- name:` in lower case")
            continue
        spec = SPEC_NAME.match(match.group("spec").strip())
        name = spec.group("name").replace("-", "_") if spec else match.group("spec").strip()
        if name in first_line:
            problems.append(
                f"{label}:{number}: query {name} is defined again (first at line "
                f"{first_line[name]}); names must be unique within a file"
            )
        first_line.setdefault(name, number)
        block = list(_comment_block(lines, index))
        in_blocks.update(position for position, _ in block)
        first = block[0][1] if block else ""
        summary = first.strip().removeprefix("--").strip()
        if (
            len(summary.split()) < MIN_SUMMARY_WORDS
            or SCAN_LIKE.match(first)
            or summary.startswith("record_class")
        ):
            problems.append(
                f"{label}:{number}: query {name} needs a one-line comment right under its "
                f"`-- name:` line saying what it returns, e.g. `-- The user with this id, or "
                f"nothing.`"
            )
        may_scan: dict[str, str] = {}
        for offset, (position, text) in enumerate(block):
            if SCAN_LIKE.match(text):
                following = block[offset + 1][1] if offset + 1 < len(block) else ""
                problems += _annotation(label, position + 1, name, text, following, may_scan)
        headers.append(Header(name=name, line=number, may_scan=may_scan))
    for index, line in enumerate(lines):
        if SCAN_LIKE.match(line) and index not in in_blocks:
            problems.append(
                f"{label}:{index + 1}: `{line.strip()}` applies to no query; put it in the "
                f"comment block right under the `-- name:` line of the query it allows"
            )
    if not headers:
        problems.append(f"{label}: holds no `-- name:` query")
    return headers, problems


def _parameters(function: Any) -> tuple[str, ...]:
    """The parameter names the statement uses, in aiosql's order."""
    return tuple(name for name in inspect.signature(function).parameters if name != "self")


def read_file(path: Path) -> SqlFile:
    """Parse one file with aiosql (the `apsycopg` adapter, as chatstore loads it)."""
    label = label_of(path)
    loaded = SqlFile(path=path, label=label)
    try:
        loaded.headers, loaded.problems = read_headers(path, label)
    except (OSError, UnicodeDecodeError) as exc:
        loaded.load_error = f"{label}: cannot read it: {exc}"
        return loaded
    try:
        queries: Any = aiosql.from_path(path, "apsycopg")
    except Exception as exc:  # aiosql raises several kinds; each one is a problem to report
        loaded.load_error = f"{label}: aiosql cannot load this file: {exc}"
        return loaded
    by_name = {header.name: header for header in loaded.headers}
    available = set(queries.available_queries)
    for name in sorted(available):
        function = getattr(queries, name)
        # aiosql adds a `<name>_cursor` helper for plain selects: the same statement.
        if name.endswith("_cursor") and name.removesuffix("_cursor") in available:
            continue
        header = by_name.get(name)
        loaded.queries.append(
            SqlQuery(
                file=path,
                label=label,
                name=name,
                line=header.line if header else function.__code__.co_firstlineno,
                operation=function.operation,
                sql=function.sql,
                parameters=_parameters(function),
                may_scan=dict(header.may_scan) if header else {},
            )
        )
    loaded.queries.sort(key=lambda query: query.line)
    return loaded


def read_folders(dirs: Sequence[Path]) -> tuple[list[SqlFile], list[str]]:
    """Every file of the folders, and the problems with the folders themselves."""
    paths, problems = sql_paths(dirs)
    return [read_file(path) for path in paths], problems


def load_queries(dirs: Sequence[Path]) -> tuple[list[SqlQuery], list[str]]:
    """Every query aiosql loads from the folders, and why any file could not be loaded.

    Only the problems that keep queries from loading are returned; static_problems() reports
    the rest (comments, annotations).
    """
    files, problems = read_folders(dirs)
    problems += [loaded.load_error for loaded in files if loaded.load_error is not None]
    return [query for loaded in files for query in loaded.queries], problems
