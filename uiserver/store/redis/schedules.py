"""The Redis store's rollout schedules (keys under the store's prefix):

  schedules:{page}     hash  `active` -> the id of the page's active schedule,
                             `r:{id}` -> its revision, `d:{id}` -> msgpack ScheduleRow
  schedules-active     set   pages that may have an active schedule (an index; the hash decides)

Every change is one Lua script on the page's one hash (a single key: fine on Redis Cluster), so
creating the page's active schedule and each compare-and-set of a revision are atomic: of two
replicas acting on the same step, one wins. Schedules name no user: erasure never looks here.
"""

from __future__ import annotations

import msgspec

from uiserver.store.base import SCHEDULES_KEPT, ScheduleRow
from uiserver.store.redis.connection import Connection
from uiserver.store.redis.errors import guard

_encode = msgspec.msgpack.Encoder().encode
_decode = msgspec.msgpack.Decoder(ScheduleRow).decode

CREATE = """
local active = redis.call('HGET', KEYS[1], 'active')
if active then return redis.call('HGET', KEYS[1], 'd:' .. active) end
redis.call('HSET', KEYS[1], 'active', ARGV[1], 'r:' .. ARGV[1], ARGV[2], 'd:' .. ARGV[1], ARGV[3])
return false
"""
UPDATE = """
if redis.call('HGET', KEYS[1], 'r:' .. ARGV[1]) ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], 'r:' .. ARGV[1], ARGV[3], 'd:' .. ARGV[1], ARGV[4])
if ARGV[5] == '0' and redis.call('HGET', KEYS[1], 'active') == ARGV[1] then
  redis.call('HDEL', KEYS[1], 'active')
end
return 1
"""


def _text(raw: bytes | str) -> str:
    return raw.decode() if isinstance(raw, bytes) else raw


def _row(raw: bytes | str) -> ScheduleRow:
    return _decode(raw if isinstance(raw, bytes) else raw.encode())


class RedisSchedules:
    """The ScheduleStore half of RedisStore."""

    def __init__(self, conn: Connection) -> None:
        self._redis = conn.redis
        self._prefix = conn.keys.prefix
        self._create = conn.redis.register_script(CREATE)
        self._update = conn.redis.register_script(UPDATE)

    def _key(self, page: str) -> str:
        return f"{self._prefix}schedules:{page}"

    @property
    def _index(self) -> str:
        return f"{self._prefix}schedules-active"

    async def create_schedule(self, row: ScheduleRow) -> ScheduleRow | None:
        stored = msgspec.structs.replace(row, active=True)
        with guard():
            await self._redis.sadd(self._index, row.page)
            raw = await self._create(
                keys=[self._key(row.page)], args=[row.id, str(row.rev), _encode(stored)]
            )
        if raw is not None:
            return _row(raw)
        await self._prune(row.page)
        return None

    async def _prune(self, page: str) -> None:
        """Forget the oldest inactive schedules past SCHEDULES_KEPT (not atomic with the
        create: a schedule forgotten a moment late harms nothing)."""
        rows = await self.schedules(page)
        old = [r for r in rows[SCHEDULES_KEPT:] if not r.active]
        if old:
            fields = [f for r in old for f in (f"r:{r.id}", f"d:{r.id}")]
            with guard():
                await self._redis.hdel(self._key(page), *fields)

    async def update_schedule(self, row: ScheduleRow, expect_rev: int) -> bool:
        args: list[str | bytes] = [
            row.id,
            str(expect_rev),
            str(row.rev),
            _encode(row),
            "1" if row.active else "0",
        ]
        with guard():
            done = await self._update(keys=[self._key(row.page)], args=args)
            if done and not row.active:
                await self._redis.srem(self._index, row.page)
        return bool(done)

    async def schedules(self, page: str | None = None) -> list[ScheduleRow]:
        if page is not None:
            with guard():
                fields = await self._redis.hgetall(self._key(page))
            rows = [_row(v) for k, v in fields.items() if _text(k).startswith("d:")]
            return sorted(rows, key=lambda r: (r.created, r.id), reverse=True)
        with guard():
            pages = sorted(_text(p) for p in await self._redis.smembers(self._index))
        out = []
        for name in pages:
            with guard():
                active = await self._redis.hget(self._key(name), "active")
                raw = (
                    None
                    if active is None
                    else await self._redis.hget(self._key(name), f"d:{_text(active)}")
                )
            if raw is not None:
                out.append(_row(raw))
        return out
