"""Group commit of the orders served (`SQLiteStore.set_last_order`), one transaction per batch.

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

UPSERT = (
    "INSERT INTO last_orders (user_id, page, components) VALUES (?, ?, ?) "
    "ON CONFLICT (user_id, page) DO UPDATE SET components = excluded.components "
    "WHERE components IS NOT excluded.components"
)


class GroupCommit:
    """Queued (user, page) -> order JSON, written by whichever caller opened the batch.

    `tx(write=True)` is the store's transaction context (raises StoreUnavailable).
    """

    def __init__(self, tx: Callable[..., AbstractContextManager[sqlite3.Connection]]) -> None:
        self._tx = tx
        self._queued: dict[tuple[str, str], str] = {}
        self._done: asyncio.Future[None] | None = None

    async def put(self, user_id: str, page: str, components: str) -> None:
        """Queue one order (the JSON of its ids) and return once it is committed."""
        self._queued[user_id, page] = components
        done = self._done
        if done is not None:
            await done
            return
        done = self._done = asyncio.get_running_loop().create_future()
        try:
            await asyncio.sleep(0)
        finally:
            batch, self._queued, self._done = self._queued, {}, None
        try:
            with self._tx(write=True) as conn:
                conn.executemany(UPSERT, [(u, p, c) for (u, p), c in batch.items()])
        except BaseException as exc:
            done.set_exception(exc)
            done.exception()  # retrieved: no "never retrieved" warning when nobody else waits
            raise
        done.set_result(None)

    def forget(self, user_id: str) -> None:
        """Drop the user's queued orders (erasure: nothing about them may be written after)."""
        self._queued = {key: c for key, c in self._queued.items() if key[0] != user_id}
