"""Measuring every workload at every concurrency, the peers interleaved round by round.

For each workload and concurrency, every peer first runs a short warm-up (discarded: it
fills the pools and passes the prepare threshold); then the measured time is split into
rounds, and in each round every peer runs once, in an order that rotates from round to
round. Machine noise (another process, a checkpoint, the CPU's clock) then lands on all
peers alike instead of on whichever happened to run during it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bench.progress import log
from bench.runner import Sample, run
from bench.workloads import Workload

PEERS = ("chatstore", "raw", "sqlalchemy")


@dataclass(frozen=True)
class Plan:
    concurrencies: tuple[int, ...]
    seconds: float  # measured time per peer, workload and concurrency (split over rounds)
    rounds: int
    max_calls: int  # per peer, workload and concurrency
    warmup_seconds: float


def ratios(results: dict[str, dict[str, Any]]) -> dict[str, float | None]:
    """chatstore against each peer: p50 latency ratio (above 1: chatstore is slower) and
    throughput ratio (below 1: chatstore does fewer calls per second). None without a peer."""
    out: dict[str, float | None] = {}
    ours = results.get("chatstore")
    for peer in PEERS[1:]:
        theirs = results.get(peer)
        p50 = tput = None
        if ours and theirs and ours["p50_ms"] and theirs["p50_ms"]:
            p50 = round(ours["p50_ms"] / theirs["p50_ms"], 3)
        if ours and theirs and theirs["throughput"]:
            tput = round(ours["throughput"] / theirs["throughput"], 3)
        out[f"p50_vs_{peer}"] = p50
        out[f"throughput_vs_{peer}"] = tput
    return out


async def measure(workloads: Sequence[Workload], plan: Plan) -> list[dict[str, Any]]:
    entries = []
    per_round = plan.seconds / plan.rounds
    calls_per_round = max(1, plan.max_calls // plan.rounds)
    for workload in workloads:
        for concurrency in plan.concurrencies:
            names = list(workload.ops)
            for name in names:
                await run(workload.ops[name], concurrency, plan.warmup_seconds, calls_per_round)
            samples = {name: Sample() for name in names}
            for round_number in range(plan.rounds):
                shift = round_number % len(names)
                for name in names[shift:] + names[:shift]:
                    op = workload.ops[name]
                    samples[name].add(await run(op, concurrency, per_round, calls_per_round))
            results = {name: sample.summary() for name, sample in samples.items()}
            entries.append(
                {
                    "workload": workload.name,
                    "label": workload.label,
                    "group": workload.group,
                    "depth": workload.depth,
                    "concurrency": concurrency,
                    "results": results,
                    "ratios": ratios(results),
                }
            )
            log(_line(workload.label, concurrency, results))
    return entries


def _line(label: str, concurrency: int, results: dict[str, dict[str, Any]]) -> str:
    parts = [
        f"{name} p50 {r['p50_ms']} ms {r['throughput']:,.0f}/s"
        + (f" ({r['errors']} errors: {r['first_error']})" if r["errors"] else "")
        for name, r in results.items()
    ]
    return f"  {label} x{concurrency}: " + "; ".join(parts)
