"""Rollout schedules on both stores (SQLite file, real redis-server): one active schedule per
page, every update a compare-and-set on the revision (of two replicas writing the same revision,
exactly one wins), an inactive one frees its page, old ones forgotten past SCHEDULES_KEPT."""

from __future__ import annotations

import asyncio

import pytest

from tests.helpers.stores import NOW, StoreFactory
from uiserver.store.base import SCHEDULES_KEPT, ScheduleRow, Store

pytestmark = pytest.mark.anyio


def row(page: str, id_: str, rev: int = 1, active: bool = True, at: float = NOW) -> ScheduleRow:
    return ScheduleRow(page, id_, rev, active, at, f"{id_}@{rev}".encode())


async def test_one_active_schedule_per_page(store: Store) -> None:
    assert await store.schedules.create_schedule(row("home", "a")) is None
    refused = await store.schedules.create_schedule(row("home", "b", at=NOW + 1))
    assert refused == row("home", "a")
    assert await store.schedules.create_schedule(row("cart", "c")) is None
    assert [r.page for r in await store.schedules.schedules()] == ["cart", "home"]
    assert [r.id for r in await store.schedules.schedules("home")] == ["a"]
    # An inactive revision frees the page; the next schedule is the newest.
    assert await store.schedules.update_schedule(row("home", "a", 2, active=False), 1)
    assert [r.page for r in await store.schedules.schedules()] == ["cart"]
    assert await store.schedules.create_schedule(row("home", "b", at=NOW + 1)) is None
    assert [(r.id, r.rev, r.active) for r in await store.schedules.schedules("home")] == [
        ("b", 1, True),
        ("a", 2, False),
    ]
    assert (await store.schedules.schedules("home"))[1].document == b"a@2"


async def test_exactly_one_of_two_replicas_takes_a_revision(make_store: StoreFactory) -> None:
    one, two = await make_store(), await make_store()
    assert await one.schedules.create_schedule(row("home", "a")) is None
    for rev in range(1, 30):
        results = await asyncio.gather(
            one.schedules.update_schedule(row("home", "a", rev + 1), rev),
            two.schedules.update_schedule(row("home", "a", rev + 1), rev),
        )
        assert sorted(results) == [False, True]
    assert not await one.schedules.update_schedule(row("home", "a", 99), 5)  # stale
    assert not await one.schedules.update_schedule(row("home", "zz", 2), 1)  # unknown
    (stored,) = await two.schedules.schedules("home")
    assert stored.rev == 30 and stored.document == b"a@30"


async def test_old_schedules_are_forgotten(store: Store) -> None:
    for n in range(SCHEDULES_KEPT + 5):
        assert await store.schedules.create_schedule(row("home", f"s{n:02}", at=NOW + n)) is None
        assert await store.schedules.update_schedule(
            row("home", f"s{n:02}", 2, active=False, at=NOW + n), 1
        )
    kept = await store.schedules.schedules("home")
    assert len(kept) <= SCHEDULES_KEPT + 1
    assert kept[0].id == f"s{SCHEDULES_KEPT + 4:02}"
    assert "s00" not in {r.id for r in kept}
