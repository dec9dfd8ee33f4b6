"""Durable writes (template writes, erasure) wait for replicas: with none to confirm within the
timeout they raise NotReplicated (a StoreUnavailable), yet the write is on the primary and this
process's caches hear of it. Real redis-server, no replica."""

from __future__ import annotations

import pytest

from uiserver.schema import Settings
from uiserver.store.base import Invalidation, StoreUnavailable
from uiserver.store.redis.durable import NotReplicated
from uiserver.store.redis.store import RedisStore

pytestmark = [pytest.mark.anyio, pytest.mark.redis]


async def test_without_a_replica_a_durable_write_is_refused_but_kept(redis_url: str) -> None:
    store = RedisStore(f"{redis_url}?wait_replicas=1&wait_timeout_ms=50")
    await store.open()
    heard: list[Invalidation] = []
    store.add_listener(heard.append)
    try:
        await store.users.put_settings("u1", Settings(font_scale=1.5))  # not durable: no WAIT
        with pytest.raises(NotReplicated, match="0 of the 1 replicas"):
            await store.users.erase_user("u1")
        assert isinstance(NotReplicated("x"), StoreUnavailable)  # 503 at the edge
        assert (await store.users.get_settings("u1")).font_scale == 1.0  # erased all the same
        assert heard[-1] == Invalidation("user", "u1")
        with pytest.raises(NotReplicated):
            await store.templates.publish("home", "v1", b'{"page": "home"}', "ann", "m", 1.0)
        assert heard[-1] == Invalidation("template", "home")
        assert (await store.templates.get_version("home", "v1")) is not None
    finally:
        await store.close()


async def test_without_wait_options_a_single_server_does_not_wait(redis_url: str) -> None:
    store = RedisStore(redis_url)
    await store.open()
    try:
        assert store.conn.durable.replicas == 0
        await store.users.erase_user("u1")  # no replica, no WAIT: acknowledged
    finally:
        await store.close()


async def test_a_refusal_inside_a_transaction_is_unavailable_not_a_bug(redis_url: str) -> None:
    """NOREPLICAS (min-replicas-to-write unmet) on a command of a MULTI: redis-py prefixes the
    reply with "Command # 1 (...) of pipeline caused error: "; still a 503, not a 500."""
    store = RedisStore(redis_url)
    await store.open()
    try:
        await store.conn.redis.config_set("min-replicas-to-write", 1)
        with pytest.raises(StoreUnavailable, match=r"^redis: NOREPLICAS"):
            await store.users.put_settings("u1", Settings(font_scale=1.5))
        with pytest.raises(StoreUnavailable, match=r"^redis: NOREPLICAS"):
            await store.users.erase_user("u1")
    finally:
        await store.conn.redis.config_set("min-replicas-to-write", 0)
        await store.close()
