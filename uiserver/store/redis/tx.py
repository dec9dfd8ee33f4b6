"""The Redis store's optimistic transactions: WATCH, read, MULTI/EXEC, retried on conflict."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

import redis.asyncio as aioredis
from redis.asyncio.client import Pipeline
from redis.exceptions import WatchError

from uiserver.store._common import MAX_TX_ATTEMPTS
from uiserver.store.base import StoreUnavailable
from uiserver.store.redis.errors import guard

T = TypeVar("T")


async def watched(
    redis: aioredis.Redis,
    keys: Sequence[str],
    attempt: Callable[[Pipeline], Awaitable[T]],
    conflict: str,
    pipeline: Callable[[], Pipeline] | None = None,
) -> T:
    """`attempt(pipe)` under WATCH of `keys` (none watched when empty), repeated from the WATCH
    on a conflict (WatchError), up to MAX_TX_ATTEMPTS times; returns what `attempt` returns.
    `attempt` reads through `pipe`, then queues its writes after `pipe.multi()` and executes
    them, or unwatches and returns early. `pipeline`: where the transaction runs (default
    `redis.pipeline(transaction=True)`; `durable.Durable.pipeline` for writes that wait for
    replicas). Raises StoreUnavailable(`conflict`) when every
    attempt conflicted, and (via `guard`) on connection trouble or refusals."""
    with guard():
        async with pipeline() if pipeline else redis.pipeline(transaction=True) as pipe:
            for _ in range(MAX_TX_ATTEMPTS):
                try:
                    if keys:
                        await pipe.watch(*keys)
                    return await attempt(pipe)
                except WatchError:
                    continue
    raise StoreUnavailable(conflict, "conflict")
