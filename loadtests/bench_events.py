"""What one events batch costs the store, in process: `record_events` of one launch's batch (6
views and a click, as `perfphase` posts) on SQLite or Redis, thread CPU per batch, by how many
event ids the user already has stored (0, a week of one batch a day, the 1,000 bound) and
without ids (older clients).

    python loadtests/bench_events.py [--redis redis://127.0.0.1:6379/15] [--batches 2000]

The Redis figure is this process's CPU only (redis-server's own is not counted). Runs on a
checkout without event ids too (then only the `no ids` row), for an A/B of the same machine.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from uiserver.schema import Event
from uiserver.store.base import Store
from uiserver.store.factory import open_store

HAS_IDS = "id" in Event.__struct_fields__
COMPONENTS = ("search", "banner", "coupons", "categories", "fresh_grid", "guess")
_serial = itertools.count()


def batch(with_ids: bool, now: float) -> list[Event]:
    kinds = [("view", c) for c in COMPONENTS] + [("click", "coupons")]
    events = []
    for kind, component in kinds:
        extra: dict[str, Any] = {"id": f"bench-{next(_serial):012d}"} if with_ids else {}
        events.append(Event(page="home", component=component, kind=kind, ts=now, **extra))  # type: ignore[arg-type]
    return events


async def measure(store: Store, prior: int, with_ids: bool, batches: int) -> float:
    """Thread CPU (us) per batch for `batches` users, each holding `prior` ids already."""
    now = time.time()
    users = [f"bench-{prior}-{with_ids}-{i}" for i in range(batches)]
    for user in users:  # the user's history: `prior` ids (7 a batch), outside the measurement
        for _ in range(0, prior, 7):
            await store.users.record_events(user, batch(with_ids, now - 3600), now - 3600)
        if not prior:
            await store.users.record_events(user, batch(False, now - 3600), now - 3600)
    start = time.thread_time()
    for user in users:
        await store.users.record_events(user, batch(with_ids, now), now)
    return 1e6 * (time.thread_time() - start) / batches


async def run(url: str, batches: int, priors: list[int]) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(url, Path(tmp))
        await store.open()
        try:
            out = {"no ids": round(await measure(store, 0, False, batches), 1)}
            if HAS_IDS:
                for prior in priors:
                    cost = await measure(store, prior, True, max(50, batches // (1 + prior // 100)))
                    out[f"ids, {prior} stored"] = round(cost, 1)
        finally:
            await store.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redis", default="", help="a redis:// URL (default: SQLite)")
    parser.add_argument("--batches", type=int, default=2000)
    parser.add_argument("--priors", default="0,49,994")
    args = parser.parse_args()
    priors = [int(p) for p in args.priors.split(",")]
    result = asyncio.run(run(args.redis, args.batches, priors))
    print(json.dumps({"store": "redis" if args.redis else "sqlite", "us_per_batch": result}))


if __name__ == "__main__":
    main()
