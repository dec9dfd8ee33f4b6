"""SQLite's group commit of served orders: concurrent launches share one transaction, each
caller returns once its order is committed, erasure drops a queued order, a failure reaches
every caller."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import pytest

from uiserver.store.base import ErasedMeanwhile, StoreUnavailable
from uiserver.store.sqlite.store import SQLiteStore

pytestmark = pytest.mark.anyio


def _count_transactions(store: SQLiteStore) -> list[int]:
    """Wrap the group commit's transaction context; the list grows by one per transaction."""
    seen: list[int] = []
    inner = store.users._order_writes._tx

    @contextmanager
    def counted(**kwargs: Any) -> Iterator[Any]:
        seen.append(1)
        with inner(**kwargs) as conn:
            yield conn

    store.users._order_writes._tx = counted
    return seen


async def test_concurrent_orders_share_one_transaction(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "db.sqlite")
    await store.open()
    transactions = _count_transactions(store)
    await asyncio.gather(
        *(store.users.set_last_order(f"u{i}", "home", [f"c{i}", "x"]) for i in range(20))
    )
    assert len(transactions) == 1
    for i in range(20):
        assert (await store.users.get_profile(f"u{i}")).last_order == {"home": [f"c{i}", "x"]}
    await store.users.set_last_order("u0", "home", ["later"])  # alone: its own transaction
    assert len(transactions) == 2
    assert (await store.users.get_profile("u0")).last_order == {"home": ["later"]}
    await store.close()


async def test_erasure_drops_a_queued_order(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "db.sqlite")
    await store.open()
    write = asyncio.ensure_future(store.users.set_last_order("gone", "home", ["a", "b"]))
    kept = asyncio.ensure_future(store.users.set_last_order("stays", "home", ["b", "a"]))
    await asyncio.sleep(0)  # both queued, the batch not written yet
    await store.users.erase_user("gone")
    await asyncio.gather(write, kept)
    assert (await store.users.get_profile("gone")).last_order == {}
    assert (await store.users.export_user("gone")).last_order == {}
    assert (await store.users.get_profile("stays")).last_order == {"home": ["b", "a"]}
    await store.close()


async def test_a_failed_batch_reaches_every_caller(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "db.sqlite")
    await store.open()

    def broken(**kwargs: Any) -> AbstractContextManager[Any]:
        raise StoreUnavailable("disk on fire")

    store.users._order_writes._tx = broken
    results = await asyncio.gather(
        *(store.users.set_last_order(f"u{i}", "home", ["a"]) for i in range(3)),
        return_exceptions=True,
    )
    assert all(isinstance(r, StoreUnavailable) for r in results)
    await store.close()


async def test_an_order_read_before_an_erase_is_refused_alone(tmp_path: Path) -> None:
    """Each queued order is checked against its own erasure epoch inside the shared
    transaction: the erased user's caller gets ErasedMeanwhile, the others are written."""
    store = SQLiteStore(tmp_path / "db.sqlite")
    await store.open()
    epoch = await store.users.erasure_epoch("gone")
    await store.users.erase_user("gone")  # after the launch read its epoch, before its write
    results = await asyncio.gather(
        store.users.set_last_order("gone", "home", ["a"], epoch),
        store.users.set_last_order(
            "stays", "home", ["b"], await store.users.erasure_epoch("stays")
        ),
        return_exceptions=True,
    )
    assert isinstance(results[0], ErasedMeanwhile) and results[1] is None
    assert (await store.users.get_profile("gone")).last_order == {}
    assert (await store.users.get_profile("stays")).last_order == {"home": ["b"]}
    await store.close()
