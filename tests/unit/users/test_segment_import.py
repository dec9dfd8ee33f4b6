"""A large segment import (issue 27, section 4): checked whole, then written in batches that
yield the event loop between them, with one `all` invalidation at the end; one bad item still
stores nothing. On SQLite and a real Redis."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import msgspec
import pytest

from tests.helpers.stores import StoreFactory
from uiserver.admin import import_segments
from uiserver.documents import DocumentError
from uiserver.policy import load_policy
from uiserver.store.base import Invalidation, Store, UserStore
from uiserver.users.data import UserData
from uiserver.users.segments import IMPORT_BATCH, IMPORT_LIMITS

pytestmark = pytest.mark.anyio


class Recording:
    """The store's user role, recording each segment write (size, invalidation) in order."""

    def __init__(self, inner: UserStore, log: list[tuple[int, str]]) -> None:
        self.inner = inner
        self.log = log

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)

    async def put_segments(
        self,
        assignments: Sequence[tuple[str, Sequence[str]]],
        invalidation: str = "users",
    ) -> int:
        self.log.append((len(assignments), invalidation))
        if invalidation == "users":
            return await self.inner.put_segments(assignments)
        return await self.inner.put_segments(assignments, invalidation)  # type: ignore[arg-type]


def body(users: int, *, lines: bool, bad_at: int | None = None) -> bytes:
    items = [
        {"user": f"u{i}", "segments": ["Bad Name" if i == bad_at else "rfm_high"]}
        for i in range(users)
    ]
    if lines:
        return b"\n".join(msgspec.json.encode(item) for item in items)
    return msgspec.json.encode(items)


async def users_of(store: Store, log: list[tuple[int, str]]) -> UserData:
    return UserData(Recording(store.users, log), load_policy())  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "lines", [pytest.param(True, id="json-lines"), pytest.param(False, id="array")]
)
async def test_an_import_is_written_in_batches_that_yield_the_loop(
    make_store: StoreFactory, lines: bool
) -> None:
    """Was one transaction of every user, with the loop held from the parse to the commit."""
    store = await make_store()
    heard: list[Invalidation] = []
    store.add_listener(heard.append)
    log: list[tuple[int, str]] = []
    users = await users_of(store, log)
    total = 2 * IMPORT_BATCH + IMPORT_BATCH // 2
    ticks: list[int] = []  # batches written each time another task got the loop
    done = asyncio.Event()

    async def other_requests() -> None:
        while not done.is_set():
            ticks.append(len(log))
            await asyncio.sleep(0)

    ticker = asyncio.create_task(other_requests())
    try:
        written = await import_segments(users, body(total, lines=lines))
    finally:
        done.set()
        await ticker
    assert written == total
    assert log == [
        (IMPORT_BATCH, "none"),
        (IMPORT_BATCH, "none"),
        (IMPORT_BATCH // 2, "none"),
        (0, "all"),
    ]
    assert heard == [Invalidation("all")]  # one, at the end: not one per batch
    assert {1, 2} <= set(ticks), ticks  # other tasks ran between the batches
    assert ticks.count(0) > 2  # ... and while the import was being checked
    assert (await store.users.export_user(f"u{total - 1}")).segments == ["rfm_high"]


@pytest.mark.parametrize(
    "lines", [pytest.param(True, id="json-lines"), pytest.param(False, id="array")]
)
async def test_one_bad_item_in_the_last_batch_stores_nothing(
    make_store: StoreFactory, lines: bool
) -> None:
    store = await make_store()
    log: list[tuple[int, str]] = []
    users = await users_of(store, log)
    total = 3 * IMPORT_BATCH
    with pytest.raises(DocumentError) as refused:
        await import_segments(users, body(total, lines=lines, bad_at=total - 1))
    where = f"line {total}" if lines else f"[{total - 1}]"
    assert refused.value.field == f"{where}.segments[0]"
    assert log == []
    assert (await store.users.export_user("u0")).segments == []


async def test_an_import_over_the_size_limit_is_refused_whole(store: Store) -> None:
    """The console's form limit is the percent-encoded size: what it decodes to can pass
    20 MiB (JSON lines padded with blank lines here), and the import refuses it unread."""
    log: list[tuple[int, str]] = []
    users = await users_of(store, log)
    padded = body(10, lines=True) + b"\n" * IMPORT_LIMITS.max_bytes
    with pytest.raises(DocumentError, match=f"over {IMPORT_LIMITS.max_bytes} bytes"):
        await import_segments(users, padded)
    assert log == []
    assert (await store.users.export_user("u0")).segments == []
    assert await import_segments(users, body(10, lines=True)) == 10  # within it: imported


async def test_a_small_import_is_one_write_invalidating_each_user(make_store: StoreFactory) -> None:
    store = await make_store()
    heard: list[Invalidation] = []
    store.add_listener(heard.append)
    log: list[tuple[int, str]] = []
    users = await users_of(store, log)
    lines = (
        b'{"user": "a", "segments": ["x"]}\n{"user": "b", "segments": []}\n'
        b'{"user": "a", "segments": ["y"]}'
    )
    assert await import_segments(users, lines) == 2  # a user named twice counts once
    assert log == [(3, "users")]
    assert sorted(i.key for i in heard) == ["a", "b"]
    assert (await store.users.export_user("a")).segments == ["y"]  # the last one wins


async def test_a_user_named_in_two_batches_counts_once_and_keeps_the_last(
    make_store: StoreFactory,
) -> None:
    store = await make_store()
    users = await users_of(store, [])
    items = [{"user": f"u{i}", "segments": ["first"]} for i in range(IMPORT_BATCH)]
    items += [{"user": "u0", "segments": ["last"]}]
    assert await import_segments(users, msgspec.json.encode(items)) == IMPORT_BATCH
    assert (await store.users.export_user("u0")).segments == ["last"]
