"""Writing, linting and running dbmate migrations the way a DBA can follow.

- `new_migration` writes a file from the house template (chatstore/migration_templates/);
- `migration_url` gives dbmate a URL whose every connection has a lock timeout, which is
  how a `transaction:false` section (CREATE INDEX CONCURRENTLY) gets one: it cannot SET it;
- `lint_migrations` checks a folder with squawk and the house rules.
"""

from __future__ import annotations

import functools
import json
import re
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from importlib.resources import as_file, files
from pathlib import Path
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from chatstore.errors import AlreadyExists, ConfigurationError, ValidationError

_NAME = re.compile(r"[a-z0-9_]+")
# What PostgreSQL accepts as a duration, without spaces: the value travels inside the
# space-separated `options` startup parameter.
_DURATION = re.compile(r"\d+(us|ms|s|min|h|d)?")
_MARKER = re.compile(r"^-- migrate:(up|down)\b(.*)$", re.MULTILINE)
_PLACEHOLDER = re.compile(r"<[a-z][^<>\n]*>")
# What can hide a semicolon that does not end a statement, and the semicolons that do.
_TOKEN = re.compile(
    r"(?P<comment>--[^\n]*|/\*.*?\*/)"
    r"|(?P<text>\b[eE]'(?:\\.|''|[^'\\])*'|'(?:''|[^'])*'|\"(?:\"\"|[^\"])*\""
    r"|\$(?P<tag>(?:[A-Za-z_]\w*)?)\$.*?\$(?P=tag)\$)"
    r"|(?P<end>;)",
    re.DOTALL,
)
# Statements PostgreSQL refuses inside a transaction block: the only ones that belong in a
# `transaction:false` section, and ones a transactional section cannot hold.
_OUTSIDE_TRANSACTION = re.compile(
    r"^(create\s+(unique\s+)?index\s+concurrently|drop\s+index\s+concurrently"
    r"|reindex\b.*\bconcurrently|alter\s+table\b.*\bdetach\s+partition\b.*\bconcurrently"
    r"|vacuum)\b",
    re.IGNORECASE,
)
_CONCURRENT_BUILD = re.compile(r"^create\s+(unique\s+)?index\s+concurrently\b", re.IGNORECASE)
_IF_NOT_EXISTS = re.compile(
    r"^create\s+(unique\s+)?index\s+concurrently\s+if\s+not\s+exists\b", re.I
)
_SET_LOCAL = re.compile(r"^set\s+local\s+(lock_timeout|statement_timeout)\b", re.IGNORECASE)
# A transaction:false section cannot SET its own timeouts (a second statement would put it
# in an implicit transaction): migration_url gives them to the session instead.
_SESSION_TIMEOUT_RULES = ["require-lock-timeout", "require-statement-timeout"]
_TEMPLATES = files("chatstore") / "migration_templates"


def new_migration(
    directory: Path, name: str, *, concurrent_index: bool = False, now: datetime | None = None
) -> Path:
    """Write `directory/YYYYMMDDHHMMSS_<name>.sql` (UTC, as `dbmate new` names them) from the
    house template and return its path. `concurrent_index` picks the template for one
    CREATE INDEX CONCURRENTLY. A naive `now` is taken as UTC. Never overwrites a file."""
    if not _NAME.fullmatch(name):
        raise ValidationError("name", "use only lowercase letters, digits and underscores")
    moment = (now or datetime.now(UTC)).replace(microsecond=0)
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    version = moment.strftime("%Y%m%d%H%M%S")
    directory.mkdir(parents=True, exist_ok=True)
    # dbmate tells migrations apart by version alone, so a second file with it is a clash.
    taken = sorted(directory.glob(f"{version}_*.sql"))
    if taken:
        raise AlreadyExists("version", f"{taken[0].name} already has version {version}")
    path = directory / f"{version}_{name}.sql"
    template = _template("concurrent_index" if concurrent_index else "migration")
    try:
        with path.open("x") as file:
            file.write(template)
    except FileExistsError:
        raise AlreadyExists("name", f"{path} already exists") from None
    return path


