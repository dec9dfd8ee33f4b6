"""`users.telemetry.BufferedTelemetry`: counters from many batches folded in memory and written
behind in one store call; reads see what is pending; a failed write keeps it; close writes it."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from uiserver.engine.telemetry import CounterKey
from uiserver.store.base import StoreUnavailable
from uiserver.store.factory import open_store
from uiserver.users.telemetry import BufferedTelemetry

TAP = CounterKey("home", "v1", "coupons", "standard", "click")
SEEN = CounterKey("home", "v1", "coupons", "standard", "impression")
ERROR = CounterKey("home", "v2", "banner", "elderly", "render_error")


def test_batches_fold_into_one_write_and_reads_see_pending(tmp_path: Path) -> None:
    async def scenario() -> None:
        store = open_store("", tmp_path)
        await store.open()
        calls: list[int] = []
        add = store.telemetry.add_counts

        async def counting(counts: dict[CounterKey, int]) -> None:
            calls.append(len(counts))
            await add(counts)

        store.telemetry.add_counts = counting  # type: ignore[method-assign,assignment]
        buffered = BufferedTelemetry(store.telemetry, interval=0.05)
        try:
            for _ in range(50):  # fifty users' batches, each a tap and an impression
                await buffered.add_counts({TAP: 1, SEEN: 1})
            await buffered.add_counts({ERROR: 2})
            assert calls == []  # nothing written yet ...
            rows = await buffered.component_counts("home", "v1")
            assert [(r.clicks, r.impressions) for r in rows] == [(50, 50)]  # ... but seen
            await asyncio.sleep(0.2)
            assert calls == [3]  # one write of three counters for 51 batches
            await buffered.add_counts({TAP: 1})
            both = await buffered.component_counts("home")
            assert {(r.version, r.clicks, r.render_errors) for r in both} == {
                ("v1", 51, 0),
                ("v2", 0, 2),
            }
            await buffered.close()  # a clean stop writes what is pending
            assert calls == [3, 1]
            stored = await store.telemetry.component_counts("home", "v1")
            assert [(r.clicks, r.impressions) for r in stored] == [(51, 50)]
        finally:
            await store.close()

    asyncio.run(scenario())


def test_a_failed_write_keeps_the_counts(tmp_path: Path) -> None:
    class Down:
        def __init__(self) -> None:
            self.failures = 0

        async def add_counts(self, counts: dict[CounterKey, int]) -> None:
            self.failures += 1
            raise StoreUnavailable("down")

        async def component_counts(self, page: str, version: str | None = None) -> list[object]:
            return []

    async def scenario() -> None:
        down = Down()
        buffered = BufferedTelemetry(down, interval=0.01)  # type: ignore[arg-type]
        await buffered.add_counts({TAP: 2})
        await asyncio.sleep(0.1)
        assert down.failures == 1
        await buffered.add_counts({TAP: 1})
        with pytest.raises(StoreUnavailable):
            await buffered.flush()
        rows = await buffered.component_counts("home")
        assert rows[0].clicks == 3  # nothing lost

    asyncio.run(scenario())


@pytest.mark.parametrize("committed_early", [False, True])
def test_a_read_during_a_write_in_flight_sees_its_counts_once(
    tmp_path: Path, committed_early: bool
) -> None:
    """The write took the pending table and the store has not stored it yet: a read then saw
    neither (stored 0 + pending 0) and undercounted; it waits for the write and counts it
    once, also when the store committed before its call returned."""

    async def scenario() -> None:
        store = open_store("", tmp_path)
        await store.open()
        add = store.telemetry.add_counts
        started, release = asyncio.Event(), asyncio.Event()

        async def slow(counts: dict[CounterKey, int]) -> None:
            if committed_early:
                await add(counts)
            started.set()
            await release.wait()
            if not committed_early:
                await add(counts)

        store.telemetry.add_counts = slow  # type: ignore[method-assign,assignment]
        buffered = BufferedTelemetry(store.telemetry, interval=60.0)
        try:
            await buffered.add_counts({TAP: 3, ERROR: 1})
            writing = asyncio.create_task(buffered.flush())
            await started.wait()
            reading = asyncio.create_task(buffered.component_counts("home"))
            await buffered.add_counts({TAP: 1})  # buffered meanwhile
            for _ in range(5):
                await asyncio.sleep(0)
            release.set()
            await writing
            rows = await reading
            assert {(r.version, r.clicks, r.render_errors) for r in rows} == {
                ("v1", 4, 0),
                ("v2", 0, 1),
            }
        finally:
            await buffered.close()
            await store.close()

    asyncio.run(scenario())
