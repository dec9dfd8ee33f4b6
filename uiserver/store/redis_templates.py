"""The Redis store's template history (keys under the store's prefix):

  tpl:{page}      hash  seq -> msgpack TemplateRecord (the history)
  tplver:{page}   hash  version -> newest record of that version
  live            hash  page -> live record

A publish WATCHes the page's history and retries on conflict; it writes all three hashes and
PUBLISHes the invalidation in one MULTI/EXEC.
"""

from __future__ import annotations

import msgspec
import redis.asyncio as aioredis
from redis.asyncio.client import Pipeline
from redis.exceptions import WatchError

from uiserver.store._common import MAX_TX_ATTEMPTS, Listeners, check_same_document
from uiserver.store.base import Invalidation, StoreUnavailable, TemplateRecord
from uiserver.store.redis_errors import guard
from uiserver.store.redis_pubsub import InvalidationChannel

_encode = msgspec.msgpack.Encoder().encode
_decode_record = msgspec.msgpack.Decoder(TemplateRecord).decode


class RedisTemplates:
    """The TemplateStore half of RedisStore."""

    def __init__(
        self,
        redis: aioredis.Redis,
        prefix: str,
        channel: InvalidationChannel,
        listeners: Listeners,
    ) -> None:
        self._redis = redis
        self._prefix = prefix
        self._channel = channel
        self._listeners = listeners
        self._live_key = f"{prefix}live"

    def _tpl(self, page: str) -> str:
        return f"{self._prefix}tpl:{page}"

    def _tplver(self, page: str) -> str:
        return f"{self._prefix}tplver:{page}"

    async def publish(
        self, page: str, version: str, document: bytes, author: str, message: str, now: float
    ) -> TemplateRecord:
        """Append `version` to the page's history and make it live (see `TemplateStore`)."""
        changes = [Invalidation("template", page)]
        with guard():
            async with self._redis.pipeline(transaction=True) as pipe:
                for _ in range(MAX_TX_ATTEMPTS):
                    try:
                        record, appended = await self._publish_once(
                            pipe, page, version, bytes(document), author, message, now
                        )
                        break
                    except WatchError:
                        continue
                else:
                    raise StoreUnavailable(f"redis: publish of {page!r} kept conflicting")
        if appended:
            self._listeners.emit(changes)
        return record

    async def _publish_once(
        self,
        pipe: Pipeline,
        page: str,
        version: str,
        document: bytes,
        author: str,
        message: str,
        now: float,
    ) -> tuple[TemplateRecord, bool]:
        """One optimistic attempt: (the live record, whether it was appended now)."""
        history = self._tpl(page)
        await pipe.watch(history)
        live_raw = await pipe.hget(self._live_key, page)
        live = None if live_raw is None else _record(live_raw)
        if live is not None and live.version == version:
            await pipe.unwatch()  # type: ignore[no-untyped-call]  # untyped in redis-py
            check_same_document(live, document)
            return live, False
        earlier = await pipe.hget(self._tplver(page), version)
        if earlier is not None:
            check_same_document(_record(earlier), document)
        seq = int(await pipe.hlen(history)) + 1
        record = TemplateRecord(page, version, document, author, message, now, seq)
        encoded = _encode(record)
        pipe.multi()  # type: ignore[no-untyped-call]  # untyped in redis-py
        pipe.hset(history, str(seq), encoded)
        pipe.hset(self._tplver(page), version, encoded)
        pipe.hset(self._live_key, page, encoded)
        self._channel.publish(pipe, [Invalidation("template", page)])
        await pipe.execute()
        return record, True

    async def live(self) -> dict[str, TemplateRecord]:
        with guard():
            raw = await self._redis.hgetall(self._live_key)
        return {_text(page): _record(value) for page, value in sorted(raw.items())}

    async def live_template(self, page: str) -> TemplateRecord | None:
        with guard():
            raw = await self._redis.hget(self._live_key, page)
        return None if raw is None else _record(raw)

    async def get_version(self, page: str, version: str) -> TemplateRecord | None:
        """The newest history entry of that version (a rollback repeats a version)."""
        with guard():
            raw = await self._redis.hget(self._tplver(page), version)
        return None if raw is None else _record(raw)

    async def history(self, page: str) -> list[TemplateRecord]:
        with guard():
            raw = await self._redis.hvals(self._tpl(page))
        return sorted((_record(value) for value in raw), key=lambda r: -r.seq)


def _text(raw: bytes | str) -> str:
    """The client answers bytes (decode_responses=False); redis-py's types also allow str."""
    return raw.decode() if isinstance(raw, bytes) else raw


def _record(raw: bytes | str) -> TemplateRecord:
    return _decode_record(raw if isinstance(raw, bytes) else raw.encode())