def migration_url(url: str, *, lock_timeout: str = "5s", statement_timeout: str = "0") -> str:
    """`url` with `lock_timeout` and `statement_timeout` added as session settings of every
    connection dbmate opens, so they hold in a `transaction:false` section too (transactional
    migrations still SET LOCAL their own). statement_timeout "0" means none, and overrides a
    role's default: an index build takes as long as the table is big. These arguments win
    over the same settings already in the URL; everything else in it is kept."""
    for setting, value in (
        ("lock_timeout", lock_timeout),
        ("statement_timeout", statement_timeout),
    ):
        if not _DURATION.fullmatch(value):
            raise ValidationError(setting, "a PostgreSQL duration such as 5s, 500ms or 2min")
    # Errors name the problem, never the URL: it may hold a password.
    try:
        parts = urlsplit(url)
    except ValueError:
        raise ValidationError("url", "not a valid URL") from None
    if parts.scheme not in ("postgres", "postgresql"):
        raise ValidationError("url", "must be a postgres:// or postgresql:// URL")
    query = parse_qsl(parts.query, keep_blank_values=True)
    options = [value for key, value in query if key == "options"]
    # Plain `lock_timeout=...` parameters would override `options`, and pg_dump (dbmate's
    # schema dump) refuses unknown URL parameters, so settings go into `options` only.
    kept = [(k, v) for k, v in query if k not in ("options", "lock_timeout", "statement_timeout")]
    # Tabs, not spaces, between arguments: dbmate re-encodes the URL with spaces as `+`,
    # which pg_dump's libpq does not decode (its dump then fails, silently after `up`).
    # PostgreSQL splits `options` on any whitespace; a backslash-escaped space stays.
    arguments = [re.sub(r"(?<!\\) ", "\t", " ".join(options))] if options else []
    arguments += [f"-c\tlock_timeout={lock_timeout}", f"-c\tstatement_timeout={statement_timeout}"]
    kept.append(("options", "\t".join(arguments)))
    return urlunsplit(parts._replace(query=urlencode(kept, quote_via=quote)))


def lint_migrations(directory: Path, squawk_config: Path | None = None) -> list[str]:
    """Problems in the dbmate migrations in `directory`, each a readable line naming its
    file; an empty list when all is well. squawk lints each up section (not the down: it
    undoes the up, so it drops by design); the house rules are checked around it. Without
    `squawk_config`, the repository's .squawk.toml, or the same settings packaged."""
    squawk = _squawk_binary()
    problems: list[str] = []
    with _config(squawk_config) as config:
        excluded = tomllib.loads(config.read_text()).get("excluded_rules", [])
        for path in sorted(directory.glob("*.sql")):
            problems += _lint_file(path, squawk, config, [str(rule) for rule in excluded])
    return problems


def _lint_file(path: Path, squawk: str, config: Path, excluded: list[str]) -> list[str]:
    name = _display(path)
    text = path.read_text()
    markers = list(_MARKER.finditer(text))
    if not markers or markers[0].start() != 0 or markers[0].group(1) != "up":
        return [f"{name}: the first line must be `-- migrate:up` (or with transaction:false)"]
    if [marker.group(1) for marker in markers] not in (["up"], ["up", "down"]):
        return [f"{name}: a migration has one `-- migrate:up` section, then one migrate:down"]
    blanks = [blank for blank in _placeholders() if blank in text]
    if blanks:
        # Until the blanks are filled, squawk would only report them as syntax errors.
        return [f"{name}: fill in the template's blanks: {', '.join(blanks)}"]
    problems = []
    sections = {}
    for number, marker in enumerate(markers):
        end = markers[number + 1].start() if number + 1 < len(markers) else len(text)
        in_transaction = "transaction:false" not in marker.group(2)
        sections[marker.group(1)] = (text[marker.end() : end], in_transaction)
    if "down" not in sections or not _statements(sections["down"][0]):
        problems.append(f"{name}: the `-- migrate:down` section must undo the up section")
    for kind, (body, in_transaction) in sections.items():
        problems += [f"{name}: {p}" for p in _house_rules(kind, body, in_transaction)]
    up_text = text[: markers[1].start()] if len(markers) > 1 else text
    up_in_transaction = sections["up"][1]
    flags = ["--config", str(config)]
    if not up_in_transaction:
        concurrent = any(_CONCURRENT_BUILD.match(s) for s in _statements(sections["up"][0]))
        # squawk asks a concurrent build for IF NOT EXISTS, which _house_rules refuses.
        rules = [*excluded, *_SESSION_TIMEOUT_RULES, *(["prefer-robust-stmts"] * concurrent)]
        # --exclude replaces the config's excluded_rules rather than adding to them.
        flags += ["--no-assume-in-transaction", "--exclude", ",".join(rules)]
    return problems + _run_squawk(squawk, flags, name, up_text)


