"""Group commit of the orders served (`SQLiteUsers.set_last_order`), one transaction per batch.

A first launch of a user with enough evidence remembers the order it served. Alone, each such
write is a write transaction (~40 us of CPU: BEGIN IMMEDIATE, the upsert, COMMIT to the WAL);
a row inside a shared transaction costs ~3 us. The first caller yields to the event loop once,
so the launches already scheduled add their orders, then writes them all; every caller returns
when its own order is committed, or raises what the write raised.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from contextlib import AbstractContextManager

from uiserver.store.base import ErasedMeanwhile
from uiserver.store.sqlite import erasure

UPSERT = (
    "INSERT INTO last_orders (user_id, page, components) VALUES (?, ?, ?) "
    "ON CONFLICT (user_id, page) DO UPDATE SET components = excluded.components "
    "WHERE components IS NOT excluded.components"
)


class GroupCommit:
    """Queued (user, page) -> (order JSON, erasure epoch), written by whichever caller opened
    the batch. Each order is checked against its epoch inside the shared transaction
    (`erasure.check`): an order of a user erased meanwhile is not written, and only its
    caller gets ErasedMeanwhile.

    `tx(write=True)` is the store's transaction context (raises StoreUnavailable).
    """

    def __init__(self, tx: Callable[..., AbstractContextManager[sqlite3.Connection]]) -> None:
        self._tx = tx
        self._queued: dict[tuple[str, str], tuple[str, int | None]] = {}
        self._done: asyncio.Future[dict[tuple[str, str], ErasedMeanwhile]] | None = None

    async def put(self, user_id: str, page: str, components: str, epoch: int | None) -> None:
        """Queue one order (the JSON of its ids) and return once it is committed."""
        key = (user_id, page)
        self._queued[key] = (components, epoch)
        done = self._done
        if done is None:
            done = self._done = asyncio.get_running_loop().create_future()
            try:
                await asyncio.sleep(0)
            finally:
                batch, self._queued, self._done = self._queued, {}, None
            try:
                done.set_result(self._write(batch))
            except BaseException as exc:
                done.set_exception(exc)
                done.exception()  # retrieved: no "never retrieved" warning when nobody waits
                raise
        refused = (await done).get(key)
        if refused is not None:
            raise refused

    def _write(
        self, batch: dict[tuple[str, str], tuple[str, int | None]]
    ) -> dict[tuple[str, str], ErasedMeanwhile]:
        refused: dict[tuple[str, str], ErasedMeanwhile] = {}
        with self._tx(write=True) as conn:
            rows = []
            for (user, page), (components, epoch) in batch.items():
                try:
                    erasure.check(conn, user, epoch)
                except ErasedMeanwhile as exc:
                    refused[user, page] = exc
                    continue
                rows.append((user, page, components))
            conn.executemany(UPSERT, rows)
        return refused

    def forget(self, user_id: str) -> None:
        """Drop the user's queued orders (erasure: nothing about them may be written after)."""
        self._queued = {key: v for key, v in self._queued.items() if key[0] != user_id}
