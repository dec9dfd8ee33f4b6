"""The Redis store's webhooks (keys under the store's prefix):

  webhooks   hash  id -> msgpack Webhook (its cursor into the audit log, its lease)

A lease or a progress write WATCHes the hash, checks the lease and writes in one MULTI/EXEC,
so two replicas never both hold a hook. Webhooks are few: one small hash.
"""

from __future__ import annotations

from collections.abc import Callable

import msgspec
from redis.asyncio.client import Pipeline

from uiserver.store import hook_writes
from uiserver.store.base import Progress, Webhook
from uiserver.store.redis.connection import Connection
from uiserver.store.redis.errors import guard
from uiserver.store.redis.tx import watched

_encode = msgspec.msgpack.Encoder().encode
_decode = msgspec.msgpack.Decoder(Webhook).decode


def _bytes(raw: bytes | str) -> bytes:
    return raw if isinstance(raw, bytes) else raw.encode()


class RedisWebhooks:
    """The WebhookStore half of RedisStore."""

    def __init__(self, conn: Connection) -> None:
        self._redis = conn.redis
        self._key = f"{conn.keys.prefix}webhooks"

    async def add_hook(self, hook: Webhook) -> None:
        with guard():
            await self._redis.hset(self._key, hook.id, _encode(hook))

    async def hooks(self) -> list[Webhook]:
        with guard():
            raw = await self._redis.hvals(self._key)
        return sorted((_decode(_bytes(v)) for v in raw), key=lambda h: (h.created, h.id))

    async def delete_hook(self, hook_id: str) -> bool:
        with guard():
            return bool(await self._redis.hdel(self._key, hook_id))

    async def _update(
        self, hook_id: str, change: Callable[[Webhook], Webhook | None]
    ) -> Webhook | None:
        async def attempt(pipe: Pipeline) -> Webhook | None:
            raw = await pipe.hget(self._key, hook_id)
            changed = None if raw is None else change(_decode(_bytes(raw)))
            if changed is None:
                await pipe.unwatch()  # type: ignore[no-untyped-call]  # untyped in redis-py
                return None
            pipe.multi()  # type: ignore[no-untyped-call]  # untyped in redis-py
            pipe.hset(self._key, hook_id, _encode(changed))
            await pipe.execute()
            return changed

        return await watched(self._redis, [self._key], attempt, "webhook write kept conflicting")

    async def lease(self, hook_id: str, owner: str, now: float, ttl: float) -> Webhook | None:
        return await self._update(hook_id, lambda h: hook_writes.leased(h, owner, now, ttl))

    async def progress(self, hook_id: str, owner: str, step: Progress) -> bool:
        changed = await self._update(hook_id, lambda h: hook_writes.progressed(h, owner, step))
        return changed is not None