def _house_rules(kind: str, body: str, in_transaction: bool) -> list[str]:
    statements = _statements(body)
    if in_transaction:
        problems = [
            f"the migrate:{kind} section runs in a transaction, where PostgreSQL refuses "
            f"`{statement[:60]}`: give it a migration of its own with `transaction:false` "
            "(new_migration(..., concurrent_index=True))"
            for statement in statements
            if _OUTSIDE_TRANSACTION.match(statement)
        ]
        leading = set()
        for statement in statements:
            match = _SET_LOCAL.match(statement)
            if match is None:
                break
            leading.add(match.group(1).lower())
        if kind == "up" and leading != {"lock_timeout", "statement_timeout"}:
            problems.append(
                "start the migrate:up section with SET LOCAL lock_timeout = '5s'; and SET LOCAL"
                " statement_timeout = '60s'; before any other statement, so a migration that"
                " meets a busy table gives up instead of blocking every query queued behind it"
            )
        return problems
    if len(statements) != 1:
        return [
            f"a `-- migrate:{kind} transaction:false` section must hold exactly one statement "
            f"(it has {len(statements)}): dbmate sends the section as one string, and "
            "PostgreSQL runs several statements sent together as one implicit transaction, "
            "where CONCURRENTLY fails. Give each statement a migration of its own; the "
            "timeouts come from the connection (migration_url), not from SET"
        ]
    problems = []
    if not _OUTSIDE_TRANSACTION.match(statements[0]):
        problems.append(
            f"`{statements[0][:60]}` can run in a transaction: drop `transaction:false` from "
            f"migrate:{kind}, which only statements PostgreSQL refuses in a transaction need "
            "(index builds and drops CONCURRENTLY, REINDEX CONCURRENTLY, DETACH PARTITION "
            "CONCURRENTLY, VACUUM); without a transaction a failure is not rolled back"
        )
    if _IF_NOT_EXISTS.match(statements[0]):
        problems.append(
            "no IF NOT EXISTS on a concurrent index build: after a failed build it would skip "
            "the INVALID index left behind and dbmate would record the migration as done. "
            "Drop the invalid index and migrate again instead"
        )
    return problems


def _run_squawk(squawk: str, flags: list[str], name: str, sql: str) -> list[str]:
    # squawk reads the up section on stdin so that the down section is not linted; line
    # numbers still match the file, which starts with the up section.
    result = subprocess.run(  # noqa: S603 - a fixed binary and flags, no shell
        [squawk, *flags, "--reporter", "json", "--stdin-filepath", name],
        input=sql,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode == 0:
        return []
    try:
        findings = json.loads(result.stdout)
    except ValueError:
        return [f"{name}: squawk failed: {(result.stderr or result.stdout).strip()}"]
    return [
        f"{name}:{item['line'] + 1}:{item['column'] + 1}: {item['rule_name']}: {item['message']}"
        + (f" ({item['help']})" if item.get("help") else "")
        for item in findings
    ]


def _statements(sql: str) -> list[str]:
    """The statements in `sql`, comments dropped and whitespace collapsed: enough to count
    them and read their first words. A semicolon in a string, a quoted name or a dollar-quoted
    function body does not end a statement (nested /* */ comments are not understood)."""
    statements: list[str] = []
    current: list[str] = []
    position = 0
    for token in _TOKEN.finditer(sql):
        current.append(sql[position : token.start()])
        position = token.end()
        if token.group("end"):
            statements.append("".join(current))
            current = []
        else:
            current.append(" " if token.group("comment") else token.group())
    statements.append("".join(current) + sql[position:])
    return [joined for joined in (" ".join(s.split()) for s in statements) if joined]


@functools.cache
def _template(kind: str) -> str:
    return (_TEMPLATES / f"{kind}.sql.tmpl").read_text()


@functools.cache
def _placeholders() -> tuple[str, ...]:
    """The `<...>` blanks of the templates, so an unfilled copy is caught and no other text."""
    found = _PLACEHOLDER.findall(_template("migration") + _template("concurrent_index"))
    return tuple(dict.fromkeys(found))


@contextmanager
def _config(explicit: Path | None) -> Iterator[Path]:
    """The squawk config to use: the one given, the checkout's .squawk.toml, else the copy
    packaged with chatstore (as_file: a zipped install has no file to point squawk at)."""
    checkout = Path(__file__).resolve().parent.parent / ".squawk.toml"
    if explicit is not None or checkout.is_file():
        yield explicit or checkout
        return
    with as_file(_TEMPLATES / "squawk.toml") as packaged:
        yield packaged


def _squawk_binary() -> str:
    beside = Path(sys.executable).parent / "squawk"
    found = str(beside) if beside.is_file() else shutil.which("squawk")
    if found is None:
        raise ConfigurationError(
            "squawk", "not found beside Python or on PATH; pip install squawk-cli"
        )
    return found


def _display(path: Path) -> str:
    """The path as a person would type it here: relative to the working directory if inside."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)
