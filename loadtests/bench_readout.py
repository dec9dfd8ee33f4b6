"""The SQLite experiment readout of a year-long three-variant experiment (issue 20 section 4).

Builds one database with two experiments of 365 days x 3 variants: `legacy` (counted by day
sketches only, as before exact counts: `experiment_meta.legacy` = 1) and `exact` (the same
users through `record_activity`: markers and exact per-cohort integers). Then, in the same run:

- before: the readout of the previous release (every day's 16 KB sketch merged register by
  register in Python, per variant) on the event loop;
- baseline: the same with today's sketch merge (16 KB integers), still on the loop;
- legacy cold / warm: this store's readout of the legacy experiment (past days' sketches merged
  once, then kept), in a worker thread;
- exact: the readout of the exactly counted experiment (SQL sums, no sketch);
- cached: `admin.experiments` answering from its cache (data version unchanged);
- loop: how often a 1 ms ticker on the event loop ran while each readout was in flight (the
  baseline blocks it; the others leave it running).

    python loadtests/bench_readout.py            # table
    python loadtests/bench_readout.py --json     # one JSON object
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from uiserver.engine.activity import COHORTS  # noqa: E402
from uiserver.store.base import Exposure  # noqa: E402
from uiserver.store.sqlite import sketch  # noqa: E402
from uiserver.store.sqlite.store import SQLiteStore  # noqa: E402

VARIANTS = ["control", "deals_first", "search_first"]
DAYS = 365
USERS_PER_DAY = 30  # per variant and day
START_DAY = int(time.time() // 86_400) - DAYS


def build(path: Path) -> SQLiteStore:
    store = SQLiteStore(path)
    conn = store.db.connection()
    with store.db.tx(write=True) as c:
        for variant in VARIANTS:
            for d in range(DAYS):
                registers = sketch.empty()
                sketch.add(
                    registers, (f"legacy\x1fu{d}-{n}-{variant}" for n in range(USERS_PER_DAY))
                )
                c.execute(
                    "INSERT INTO experiment_days VALUES ('legacy', ?, ?, ?, 3, 4, 50.0)",
                    (variant, START_DAY + d, bytes(registers)),
                )
        c.execute("INSERT INTO experiment_meta VALUES ('legacy', 1, 1)")
    del conn
    return store


async def fill_exact(store: SQLiteStore) -> None:
    for d in range(DAYS):
        at = (START_DAY + d) * 86_400.0 + 3_600
        batch = [
            Exposure(
                "exact", v, START_DAY + d, f"u{d}-{n}-{v}", True, 0, at, COHORTS[n % len(COHORTS)]
            )
            for v in VARIANTS
            for n in range(USERS_PER_DAY)
        ]
        await store.activity.record_activity({}, batch)


def old_merge(sketches: list[bytes]) -> bytearray:
    """The merge as it was before this release: a Python max over every register."""
    out = sketch.empty()
    for one in sketches:
        out = bytearray(map(max, out, one))
    return out


def baseline_before(store: SQLiteStore) -> int:
    """The readout as it was before this release: Python register merges, on the loop."""
    total = 0
    with store.db.tx(write=False) as conn:
        for variant in VARIANTS:
            rows = conn.execute(
                "SELECT exposures FROM experiment_days WHERE experiment = 'legacy' "
                "AND variant = ? ORDER BY day",
                (variant,),
            ).fetchall()
            total += sketch.count(old_merge([row[0] for row in rows]))
    return total


def baseline(store: SQLiteStore) -> int:
    """The readout as it was: every day's sketch merged on the event loop, per variant."""
    total = 0
    with store.db.tx(write=False) as conn:
        for variant in VARIANTS:
            rows = conn.execute(
                "SELECT exposures FROM experiment_days WHERE experiment = 'legacy' "
                "AND variant = ? ORDER BY day",
                (variant,),
            ).fetchall()
            total += sketch.count(sketch.merge(row[0] for row in rows))
    return total


async def timed(call: Callable[[], Awaitable[object]]) -> tuple[float, int]:
    """Seconds `call` took and how many times a 1 ms ticker ran on the loop meanwhile."""
    ticks = 0
    done = False

    async def ticker() -> None:
        nonlocal ticks
        while not done:
            await asyncio.sleep(0.001)
            ticks += 1

    task = asyncio.create_task(ticker())
    await asyncio.sleep(0)
    start = time.perf_counter()
    await call()
    elapsed = time.perf_counter() - start
    done = True
    await task
    return elapsed, ticks


async def main(as_json: bool) -> dict[str, Any]:
    from uiserver.admin.experiments import _compute, _readout  # the composition, cached

    with tempfile.TemporaryDirectory() as tmp:
        store = build(Path(tmp) / "bench.db")
        await fill_exact(store)

        async def base() -> None:
            baseline(store)

        async def before() -> None:
            baseline_before(store)

        async def counts(experiment: str) -> None:
            await store.activity.experiment_counts(experiment, VARIANTS)

        async def composed() -> None:
            await _compute("home", "exact", [(v, 1) for v in VARIANTS], store.activity)

        variants = [SimpleNamespace(name=v, weight=1) for v in VARIANTS]
        live = SimpleNamespace(  # the slice of LivePage `_readout` reads
            template=SimpleNamespace(page="home", experiment="exact", variants=variants),
            record=SimpleNamespace(version="v1"),
            compiled=SimpleNamespace(allocation=None),  # the weights' shares
            rollout=None,
            previous=None,
        )
        pages = SimpleNamespace(templates=store.templates)  # the slice of LivePages it reads

        async def cached() -> None:
            await _readout(live, store.activity, pages)  # type: ignore[arg-type]

        results: dict[str, Any] = {}
        for name, call in (
            ("before (Python merge, on the loop)", before),
            ("baseline (merge on the loop)", base),
            ("legacy readout, cold", lambda: counts("legacy")),
            ("legacy readout, warm", lambda: counts("legacy")),
            ("exact readout (all + 4 cohorts)", composed),
            ("cached readout", cached),
            ("cached readout, again", cached),
        ):
            seconds, ticks = await timed(call)
            results[name] = {"ms": round(seconds * 1000, 2), "loop_ticks": ticks}
        base_ms = results["baseline (merge on the loop)"]["ms"]
        for row in results.values():
            row["x_baseline"] = round(row["ms"] / base_ms, 4) if base_ms else None
        await store.close()
    if as_json:
        print(json.dumps(results))
    else:
        print(f"{'readout':34} {'ms':>10} {'x baseline':>11} {'loop ticks':>11}")
        for name, row in results.items():
            print(f"{name:34} {row['ms']:>10} {row['x_baseline']:>11} {row['loop_ticks']:>11}")
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    asyncio.run(main(parser.parse_args().json))
