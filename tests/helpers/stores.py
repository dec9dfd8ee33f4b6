"""Stores for the store tests: several opened on the same data (file or Redis) act as replicas."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

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


NOW = 1_700_000_000.0


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("redis", id="redis", marks=pytest.mark.redis),
    ]
)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def make_store(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[StoreFactory]:
    """Opens stores of the backend under test, all on the same data (file or Redis)."""
    url = request.getfixturevalue("redis_url") if backend == "redis" else ""
    async with store_factory(url, tmp_path) as make:
        yield make


@pytest.fixture
async def store(make_store: StoreFactory) -> Store:
    return await make_store()
