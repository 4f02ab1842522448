"""A small progress bar on stderr, for loading the dataset.

On a terminal it redraws one line; elsewhere (CI logs, a test's captured output) it prints a
line every few seconds and one at the end, so logs stay short.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")
WIDTH = 30
REDRAW_SECONDS = 0.2
LOG_SECONDS = 5.0  # without a terminal


def log(message: str) -> None:
    """Progress notes go to stderr, so stdout carries only the results table."""
    print(message, file=sys.stderr, flush=True)


def tracked(items: Iterable[T], label: str, total: int) -> Iterator[T]:
    """Yield `items`, drawing how many of `total` have gone by."""
    tty = sys.stderr.isatty()
    started = last_draw = time.monotonic()
    every = REDRAW_SECONDS if tty else LOG_SECONDS
    done = 0
    for item in items:
        yield item
        done += 1
        if done % 256 == 0 and (now := time.monotonic()) - last_draw >= every:
            last_draw = now
            _draw(label, done, total, now - started, end="\r" if tty else "\n")
    _draw(label, done, done, time.monotonic() - started, end="\n")  # finished: 100 %


def _draw(label: str, done: int, total: int, elapsed: float, *, end: str) -> None:
    share = min(1.0, done / total) if total else 1.0
    filled = int(share * WIDTH)
    bar = "#" * filled + "." * (WIDTH - filled)
    text = f"  {label:<10} [{bar}] {share:4.0%} {done:>10,}/{total:,} {elapsed:6.1f} s"
    print(text, end=end, file=sys.stderr, flush=True)
