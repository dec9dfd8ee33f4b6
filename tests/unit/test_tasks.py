"""`uiserver.tasks.stop`: a task that loses a cancel is still stopped; what a task raised is
raised; a finished task is left as it is."""

from __future__ import annotations

import asyncio

import pytest

from uiserver.tasks import stop

pytestmark = pytest.mark.anyio


async def test_a_task_that_loses_a_cancel_is_stopped() -> None:
    """The task drops the first cancel, as `asyncio.wait_for` does on Python 3.11 when the
    awaited result and the cancel come together. Fails with one cancel and `await task` (what
    the service's shutdown did): the wait below times out."""
    lost = 0

    async def loop_until_cancelled() -> None:
        nonlocal lost
        while True:
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                if lost:
                    raise
                lost += 1  # dropped, and the loop goes on

    task = asyncio.create_task(loop_until_cancelled())
    await asyncio.sleep(0)
    async with asyncio.timeout(10.0):
        await stop(task, every=0.05)
    assert task.cancelled() and lost == 1


async def test_what_the_task_raised_is_raised() -> None:
    async def fails_on_cancel() -> None:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            raise ValueError("clean-up failed") from None

    task = asyncio.create_task(fails_on_cancel())
    await asyncio.sleep(0)
    with pytest.raises(ValueError, match="clean-up failed"):
        await stop(task)


async def test_a_finished_task_is_left_as_it_is() -> None:
    task = asyncio.create_task(asyncio.sleep(0, "done"))
    await task
    await stop(task)
    assert task.result() == "done"
