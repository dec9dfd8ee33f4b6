"""Fixtures shared by the whole suite: a real redis-server, clean databases, the async backend.

Async tests use anyio's pytest plugin (`@pytest.mark.anyio`) on asyncio.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from playwright.sync_api import Browser, sync_playwright

from tests.helpers.browser import Server, launch, running_server
from tests.helpers.redis import RedisClusterSet, RedisServer


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URL of a real redis-server shared by the session (no persistence)."""
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture
def redis_url(redis_server: str) -> str:
    """The session server, emptied for this test."""
    with redis.Redis.from_url(redis_server) as client:
        client.flushall()
    return redis_server


@pytest.fixture
def redis_factory(tmp_path: Path) -> Iterator[Callable[..., RedisServer]]:
    """Start extra redis-servers this test owns (e.g. to stop and restart one)."""
    servers: list[RedisServer] = []

    def start(*, persistent: bool = False) -> RedisServer:
        server = RedisServer(tmp_path / f"redis-{len(servers)}", persistent=persistent)
        servers.append(server)
        server.start()
        return server

    yield start
    for server in servers:
        server.stop()


# ---------------------------------------------------------------------------------- browser
# One real `uiserver serve` and one Debian Chromium per browser test module (module scope).


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[RedisClusterSet]:
    """A real 3-primary Redis Cluster (+3 replicas) this test owns (it may kill nodes),
    stopped after the test."""
    nodes = RedisClusterSet(tmp_path / "cluster")
    try:
        nodes.start()
        yield nodes
    finally:
        nodes.stop()


@pytest.fixture(scope="session")
def _session_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisClusterSet]:
    nodes = RedisClusterSet(tmp_path_factory.mktemp("cluster"))
    try:
        nodes.start()
        yield nodes
    finally:
        nodes.stop()


@pytest.fixture
def shared_cluster(_session_cluster: RedisClusterSet) -> RedisClusterSet:
    """A real 3-primary Redis Cluster (+3 replicas) shared by the session's tests that kill,
    stop or reconfigure no node, emptied (FLUSHALL on every primary) for this test: starting
    one, `redis-cli --cluster create` and the replicas' sync, took ~6 s a test."""
    _session_cluster.wait_ok()
    _session_cluster.flush()
    return _session_cluster


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with running_server(tmp_path_factory.mktemp("browser") / "data") as running:
        yield running


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = launch(playwright)
        yield chromium
        chromium.close()


# ---------------------------------------------------------------------------------- markers
# Markers are honest: a test that gets a real redis-server or Chromium says so, so that
# `-m "not redis"` or `-m "not browser"` never runs one.
NEEDS = {
    "redis": {"redis_server", "redis_url", "redis_factory"},
    "browser": {"browser"},
}


def _needs(item: pytest.Function) -> set[str]:
    """The markers a test needs: by the fixtures it requests, and by a backend parameter
    (`params=["sqlite", "redis"]` fixtures fetch `redis_url` at run time, unseen here)."""
    needed = {marker for marker, fixtures in NEEDS.items() if fixtures & set(item.fixturenames)}
    callspec = getattr(item, "callspec", None)
    if callspec is not None and "redis" in callspec.params.values():
        needed.add("redis")
    return needed


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    dishonest = [
        f"{item.nodeid} needs @{marker}"
        for item in items
        if isinstance(item, pytest.Function)
        for marker in sorted(_needs(item))
        if item.get_closest_marker(marker) is None
    ]
    if dishonest:
        raise pytest.UsageError("unmarked tests:\n" + "\n".join(dishonest))
