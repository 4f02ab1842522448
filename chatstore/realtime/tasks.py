"""Stopping background tasks reliably."""

from __future__ import annotations

import asyncio
import logging

log = logging.getLogger("chatstore")


async def stop_task(task: asyncio.Task[None]) -> None:
    """Cancel a background task and wait for it to end.

    Cancelled again until it ends: on Python 3.11 asyncio.wait_for (used inside redis-py's
    send) can swallow a cancellation that arrives as its inner call completes, and a loop
    that swallowed one would otherwise run forever.
    """
    while not task.done():
        task.cancel()
        await asyncio.wait([task], timeout=0.1)
    if not task.cancelled() and task.exception() is not None:
        log.error("background task %s failed", task.get_name(), exc_info=task.exception())
