"""The Redis store's console sessions (keys under the store's prefix):

  session:{id hash}    string  msgpack SessionRecord, expiring at the session's absolute end
  sessfam:{family}     set     the id hashes of one sign-in (rotation adds to it; logout
                               deletes every one), expiring with them

Only the SHA-256 of a cookie's value is a key: the value itself is never stored. Rotation and
logout are WATCH/MULTI transactions, so a rotation racing a logout either lands before it (and
is ended with the family) or finds the old id gone and stores nothing.
"""

from __future__ import annotations

import msgspec
from redis.asyncio.client import Pipeline

from uiserver.store.base import SessionRecord
from uiserver.store.redis.connection import Connection
from uiserver.store.redis.errors import guard
from uiserver.store.redis.tx import watched

_encode = msgspec.msgpack.Encoder().encode
_decode = msgspec.msgpack.Decoder(SessionRecord).decode


def _bytes(raw: bytes | str) -> bytes:
    """The client answers bytes (decode_responses=False); redis-py's types also allow str."""
    return raw if isinstance(raw, bytes) else raw.encode()


def _ms(seconds: float) -> int:
    return max(1, int(seconds * 1000))


class RedisSessions:
    """The SessionStore half of RedisStore."""

    def __init__(self, conn: Connection) -> None:
        self._redis = conn.redis
        self._keys = conn.keys

    def _key(self, id_hash: str) -> str:
        return self._keys.group("sess", f"session:{id_hash}")

    def _family(self, family: str) -> str:
        return self._keys.group("sess", f"sessfam:{family}")

    def _put(self, pipe: Pipeline, record: SessionRecord) -> None:
        pipe.set(self._key(record.id_hash), _encode(record), pxat=_ms(record.expires))
        pipe.sadd(self._family(record.family), record.id_hash)
        pipe.pexpireat(self._family(record.family), _ms(record.expires))

    async def create_session(self, record: SessionRecord, now: float) -> None:
        with guard():
            async with self._redis.pipeline(transaction=True) as pipe:
                self._put(pipe, record)
                await pipe.execute()

    async def get_session(self, id_hash: str) -> SessionRecord | None:
        with guard():
            raw = await self._redis.get(self._key(id_hash))
        return None if raw is None else _decode(_bytes(raw))

    async def touch_session(self, id_hash: str, last_seen: float) -> None:
        key = self._key(id_hash)

        async def attempt(pipe: Pipeline) -> None:
            raw = await pipe.get(key)
            if raw is None:
                await pipe.unwatch()  # type: ignore[no-untyped-call]  # untyped in redis-py
                return
            record = _decode(_bytes(raw))
            if last_seen <= record.last_seen:
                await pipe.unwatch()  # type: ignore[no-untyped-call]  # untyped in redis-py
                return
            pipe.multi()  # type: ignore[no-untyped-call]  # untyped in redis-py
            pipe.set(
                key, _encode(msgspec.structs.replace(record, last_seen=last_seen)), keepttl=True
            )
            await pipe.execute()

        await watched(self._redis, [key], attempt, "session touch kept conflicting")

    async def rotate_session(self, old: SessionRecord, new: SessionRecord, now: float) -> bool:
        key = self._key(old.id_hash)

        async def attempt(pipe: Pipeline) -> bool:
            raw = await pipe.get(key)
            current = None if raw is None else _decode(_bytes(raw))
            if current is None or current.replaced:
                await pipe.unwatch()  # type: ignore[no-untyped-call]  # untyped in redis-py
                return False
            pipe.multi()  # type: ignore[no-untyped-call]  # untyped in redis-py
            pipe.set(key, _encode(msgspec.structs.replace(current, replaced=now)), keepttl=True)
            self._put(pipe, new)
            await pipe.execute()
            return True

        return await watched(self._redis, [key], attempt, "session rotation kept conflicting")

    async def end_family(self, family: str) -> int:
        members_key = self._family(family)

        async def attempt(pipe: Pipeline) -> int:
            members = await pipe.smembers(members_key)
            pipe.multi()  # type: ignore[no-untyped-call]  # untyped in redis-py
            for member in members:
                name = member.decode() if isinstance(member, bytes) else str(member)
                pipe.delete(self._key(name))
            pipe.delete(members_key)
            await pipe.execute()
            return len(members)

        return await watched(self._redis, [members_key], attempt, "logout kept conflicting")
