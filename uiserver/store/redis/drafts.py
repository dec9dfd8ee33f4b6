"""The Redis store's designer drafts (keys under the store's prefix):

  drafts:{author}   hash  page -> msgpack DraftRecord

Drafts belong to designers, not to users of the mini-program: no invalidation is published for
them (no cache depends on them) and user erasure never looks at these keys.
"""

from __future__ import annotations

import msgspec

from uiserver.store.base import DraftRecord
from uiserver.store.redis.connection import Connection
from uiserver.store.redis.errors import guard

_encode = msgspec.msgpack.Encoder().encode
_decode = msgspec.msgpack.Decoder(DraftRecord).decode


class RedisDrafts:
    """The DraftStore half of RedisStore."""

    def __init__(self, conn: Connection) -> None:
        self._redis = conn.redis
        self._prefix = conn.keys.prefix

    def _key(self, author: str) -> str:
        return f"{self._prefix}drafts:{author}"

    async def put_draft(self, draft: DraftRecord) -> None:
        with guard():
            await self._redis.hset(self._key(draft.author), draft.page, _encode(draft))

    async def get_draft(self, author: str, page: str) -> DraftRecord | None:
        with guard():
            raw = await self._redis.hget(self._key(author), page)
        return None if raw is None else _record(raw)

    async def delete_draft(self, author: str, page: str) -> bool:
        with guard():
            removed = await self._redis.hdel(self._key(author), page)
        return bool(removed)

    async def drafts(self, author: str) -> list[DraftRecord]:
        with guard():
            raw = await self._redis.hvals(self._key(author))
        return sorted((_record(value) for value in raw), key=lambda d: d.page)


def _record(raw: bytes | str) -> DraftRecord:
    """The client answers bytes (decode_responses=False); redis-py's types also allow str."""
    return _decode(raw if isinstance(raw, bytes) else raw.encode())
