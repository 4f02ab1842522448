"""`python -m bench [--quick] [--out bench/results]`: chatstore's benchmark (issue 9).

Starts its own PostgreSQL and Redis (loopback only), builds or reuses the dataset, measures
every workload for chatstore and its peers (raw psycopg on the same SQL, SQLAlchemy's async
ORM, pgbench -S as the ceiling), writes bench/results/<date>.json and prints a markdown
table. See bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import logging
import shutil
import sys
import tempfile
import time
from contextlib import AsyncExitStack
from dataclasses import asdict
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from bench import plots, report
from bench.fixtures import Fixtures, load_fixtures
from bench.load import drop_run_database, ensure_dataset, fresh_run_database, migration_versions
from bench.modes import FULL_MODE, QUICK_MODE, Mode
from bench.peers import ChatstorePeer, RawPeer
from bench.pgbench import run_pgbench
from bench.progress import log
from bench.sections import SectionContext, section_modules
from bench.servers import start_postgres
from bench.suite import measure
from bench.workloads import Peer, build
from chatstore import ChatStore, Settings
from tests.servers import start_redis

BENCH = Path(__file__).resolve().parent
PARTS = ("workloads", "pgbench", "realtime", "load", "hot_room", "round_trips", "threads")
INSTALL_HINT = "pip install -e '.[bench]'"


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small dataset, short runs (CI)")
    parser.add_argument("--out", type=Path, default=BENCH / "results", help="results folder")
    parser.add_argument(
        "--data-dir",
        type=Path,
        help="PostgreSQL cluster folder, kept and reused (default: bench/.data/full-<key> for "
        "the full run, a temporary folder for --quick)",
    )
    parser.add_argument(
        "--only",
        action="append",
        choices=PARTS,
        help="measure only this part (repeatable): the per-operation workloads, pgbench, or "
        "a section; the results file is then named <date>-only-<parts>.json",
    )
    return parser.parse_args(argv)


def settings_for(url: str, redis_url: str, mode: Mode) -> Settings:
    """chatstore's defaults, except the bcrypt cost, which matches the dataset's hashes (a
    lower stored cost would make every login re-hash)."""
    return Settings(database_url=url, redis_url=redis_url, bcrypt_rounds=mode.spec.bcrypt_rounds)


async def measure_all(
    url: str, redis_url: str, mode: Mode, with_sqlalchemy: bool, parts: frozenset[str]
) -> tuple[list[dict[str, Any]], dict[str, Any], Fixtures]:
    settings = settings_for(url, redis_url, mode)
    fixtures = await load_fixtures(url, mode.spec.probe_rooms)
    async with AsyncExitStack() as stack:
        store = await stack.enter_async_context(ChatStore.open(settings))
        raw = await stack.enter_async_context(RawPeer.open(settings, store.db.queries))
        peers: list[Peer] = [ChatstorePeer(store), raw]
        if with_sqlalchemy:
            from bench.orm import SqlAlchemyPeer  # only with the bench extra installed

            peers.append(await stack.enter_async_context(SqlAlchemyPeer.open(settings)))
        entries = []
        if "workloads" in parts:
            workloads = build(peers, fixtures, mode.depths, mode.spec.probe_rooms)
            entries = await measure(workloads, mode.plan)
        ctx = SectionContext(store, settings, raw, redis_url, fixtures, mode)
        sections = {}
        for name, module in section_modules().items():
            if name not in parts:
                continue
            log(f"section: {name}")
            sections[name] = await module.measure(ctx)
        return entries, sections, fixtures


def _cluster_dir(args: argparse.Namespace, mode: Mode) -> tuple[Path, bool]:
    """Where the cluster lives, and whether it is kept for the next run."""
    if args.data_dir:
        return args.data_dir.resolve(), True
    if not mode.keep_dataset:
        return Path(tempfile.mkdtemp(prefix="chatstore-bench-")), False
    key = mode.spec.key(migration_versions())
    return BENCH / ".data" / f"{mode.name}-{key}", True


def _peer_notes(with_sqlalchemy: bool) -> dict[str, str]:
    notes = {
        "chatstore": f"chatstore {metadata.version('chatstore')}, default Settings",
        "raw": "psycopg AsyncConnectionPool, chatstore's SQL and connection settings, no check",
        "pgbench": "pgbench -S -M prepared, one thread per core, its own database",
    }
    if with_sqlalchemy:
        notes["sqlalchemy"] = (
            f"SQLAlchemy {metadata.version('sqlalchemy')} async ORM, postgresql+psycopg, "
            "a session per operation"
        )
    else:
        notes["sqlalchemy"] = f"skipped: SQLAlchemy is not installed ({INSTALL_HINT})"
    return notes


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    mode = QUICK_MODE if args.quick else FULL_MODE
    parts = frozenset(args.only or PARTS)
    with_sqlalchemy = importlib.util.find_spec("sqlalchemy") is not None
    if not with_sqlalchemy and not args.quick:
        log(f"the full benchmark compares with SQLAlchemy: {INSTALL_HINT}")
        return 2
    logging.basicConfig(level=logging.WARNING, format="  %(name)s %(levelname)s: %(message)s")
    started_at = datetime.now(UTC)
    started = time.monotonic()
    base, keep = _cluster_dir(args, mode)
    log(f"{mode.note}; PostgreSQL cluster in {base}")
    pg = start_postgres(base, fsync=mode.fsync)
    try:
        redis = start_redis()
        try:
            dataset = ensure_dataset(pg, mode.spec)
            url = fresh_run_database(pg)
            entries, sections, fixtures = asyncio.run(
                measure_all(url, redis.url(0), mode, with_sqlalchemy, parts)
            )
            drop_run_database(pg)
            ceiling = None
            if "pgbench" in parts:
                ceiling = run_pgbench(
                    pg, mode.plan.concurrencies, mode.pgbench_seconds, mode.pgbench_scale
                )
        finally:
            redis.close()
    finally:
        pg.stop()
        if not keep:
            shutil.rmtree(base, ignore_errors=True)
    results = {
        "mode": mode.name,
        "note": mode.note,
        "started_at": started_at.isoformat(),
        "duration_seconds": round(time.monotonic() - started, 1),
        "machine": report.machine(),
        "postgres": {
            **fixtures.server,
            "started_with": pg.settings,
            "cluster": str(base),
            "cluster_kept": keep,
        },
        "dataset": asdict(dataset),
        "plan": {**asdict(mode.plan), "history_depths": list(mode.depths)},
        "peers": _peer_notes(with_sqlalchemy),
        "workloads": entries,
        "pgbench": ceiling,
        **sections,
    }
    only = None if args.only is None else "-".join(part for part in PARTS if part in parts)
    path = report.write(results, args.out, quick=args.quick, only=only)
    fsync = fixtures.server["fsync"]
    print(f"\n{mode.note}\nPostgreSQL {fixtures.server['server_version']}, fsync {fsync}; ", end="")
    print(f"dataset {'reused' if dataset.reused else 'built'}; results in {path}")
    for peer, note in _peer_notes(with_sqlalchemy).items():
        print(f"- {peer}: {note}")
    print()
    if entries:
        print(report.table(results))
    ran = {name: module for name, module in section_modules().items() if name in sections}
    for name, module in ran.items():
        print(f"\n{name}:\n{module.table(results[name])}")
    if plots.available():
        pictures = plots.draw(results, path) if entries else []
        for name, module in ran.items():
            pictures += module.draw(results[name], path.with_name(f"{path.stem}-{name}"))
        for picture in pictures:
            print(f"plot: {picture}")
    elif not args.quick:
        print(f"plots skipped: matplotlib is not installed ({INSTALL_HINT})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
