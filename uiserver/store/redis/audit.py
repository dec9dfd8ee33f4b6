"""The Redis store's audit log (keys under the store's prefix):

  audit:seq       string  the last id given (INCR: ids are monotonic, never reused)
  audit:entries   hash    id -> msgpack entry (without its id)
  audit:ids       zset    id scored by id (paging, newest first)
  audit:times     zset    id scored by time (pruning by age)

An append is one Lua script (id, entry and both indexes at once, or nothing); a script the
client resends after a lost reply appends the entry twice (two ids), never loses it. No key names an
end user: erasure never looks at them. Filtered reads scan newest first, at most `AUDIT_SCAN`
entries a call (the page's `next` says where to go on), so a rare filter over a long log never
holds Redis or the request for long.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec

from uiserver.store.base import AuditEntry, AuditPage, AuditQuery
from uiserver.store.redis.connection import Connection
from uiserver.store.redis.errors import guard

AUDIT_SCAN = 5_000  # entries one filtered read looks at, at most
CHUNK = 200

APPEND = """
local id = redis.call('INCR', KEYS[1])
redis.call('HSET', KEYS[2], id, ARGV[1])
redis.call('ZADD', KEYS[3], id, id)
redis.call('ZADD', KEYS[4], ARGV[2], id)
return id
"""


class _Stored(msgspec.Struct, frozen=True, array_like=True):
    time: float
    actor: str
    act: str
    page: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    details: dict[str, Any]


_encode = msgspec.msgpack.Encoder().encode
_decode = msgspec.msgpack.Decoder(_Stored).decode


def _bytes(raw: bytes | str) -> bytes:
    return raw if isinstance(raw, bytes) else raw.encode()


def _ids(reply: Sequence[Any]) -> list[bytes]:
    """Members of a sorted-set range (ids), as bytes."""
    return [_bytes(member) for member in reply]


class RedisAudit:
    """The AuditStore half of RedisStore."""

    def __init__(self, conn: Connection) -> None:
        self._redis = conn.redis
        keys = conn.keys  # one slot in a cluster: an entry is written to all four at once
        self._seq = keys.group("audit", "audit:seq")
        self._entries = keys.group("audit", "audit:entries")
        self._ids = keys.group("audit", "audit:ids")
        self._times = keys.group("audit", "audit:times")
        self._append = self._redis.register_script(APPEND)

    async def append(self, entry: AuditEntry) -> AuditEntry:
        stored = _Stored(
            entry.time,
            entry.actor,
            entry.act,
            entry.page,
            entry.before,
            entry.after,
            entry.details,
        )
        keys = [self._seq, self._entries, self._ids, self._times]
        with guard():
            entry_id = await self._append(keys=keys, args=[_encode(stored), entry.time])
        return msgspec.structs.replace(entry, id=int(entry_id))

    async def _load(self, ids: Sequence[bytes]) -> list[AuditEntry]:
        if not ids:
            return []
        with guard():
            raw = await self._redis.hmget(self._entries, list(ids))
        entries = []
        for entry_id, value in zip(ids, raw, strict=True):
            if value is None:  # pruned between the two reads
                continue
            s = _decode(_bytes(value))
            entry = AuditEntry(
                int(entry_id), s.time, s.actor, s.act, s.page, s.before, s.after, s.details
            )
            entries.append(entry)
        return entries

    async def entries(self, query: AuditQuery) -> AuditPage:
        found: list[AuditEntry] = []
        top: str = f"({query.before}" if query.before else "+inf"
        scanned = 0
        while scanned < AUDIT_SCAN:
            with guard():
                ids = _ids(await self._redis.zrevrangebyscore(self._ids, top, "-inf", 0, CHUNK))
            if not ids:
                return AuditPage(found, None)
            scanned += len(ids)
            for entry in await self._load(ids):
                if not query.matches(entry):
                    continue
                if len(found) == query.limit:
                    return AuditPage(found, found[-1].id)
                found.append(entry)
            top = f"({int(ids[-1])}"
        return AuditPage(found, int(top[1:]))

    async def after(self, after_id: int, limit: int) -> list[AuditEntry]:
        with guard():
            ids = _ids(await self._redis.zrangebyscore(self._ids, f"({after_id}", "+inf", 0, limit))
        return await self._load(ids)

    async def last_id(self) -> int:
        with guard():
            raw = await self._redis.get(self._seq)
        return int(raw) if raw is not None else 0

    async def prune(self, older_than: float) -> int:
        removed = 0
        while True:
            with guard():
                ids = _ids(
                    await self._redis.zrangebyscore(self._times, "-inf", f"({older_than}", 0, CHUNK)
                )
                if not ids:
                    return removed
                async with self._redis.pipeline(transaction=True) as pipe:
                    pipe.hdel(self._entries, *ids)
                    pipe.zrem(self._ids, *ids)
                    pipe.zrem(self._times, *ids)
                    await pipe.execute()
            removed += len(ids)
