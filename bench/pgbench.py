"""`pgbench -S` (one primary-key SELECT per transaction) as the ceiling: what this server
and machine do with no Python at all, at the same concurrencies.

It runs on a database of its own (`pgbench -i`), with prepared statements (chatstore also
prepares its statements after a few runs) and one pgbench thread per core. Latency
percentiles come from pgbench's per-transaction log; throughput is its own tps figure,
connection time excluded.
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from bench.progress import log
from bench.runner import Sample
from bench.servers import BenchPostgres
from tests.servers import PG_USER, pg_bindir

DATABASE = "bench_pgbench"
TPS = re.compile(r"tps = ([0-9.]+) \(without initial connection time\)")


# pgbench -T stops by itself; this bounds the rest (connecting, -i at the full scale).
COMMAND_TIMEOUT_SECONDS = 300


def _run(command: list[str]) -> str:
    # PostgreSQL's own client binaries with arguments of our making, never from input.
    result = subprocess.run(  # noqa: S603
        command, capture_output=True, text=True, check=False, timeout=COMMAND_TIMEOUT_SECONDS
    )
    if result.returncode != 0:
        raise RuntimeError(f"{command[0]} failed:\n{result.stdout}{result.stderr}")
    return result.stdout


def run_pgbench(
    pg: BenchPostgres, concurrencies: tuple[int, ...], seconds: int, scale: int
) -> list[dict[str, Any]]:
    bindir = pg_bindir()
    server = ["-h", "127.0.0.1", "-p", str(pg.port), "-U", PG_USER]
    _run([str(bindir / "dropdb"), *server, "--if-exists", DATABASE])
    _run([str(bindir / "createdb"), *server, DATABASE])
    entries = []
    try:
        _run([str(bindir / "pgbench"), *server, "-i", "-q", "-s", str(scale), DATABASE])
        with tempfile.TemporaryDirectory(prefix="chatstore-bench-pgbench-") as folder:
            for clients in concurrencies:
                prefix = Path(folder) / f"c{clients}"
                threads = min(clients, os.cpu_count() or 1)
                output = _run(
                    [
                        str(bindir / "pgbench"),
                        *server,
                        *("-S", "-M", "prepared", "-n"),
                        *("-c", str(clients), "-j", str(threads), "-T", str(seconds)),
                        *("-l", "--log-prefix", str(prefix)),
                        DATABASE,
                    ]
                )
                sample = Sample(elapsed=float(seconds))
                for path in Path(folder).glob(f"c{clients}.*"):
                    # client_id transaction_no latency_us script_no epoch epoch_us
                    for line in path.read_text().splitlines():
                        sample.latencies.append(int(line.split()[2]) / 1e6)
                summary = sample.summary()
                found = TPS.search(output)
                if found:
                    summary["throughput"] = round(float(found.group(1)), 1)
                entries.append({"concurrency": clients, "scale": scale, **summary})
                log(
                    f"  pgbench -S x{clients}: p50 {summary['p50_ms']} ms "
                    f"{summary['throughput']:,.0f}/s"
                )
    finally:
        _run([str(bindir / "dropdb"), *server, "--if-exists", DATABASE])
    return entries
