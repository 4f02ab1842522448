"""The benchmark's sections beyond the per-operation table: live delivery, an open-loop
load, the hot room, round trips, and thread replies and mentions. Each lives in its own
module with the same three functions:

    async def measure(ctx: SectionContext) -> dict[str, Any]   # JSON-ready figures
    def table(section: dict[str, Any]) -> str                   # markdown, for the console
    def draw(section: dict[str, Any], stem: Path) -> list[Path] # PNGs (matplotlib present)

`python -m bench` runs them after the per-operation workloads, on the same servers and
dataset, and stores each under its name in the results file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from bench.fixtures import Fixtures
from bench.modes import Mode
from bench.peers import RawPeer
from chatstore import ChatStore, Settings


@dataclass(frozen=True)
class SectionContext:
    store: ChatStore  # open, on the run database and the run's Redis
    settings: Settings
    raw: RawPeer  # the same SQL through a plain psycopg pool, for side-by-side figures
    redis_url: str
    fixtures: Fixtures
    mode: Mode


class Section(Protocol):
    async def measure(self, ctx: SectionContext) -> dict[str, Any]: ...

    def table(self, section: dict[str, Any]) -> str: ...

    def draw(self, section: dict[str, Any], stem: Path) -> list[Path]: ...


def section_modules() -> dict[str, Any]:
    """Name -> module, in the order a run measures them."""
    from bench import hotroom, openload, realtime, roundtrips, threads

    return {
        "realtime": realtime,
        "load": openload,
        "hot_room": hotroom,
        "round_trips": roundtrips,
        "threads": threads,
    }
