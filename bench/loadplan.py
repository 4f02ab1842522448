"""How big the open-loop load section (bench/openload.py) runs, per mode (bench/modes.py)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class LoadPlan:
    rates: tuple[int, ...]  # offered operations per second, stepped up in this order
    step_seconds: float  # arrivals offered per peer per round of a step
    rounds: int  # rounds per step, the peers' order alternating (ABBA) against drift
    warmup_seconds: float  # per peer, at the first rate, discarded
    knee_ms: float  # a peer stops stepping once its all-operations p99 passes this
    budget_seconds: float  # no new step starts past this much time in the stepping
    clients: int  # connected clients with think time
    think_seconds: float  # mean think time (exponential): clients / this = offered ops/s
    clients_seconds: float  # how long the clients act
    logins: int  # clients that log in with their password (bcrypt) while the others act
    login_rate: float  # logins started per second (bcrypt is ~240 ms of CPU at cost 12)
