"""`Service.close` is bounded: a background task that ignores cancellation or a write that never
returns is logged by name and left behind, and the store is closed anyway (before, `close`
waited for it forever: the lifespan shutdown of a test hung until pytest-timeout)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from pathlib import Path

import pytest

from tests.helpers.units import service
from uiserver.engine.telemetry import ComponentCounts, CounterKey
from uiserver.store.sqlite.store import SQLiteStore

pytestmark = pytest.mark.anyio

TAP = CounterKey("home", "v1", "coupons", "standard", "click")


def closed(store: object) -> bool:
    assert isinstance(store, SQLiteStore)
    return store.db._conn is None


@pytest.mark.timeout(30)
async def test_a_background_task_that_ignores_cancellation_does_not_hang_close(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    released = asyncio.Event()
    ignored = 0

    async def stubborn() -> None:
        nonlocal ignored
        # Past the test's timeout it gives up, so that on a close that waits for it the test
        # fails (Timeout) and its event loop can still end.
        give_up = asyncio.get_running_loop().time() + 40.0
        while not released.is_set() and asyncio.get_running_loop().time() < give_up:
            try:
                await asyncio.sleep(0.02)
            except asyncio.CancelledError:
                ignored += 1  # swallowed, as a library on Python 3.11 can (`uiserver.tasks`)

    task = asyncio.create_task(stubborn(), name="stubborn loop")
    try:
        async with service(tmp_path) as running:
            running.close_step_s = 1.5
            running.background.append(task)
            with caplog.at_level(logging.WARNING, "uiserver"):
                await running.close()
            assert closed(running.store)
            assert not task.done() and ignored >= 2  # cancelled again, and ignored again
            assert "background task stubborn loop did not finish within 1.5 s" in caplog.text
    finally:
        released.set()  # the test's loop ends once every task has
        await task


@pytest.mark.timeout(30)
async def test_a_flush_that_never_returns_does_not_hang_close(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    class Stuck:
        """A telemetry store whose write does not come back within the test's timeout (a
        store that stopped answering without failing)."""

        def __init__(self) -> None:
            self.writing = asyncio.Event()

        async def add_counts(self, counts: Mapping[CounterKey, int]) -> None:
            self.writing.set()
            await asyncio.sleep(40.0)  # ends, so on a close that waits the test's loop can

        async def component_counts(
            self, page: str, version: str | None = None
        ) -> list[ComponentCounts]:
            return []

    async with service(tmp_path) as running:
        running.close_step_s = 0.5
        stuck = Stuck()
        running.telemetry.store = stuck
        await running.telemetry.add_counts({TAP: 1})
        with caplog.at_level(logging.WARNING, "uiserver"):
            await running.close()
        assert stuck.writing.is_set()
        assert closed(running.store)  # the steps after it came, the store's close last
        assert "shutdown: telemetry counters did not finish within 0.5 s" in caplog.text
        assert (await running.telemetry.component_counts("home"))[0].clicks == 1  # kept pending


async def test_a_failing_step_is_logged_and_the_store_still_closes(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with service(tmp_path) as running:

        async def broken() -> None:
            raise RuntimeError("a bug in a close path")

        running.capabilities.close = broken  # type: ignore[method-assign]
        with caplog.at_level(logging.WARNING, "uiserver"):
            await running.close()
        assert closed(running.store)
        assert "shutdown: renderer counters failed" in caplog.text
        assert "a bug in a close path" in caplog.text
