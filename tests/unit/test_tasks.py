"""`uiserver.tasks`: a task that loses a cancel is still stopped (`stop`) and a loop that checks
ends (`check_cancelled`); what a task raised is raised; a finished task is left as it is; a
shutdown step has a time limit, and one that overruns, ignores cancellation or fails is logged by
name (`bounded`)."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import pytest

from uiserver import tasks
from uiserver.tasks import bounded, cancel_requested, check_cancelled, stop

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


async def test_a_cancel_wait_for_swallows_ends_a_loop_that_checks() -> None:
    """The real thing, made to happen every time: the inner awaitable of `asyncio.wait_for`
    has finished when the cancel comes (as redis-py's command write does). On Python 3.11
    `wait_for` returns its result and the CancelledError is gone; the loop's
    `check_cancelled()` ends it at the next turn all the same (from 3.12 `wait_for` raises)."""
    turns = 0

    async def written() -> None:
        # The cancel is queued behind this inner task's end: it lands once the write is done.
        asyncio.get_running_loop().call_soon(looping.cancel)

    async def loop_until_cancelled() -> None:
        nonlocal turns
        while True:
            check_cancelled()
            turns += 1
            await asyncio.wait_for(written(), 1.0)

    looping = asyncio.create_task(loop_until_cancelled())
    async with asyncio.timeout(10.0):
        await asyncio.wait({looping})
    assert looping.cancelled() and turns == 1


async def test_cancel_requested_outside_a_task_is_false() -> None:
    seen: list[bool] = []
    asyncio.get_running_loop().call_soon(lambda: seen.append(cancel_requested()))
    await asyncio.sleep(0.01)
    assert seen == [False]
    assert not cancel_requested()


async def test_a_step_in_time_is_true(caplog: pytest.LogCaptureFixture) -> None:
    ran: list[str] = []

    async def step() -> None:
        ran.append("step")

    assert await bounded(step(), "quick step", 5.0)
    assert ran == ["step"] and caplog.text == ""


async def test_a_step_that_overruns_is_cancelled_and_named(
    caplog: pytest.LogCaptureFixture,
) -> None:
    cancelled = asyncio.Event()

    async def slow() -> None:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    with caplog.at_level(logging.WARNING, "uiserver"):
        assert not await bounded(slow(), "slow step", 0.1)
    assert cancelled.is_set()
    assert "shutdown: slow step did not finish within 0.1 s; going on" in caplog.text
    assert "ignores cancellation" not in caplog.text


async def test_a_step_that_ignores_cancellation_is_left_running(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tasks, "RECANCEL_S", 0.05)
    released = asyncio.Event()

    async def stubborn() -> None:
        while not released.is_set():
            with contextlib.suppress(asyncio.CancelledError):
                await released.wait()
        raise RuntimeError("ended after the shutdown went on")  # retrieved: not reported

    left = asyncio.ensure_future(stubborn())
    with caplog.at_level(logging.WARNING, "uiserver"):
        assert not await bounded(left, "stubborn step", 0.05)
    assert not left.done()
    assert "shutdown: stubborn step ignores cancellation; left running" in caplog.text
    released.set()
    await asyncio.wait({left})
    assert isinstance(left.exception(), RuntimeError)


async def test_a_step_that_fails_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    async def broken() -> None:
        raise ValueError("a bug in a close path")

    async def cancelled_itself() -> None:
        raise asyncio.CancelledError

    assert not await bounded(broken(), "broken step", 5.0)
    assert "shutdown: broken step failed" in caplog.text
    assert "ValueError: a bug in a close path" in caplog.text
    assert not await bounded(cancelled_itself(), "cancelled step", 5.0)
