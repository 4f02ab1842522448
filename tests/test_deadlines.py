"""The shared-timer bounds every PostgreSQL call runs under (chatstore.deadlines).

Pure asyncio: what the calls rely on is checked against the PostgreSQL faults in
test_pg_faults.py; here, the cases a fault test cannot pick its moment for.
"""

from __future__ import annotations

import asyncio

import pytest

from chatstore.deadlines import Deadline, DeadlineWatch


async def _sleep_within(deadline: Deadline, seconds: float) -> str:
    try:
        await asyncio.sleep(seconds)
    except asyncio.CancelledError as exc:
        if deadline.finish(type(exc)):
            return "timed out"
        raise
    deadline.finish(None)
    return "finished"


async def test_a_bound_that_runs_out_cancels_its_task_and_says_so() -> None:
    watch = DeadlineWatch(0.05)
    loop = asyncio.get_running_loop()
    started = loop.time()
    deadline = watch.start()
    assert await _sleep_within(deadline, 5) == "timed out"
    assert 0.04 <= loop.time() - started < 1
    assert deadline.expired()
    current = asyncio.current_task()
    assert current is not None
    assert current.cancelling() == 0  # the cancellation was absorbed, as asyncio.timeout does


async def test_a_bound_ended_in_time_never_fires() -> None:
    watch = DeadlineWatch(0.05)
    deadline = watch.start()
    assert await _sleep_within(deadline, 0.001) == "finished"
    await asyncio.sleep(0.1)  # past the end: nothing is cancelled
    assert not deadline.expired()


async def test_many_bounds_share_one_timer_and_each_ends_on_time() -> None:
    """Fifty tasks, each with its own bound of the same length, started 2 ms apart: the
    ones that sleep past their bound time out, the others finish, in any mix."""
    watch = DeadlineWatch(0.05)

    async def one(index: int) -> str:
        await asyncio.sleep(index * 0.002)
        deadline = watch.start()
        return await _sleep_within(deadline, 0.2 if index % 3 == 0 else 0.005)

    results = await asyncio.gather(*(one(index) for index in range(50)))
    expected = ["timed out" if index % 3 == 0 else "finished" for index in range(50)]
    assert results == expected


async def test_moving_a_bound_gives_it_the_new_length_from_now() -> None:
    short, long = DeadlineWatch(0.03), DeadlineWatch(0.3)
    deadline = short.start()
    deadline.move_to(long)
    assert await _sleep_within(deadline, 0.1) == "finished"  # past the short bound's end


async def test_someone_elses_cancellation_is_not_taken_for_a_timeout() -> None:
    watch = DeadlineWatch(10)

    async def call() -> str:
        return await _sleep_within(watch.start(), 5)

    task = asyncio.create_task(call())
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_a_bound_needs_a_task() -> None:
    watch = DeadlineWatch(1)
    loop = asyncio.get_running_loop()
    future: asyncio.Future[BaseException | None] = loop.create_future()

    def outside_any_task() -> None:
        try:
            watch.start()
        except RuntimeError as exc:
            future.set_result(exc)
        else:
            future.set_result(None)

    loop.call_soon(outside_any_task)
    assert isinstance(await future, RuntimeError)
