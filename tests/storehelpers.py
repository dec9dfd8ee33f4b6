"""Stores for the store tests: several opened on the same data (file or Redis) act as replicas."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from uiserver.store.base import Store
from uiserver.store.factory import open_store

StoreFactory = Callable[[], Awaitable[Store]]


@asynccontextmanager
async def store_factory(url: str, directory: Path) -> AsyncIterator[StoreFactory]:
    """Yields `make()`, which opens one more store on `url` (Redis) or on SQLite in `directory`
    (`url` empty); every store made is closed on exit."""
    opened: list[Store] = []

    async def make() -> Store:
        store = open_store(url, directory)
        await store.open()
        opened.append(store)
        return store

    try:
        yield make
    finally:
        for store in opened:
            await store.close()
