"""The two modes of `python -m bench`: the full benchmark and the quick smoke run."""

from __future__ import annotations

from dataclasses import dataclass

from bench.dataset import FULL, QUICK, DatasetSpec
from bench.loadplan import LoadPlan
from bench.realtime_pace import RealtimePlan
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
    load: LoadPlan  # the open-loop load section (bench/openload.py)
    realtime: RealtimePlan  # the live-delivery section (bench/realtime.py)
    note: str
    # The hot-room section (bench/hotroom.py): writers per step, measured seconds per peer
    # and step (split over rounds, the peers alternating).
    hot_room_writers: tuple[int, ...] = (1, 2, 4, 8, 16, 32, 64)
    hot_room_seconds: float = 3.0
    hot_room_rounds: int = 3


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
    load=LoadPlan(
        rates=(250, 500, 1_000, 1_500, 2_000, 2_500, 3_000, 4_000, 5_000, 6_000),
        step_seconds=4.0,
        rounds=2,
        warmup_seconds=1.0,
        knee_ms=50.0,
        budget_seconds=240.0,
        clients=10_000,
        think_seconds=10.0,
        clients_seconds=30.0,
        logins=50,
        login_rate=2.0,
    ),
    realtime=RealtimePlan(
        listeners=10_000,
        rooms=1_000,
        rates=(1_000, 5_000),
        seconds=5.0,
        rounds=3,
        warmup_seconds=1.0,
    ),
    note="full run: PostgreSQL with fsync, synchronous_commit and full_page_writes on",
    hot_room_writers=(1, 2, 4, 8, 16, 32, 64),
    hot_room_seconds=3.0,
    hot_room_rounds=3,
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
    load=LoadPlan(
        rates=(250, 500, 1_000),
        step_seconds=1.0,
        rounds=1,
        warmup_seconds=0.3,
        knee_ms=50.0,
        budget_seconds=20.0,
        clients=300,
        think_seconds=1.0,
        clients_seconds=3.0,
        logins=10,
        login_rate=10.0,
    ),
    realtime=RealtimePlan(
        listeners=1_000,
        rooms=50,
        rates=(200, 1_000),
        seconds=0.3,
        rounds=2,
        warmup_seconds=0.1,
    ),
    note="quick run: a smoke test of the harness, not of the figures (fsync off, small data)",
    hot_room_writers=(1, 8),
    hot_room_seconds=0.4,
    hot_room_rounds=1,
)
