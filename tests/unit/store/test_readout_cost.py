"""The readout off the event loop and cached until new data (issue 20 section 4): counted in
loop turns and store calls, never in wall-clock time (the timings are `loadtests/
bench_readout.py`'s)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from pathlib import Path
from types import SimpleNamespace

import pytest

from tests.helpers.stores import StoreFactory
from uiserver.admin.experiments import _readout
from uiserver.engine.activity import day_of
from uiserver.engine.readout import VariantCounts
from uiserver.store.base import ActivityStore, Conversion, Exposure
from uiserver.store.sqlite import sketch
from uiserver.store.sqlite.store import SQLiteStore

pytestmark = pytest.mark.anyio

VARIANTS = ["control", "deals_first", "search_first"]


def legacy_experiment(store: SQLiteStore, days: int) -> None:
    """Sketch-only counts of `days` days, as written before exact counts."""
    today = day_of(time.time())
    with store.db.tx(write=True) as conn:
        for variant in VARIANTS:
            for d in range(days):
                registers = sketch.empty()
                sketch.add(registers, (f"old\x1fu{d}-{n}" for n in range(20)))
                conn.execute(
                    "INSERT INTO experiment_days VALUES ('old', ?, ?, ?, 0, 0, 0)",
                    (variant, today - d, bytes(registers)),
                )
        conn.execute("INSERT INTO experiment_meta VALUES ('old', 1, 1)")


async def test_the_sqlite_readout_leaves_the_event_loop_running(tmp_path: Path) -> None:
    """A ticker on the loop keeps turning while a heavy (legacy, sketch-merging) readout is
    in flight: the readout runs in a worker thread. In the loop, the ticker could not run."""
    store = SQLiteStore(tmp_path / "uiserver.db")
    await store.open()
    legacy_experiment(store, 120)
    turns = 0
    done = asyncio.Event()

    async def ticker() -> None:
        nonlocal turns
        while not done.is_set():
            turns += 1
            await asyncio.sleep(0)

    task = asyncio.create_task(ticker())
    await asyncio.sleep(0)
    before = turns
    found = await store.activity.experiment_counts("old", VARIANTS)
    during = turns - before
    done.set()
    await task
    await store.close()
    assert all(abs(c.exposed - 2400) <= 48 for c in found)  # 120 days x 20 distinct users
    assert not any(c.exact for c in found)
    assert during > 1, "the event loop did not turn while the readout ran"


async def test_past_day_sketches_are_merged_once(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "uiserver.db")
    await store.open()
    legacy_experiment(store, 30)
    merges = 0
    real = sketch.merge

    def counting(sketches: object) -> bytearray:
        nonlocal merges
        items = list(sketches)  # type: ignore[call-overload]
        merges += len(items)
        return real(items)

    sketch.merge = counting
    try:
        first = await store.activity.experiment_counts("old", VARIANTS)
        cold = merges
        second = await store.activity.experiment_counts("old", VARIANTS)
    finally:
        sketch.merge = real
        await store.close()
    assert first == second
    assert cold >= 3 * 30  # every day merged once
    assert merges - cold <= 3 * 3  # then the kept roll-up and the last two days only


class Counting:
    """An ActivityStore that counts the count reads (the readout cache's misses)."""

    def __init__(self, inner: ActivityStore) -> None:
        self.inner = inner
        self.reads = 0

    async def record_activity(self, *args: object) -> None:
        raise NotImplementedError

    async def record_conversions(self, user_id: str, conversions: Sequence[Conversion]) -> int:
        raise NotImplementedError

    async def experiment_counts(
        self, experiment: str, variants: Sequence[str], cohort: str | None = None
    ) -> list[VariantCounts]:
        self.reads += 1
        return await self.inner.experiment_counts(experiment, variants, cohort)

    async def experiment_version(self, experiment: str) -> int:
        return await self.inner.experiment_version(experiment)


class Live:
    """The slice of a LivePage the readout reads."""

    def __init__(self, version: str = "v1") -> None:
        variants = [SimpleNamespace(name=n, weight=1) for n in ("control", "other")]
        self.template = SimpleNamespace(page="home", experiment="exp", variants=variants)
        self.record = SimpleNamespace(version=version)
        self.compiled = SimpleNamespace(allocation=None)  # no allocation: the weights' shares
        self.rollout = self.previous = None


async def test_the_readout_is_cached_until_any_replica_writes_counts(
    make_store: StoreFactory,
) -> None:
    a, b = await make_store(), await make_store()
    reader = Counting(b.activity)
    pages = SimpleNamespace(templates=b.templates)  # the slice of LivePages it reads
    now = time.time()
    await a.activity.record_activity(
        {}, [Exposure("exp", "control", day_of(now), "u1", True, 0, now)]
    )
    first = await _readout(Live(), reader, pages)  # type: ignore[arg-type]
    misses = reader.reads
    assert misses == 5  # everyone and four cohorts
    again = await _readout(Live(), reader, pages)  # type: ignore[arg-type]
    assert again == first and reader.reads == misses  # from the cache
    await a.activity.record_conversions("u1", [Conversion("exp", now + 1, 3.0)])  # replica A
    third = await _readout(Live(), reader, pages)  # type: ignore[arg-type]
    assert reader.reads == 2 * misses
    assert third.variants[0].conversions == 1
    other_version = await _readout(Live("v2"), reader, pages)  # type: ignore[arg-type]
    assert reader.reads == 3 * misses and other_version.variants[0].conversions == 1
