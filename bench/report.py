"""The results: the JSON file (every figure, and the machine it ran on) and the markdown table.

The file is written beside its final name first (`*.tmp`, ignored by git) and renamed, so
an interrupted run never leaves half a results file.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from tests.servers import PROJECT


def machine() -> dict[str, Any]:
    """What the figures depend on besides the code."""
    return {
        "cpu_count": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "memory_gib": _memory_gib(),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "psycopg": metadata.version("psycopg"),
        "chatstore_commit": _commit(),
    }


def _cpu_model() -> str | None:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def _memory_gib() -> float | None:
    try:
        pages, size = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError):
        return None
    return round(pages * size / 2**30, 1)


def _commit() -> str | None:
    try:
        result = subprocess.run(  # noqa: S603 - a fixed git command line
            ["git", "-C", str(PROJECT), "rev-parse", "HEAD"],  # noqa: S607 - git from PATH
            capture_output=True,
            text=True,
            check=False,
            timeout=30,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return result.stdout.strip() or None


def write(results: dict[str, Any], out: Path, *, quick: bool, only: str | None = None) -> Path:
    """bench/results/<date>.json (<date>-quick.json for the quick mode, <date>-only-<parts>
    for a run of some parts), never overwriting."""
    out.mkdir(parents=True, exist_ok=True)
    stem = datetime.now(UTC).strftime("%Y-%m-%d") + ("-quick" if quick else "")
    stem += f"-only-{only}" if only else ""
    path = out / f"{stem}.json"
    number = 2
    while path.exists():
        path = out / f"{stem}-{number}.json"
        number += 1
    partial = path.with_name(path.name + ".tmp")
    partial.write_text(json.dumps(results, indent=2, default=str) + "\n")
    partial.replace(path)
    return path


def _cell(result: dict[str, Any] | None) -> tuple[str, str]:
    if not result or not result["count"]:
        return "-", "-"
    return f"{result['p50_ms']:.2f} / {result['p99_ms']:.2f}", f"{result['throughput']:,.0f}"


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def table(results: dict[str, Any]) -> str:
    """One row per operation and concurrency: p50 / p99 in ms and calls per second for each
    peer, then chatstore's ratios (p50: above 1 is slower; throughput: below 1 is fewer)."""
    lines = [
        "| operation | tasks | chatstore p50 / p99 ms | ops/s | raw p50 / p99 ms | ops/s "
        "| SQLAlchemy p50 / p99 ms | ops/s | p50 vs raw | ops/s vs raw | p50 vs SQLAlchemy |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for entry in results["workloads"]:
        peers = entry["results"]
        cells = [c for name in ("chatstore", "raw", "sqlalchemy") for c in _cell(peers.get(name))]
        ratios = entry["ratios"]
        lines.append(
            f"| {entry['label']} | {entry['concurrency']} | "
            + " | ".join(cells)
            + f" | {_ratio(ratios['p50_vs_raw'])} | {_ratio(ratios['throughput_vs_raw'])}"
            + f" | {_ratio(ratios['p50_vs_sqlalchemy'])} |"
        )
    for entry in results.get("pgbench") or []:
        p50_p99 = f"{entry['p50_ms']:.2f} / {entry['p99_ms']:.2f}"
        lines.append(
            f"| pgbench -S (ceiling) | {entry['concurrency']} | - | - | {p50_p99} "
            f"| {entry['throughput']:,.0f} | - | - | - | - | - |"
        )
    return "\n".join(lines)
