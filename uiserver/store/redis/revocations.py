"""The Redis store's revocations (keys under the store's prefix):

  revocations   hash  "{kind}:{value}" -> msgpack Revocation

One small hash (revocations are rare administrative acts, and expire): a write WATCHes it,
keeps the later not-before, drops expired fields and PUBLISHes the record itself in its MULTI,
so every replica applies it from the message within milliseconds. User erasure never looks at
this key: erasing a user's data does not lift a revocation of their tokens.
"""

from __future__ import annotations

import msgspec
from redis.asyncio.client import Pipeline

from uiserver.store.base import Invalidation, Revocation
from uiserver.store.redis.connection import Connection
from uiserver.store.redis.errors import guard
from uiserver.store.redis.tx import watched

_encode = msgspec.msgpack.Encoder().encode
_decode = msgspec.msgpack.Decoder(Revocation).decode
encode_json = msgspec.json.Encoder().encode


def _bytes(raw: bytes | str) -> bytes:
    """The client answers bytes (decode_responses=False); redis-py's types also allow str."""
    return raw if isinstance(raw, bytes) else raw.encode()


def _field(kind: str, value: str) -> str:
    return f"{kind}:{value}"


def merged(old: Revocation | None, new: Revocation) -> Revocation:
    """The later not-before and expiry of the two (a revocation never moves back)."""
    if old is None:
        return new
    return msgspec.structs.replace(
        new,
        not_before=max(old.not_before, new.not_before),
        expires=max(old.expires, new.expires),
    )


class RedisRevocations:
    """The RevocationStore half of RedisStore."""

    def __init__(self, conn: Connection) -> None:
        self._redis = conn.redis
        self._channel = conn.channel
        self._listeners = conn.listeners
        self._key = conn.keys.group("rev", "revocations")
        self._channel_name = conn.keys.group_channel("rev")

    async def revoke(self, revocation: Revocation) -> Revocation:
        field = _field(revocation.kind, revocation.value)

        async def attempt(pipe: Pipeline) -> tuple[Revocation, list[Invalidation]]:
            raw = await pipe.hgetall(self._key)
            records = {_bytes(k).decode(): _decode(_bytes(v)) for k, v in raw.items()}
            stored = merged(records.get(field), revocation)
            expired = [
                name
                for name, record in records.items()
                if record.expires < revocation.not_before and name != field
            ]
            changes = [Invalidation("revocation", encode_json(stored).decode())]
            pipe.multi()  # type: ignore[no-untyped-call]  # untyped in redis-py
            pipe.hset(self._key, field, _encode(stored))
            if expired:
                pipe.hdel(self._key, *expired)
            self._channel.publish(pipe, changes, self._channel_name)
            await pipe.execute()
            return stored, changes

        stored, changes = await watched(
            self._redis, [self._key], attempt, "revocation write kept conflicting"
        )
        self._listeners.emit(changes)
        return stored

    async def revocations(self, now: float) -> list[Revocation]:
        with guard():
            raw = await self._redis.hvals(self._key)
        records = [_decode(_bytes(value)) for value in raw]
        return sorted((r for r in records if r.expires >= now), key=lambda r: (r.kind, r.value))
