"""The Redis store's `CapabilityStore` (keys under the store's prefix):

  captypes         hash  digest -> JSON list of the registered drawable types
  kills            hash  type -> JSON KillSwitch (one per type)
  rseen:{day}      hash  renderer version -> launches that day (expires after 40 days)

No user id in any of them. A kill switch write PUBLISHes `all` in its MULTI, so every replica
reloads the switches and drops what it cached.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import msgspec
from redis.asyncio.client import Pipeline

from uiserver.engine.capability import KillSwitch
from uiserver.store.base import MAX_RENDERERS_A_DAY, MAX_TYPE_LISTS, Invalidation, RegistryFull
from uiserver.store.redis.connection import Connection
from uiserver.store.redis.errors import guard
from uiserver.store.redis.tx import watched

_encode = msgspec.json.Encoder().encode
_switch = msgspec.json.Decoder(KillSwitch).decode
_types = msgspec.json.Decoder(list[str]).decode
SEEN_TTL_S = 40 * 86_400


def _text(raw: bytes | str) -> str:
    return raw.decode() if isinstance(raw, bytes) else raw


class RedisCapabilities:
    """The CapabilityStore half of RedisStore."""

    def __init__(self, conn: Connection) -> None:
        self._redis = conn.redis
        self._channel = conn.channel
        self._listeners = conn.listeners
        prefix = conn.keys.prefix
        self._types_key = f"{prefix}captypes"
        # a cluster: in the templates' slot, whose channel its transaction publishes on
        self._kills_key = conn.keys.group("tpl", "kills")
        self._channel_name = conn.keys.group_channel("tpl")
        self._seen_prefix = f"{prefix}rseen:"

    async def register_types(self, digest: str, types: frozenset[str]) -> None:
        async def attempt(pipe: Pipeline) -> None:
            if await pipe.hexists(self._types_key, digest):
                await pipe.unwatch()  # type: ignore[no-untyped-call]  # untyped in redis-py
                return
            if await pipe.hlen(self._types_key) >= MAX_TYPE_LISTS:
                await pipe.unwatch()  # type: ignore[no-untyped-call]  # untyped in redis-py
                raise RegistryFull(f"{MAX_TYPE_LISTS} type lists are registered already")
            pipe.multi()  # type: ignore[no-untyped-call]  # untyped in redis-py
            pipe.hset(self._types_key, digest, _encode(sorted(types)))
            await pipe.execute()

        await watched(self._redis, [self._types_key], attempt, "type list write kept conflicting")

    async def registered_types(self, digest: str) -> frozenset[str] | None:
        with guard():
            raw = await self._redis.hget(self._types_key, digest)
        return None if raw is None else frozenset(_types(raw))

    async def kill_switches(self) -> list[KillSwitch]:
        with guard():
            raw = await self._redis.hvals(self._kills_key)
        return sorted((_switch(v) for v in raw), key=lambda k: k.type)

    async def _write(self, queue: Callable[[Pipeline], object]) -> None:
        changes = [Invalidation("all")]
        with guard():
            async with self._redis.pipeline(transaction=True) as pipe:
                queue(pipe)
                self._channel.publish(pipe, changes, self._channel_name)
                await pipe.execute()
        self._listeners.emit(changes)

    async def put_kill_switch(self, switch: KillSwitch) -> None:
        await self._write(lambda pipe: pipe.hset(self._kills_key, switch.type, _encode(switch)))

    async def delete_kill_switch(self, type_name: str) -> bool:
        with guard():
            known = await self._redis.hexists(self._kills_key, type_name)
        if not known:
            return False
        await self._write(lambda pipe: pipe.hdel(self._kills_key, type_name))
        return True

    async def note_renderers(self, day: int, launches: Mapping[str, int]) -> None:
        if not launches:
            return
        key = f"{self._seen_prefix}{day}"
        with guard():
            known = {_text(k) for k in await self._redis.hkeys(key)}
            async with self._redis.pipeline(transaction=True) as pipe:
                for renderer, n in sorted(launches.items()):
                    if renderer not in known and len(known) >= MAX_RENDERERS_A_DAY:
                        renderer = "other"
                    known.add(renderer)
                    pipe.hincrby(key, renderer, n)
                pipe.expire(key, SEEN_TTL_S)
                await pipe.execute()

    async def renderers(self, since_day: int) -> dict[str, int]:
        out: dict[str, int] = {}
        with guard():
            async for raw in self._redis.scan_iter(match=f"{self._seen_prefix}*", count=100):
                day = _text(raw)[len(self._seen_prefix) :]
                if not day.isdigit() or int(day) < since_day:
                    continue
                for renderer, n in (await self._redis.hgetall(raw)).items():
                    out[_text(renderer)] = out.get(_text(renderer), 0) + int(n)
        return dict(sorted(out.items()))
