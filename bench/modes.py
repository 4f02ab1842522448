"""The two modes of `python -m bench`: the full benchmark and the quick smoke run."""

from __future__ import annotations

from dataclasses import dataclass

from bench.dataset import FULL, QUICK, DatasetSpec
from bench.suite import Plan


@dataclass(frozen=True)
class Mode:
    name: str
    spec: DatasetSpec
    plan: Plan
    depths: tuple[int, ...]  # history pages, messages back from the newest
    fsync: bool
    pgbench_seconds: int
    pgbench_scale: int
    keep_dataset: bool  # keep the cluster under bench/.data/ for the next run
    note: str


FULL_MODE = Mode(
    name="full",
    spec=FULL,
    plan=Plan(
        concurrencies=(1, 8, 64), seconds=2.0, rounds=4, max_calls=50_000, warmup_seconds=0.2
    ),
    depths=(0, 1_000, 10_000, 100_000),
    fsync=True,
    pgbench_seconds=5,
    pgbench_scale=10,
    keep_dataset=True,
    note="full run: PostgreSQL with fsync, synchronous_commit and full_page_writes on",
)

# Same workloads on a small dataset, in well under two minutes on two cores: a smoke test of
# the harness (CI runs it), not a source of figures. fsync is off, as in the test suite.
QUICK_MODE = Mode(
    name="quick",
    spec=QUICK,
    plan=Plan(concurrencies=(1, 8), seconds=0.3, rounds=2, max_calls=2_000, warmup_seconds=0.05),
    depths=(0, 100, 1_000, 5_000),
    fsync=False,
    pgbench_seconds=1,
    pgbench_scale=1,
    keep_dataset=False,
    note="quick run: a smoke test of the harness, not of the figures (fsync off, small data)",
)
