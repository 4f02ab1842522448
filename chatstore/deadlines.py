"""Time bounds for calls, cheap enough to put on every one.

`asyncio.timeout` arms a timer of its own per use, and moving it on (from the wait for a
connection to the work done on it) cancels that timer and arms another: about 9 µs a call,
a tenth of a one-row read. Here every bound of the same length goes into one queue, in the
order they end, watched by a single timer set for the first of them. Starting and ending a
bound is an append and a flag; the timer, when it fires, drops the bounds already ended and
cancels the task of any that ran out, then waits for the next.

The semantics are asyncio.timeout's: the task is cancelled when its bound runs out, and the
CancelledError that follows comes out of `finish` as "this bound expired" (the caller raises
its own TimeoutError-like error), unless someone else cancelled the task as well.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Final

_PENDING: Final = 0
_EXPIRED: Final = 1  # ran out: the task was cancelled
_EXPIRED_SEEN: Final = 2  # ran out, and finish() has absorbed that cancellation
_FINISHED: Final = 3  # ended in time
# asyncio runs a timer up to its clock's resolution early; a bound this close to its end
# when the timer fires counts as run out, rather than setting the timer again and again.
_EARLY_TOLERANCE_SECONDS: Final = 0.001


class Deadline:
    """One task's bound. `expired()` says whether it ran out (and the task was cancelled)."""

    __slots__ = ("_cancelling", "_state", "_task", "_ticket")

    def __init__(self, task: asyncio.Task[object]) -> None:
        self._task = task
        # Cancellations already requested before this bound: not this bound's to absorb.
        self._cancelling = task.cancelling()
        self._state = _PENDING
        self._ticket: _Ticket | None = None

    def expired(self) -> bool:
        return self._state in (_EXPIRED, _EXPIRED_SEEN)

    def move_to(self, watch: DeadlineWatch) -> None:
        """End this bound `watch.seconds` from now instead (a call that got its connection
        moves from the wait's bound to the work's)."""
        if self._state != _PENDING:
            return
        if self._ticket is not None:
            self._ticket.deadline = None
        self._ticket = watch.enqueue(self)

    def finish(self, exc_type: type[BaseException] | None) -> bool:
        """Stop the bound. True when the block ends in the CancelledError this bound caused
        (and nobody else asked for): the caller reports a timeout instead."""
        if self._state == _EXPIRED:
            self._state = _EXPIRED_SEEN
            return self._task.uncancel() <= self._cancelling and exc_type is asyncio.CancelledError
        if self._state != _PENDING:
            return False
        self._state = _FINISHED
        if self._ticket is not None:
            self._ticket.deadline = None
            self._ticket = None
        return False

    def _expire(self) -> None:
        self._state = _EXPIRED
        self._ticket = None
        self._task.cancel()


class _Ticket:
    """A bound's place in a watch's queue; `deadline` None once it no longer needs watching."""

    __slots__ = ("deadline", "when")

    def __init__(self, when: float, deadline: Deadline) -> None:
        self.when = when
        self.deadline: Deadline | None = deadline


class DeadlineWatch:
    """Every bound of one length (`seconds`), in one queue, watched by one timer.

    Bounds of one length end in the order they started, so the queue stays sorted by its
    own appends and the timer only ever needs the first live one. Use from one event loop.
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._queue: deque[_Ticket] = deque()
        self._timer: asyncio.TimerHandle | None = None

    def start(self) -> Deadline:
        """A bound for the current task, ending `seconds` from now."""
        task = asyncio.current_task()
        if task is None:
            raise RuntimeError("a deadline needs a running task")
        deadline = Deadline(task)
        deadline._ticket = self.enqueue(deadline)
        return deadline

    def enqueue(self, deadline: Deadline) -> _Ticket:
        loop = asyncio.get_running_loop()
        ticket = _Ticket(loop.time() + self.seconds, deadline)
        self._queue.append(ticket)
        if self._timer is None:
            self._timer = loop.call_at(ticket.when, self._fire, loop)
        return ticket

    def _fire(self, loop: asyncio.AbstractEventLoop) -> None:
        self._timer = None
        now, queue = loop.time() + _EARLY_TOLERANCE_SECONDS, self._queue
        while queue:
            head = queue[0]
            if head.deadline is not None:
                if head.when > now:
                    self._timer = loop.call_at(head.when, self._fire, loop)
                    return
                head.deadline._expire()
            queue.popleft()
