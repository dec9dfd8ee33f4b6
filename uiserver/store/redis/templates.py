"""The Redis store's template history (keys under the store's prefix):

  tpl:{page}      hash  seq -> msgpack TemplateRecord (the history)
  tplver:{page}   hash  version -> newest record of that version
  live            hash  page -> newest record (archived pages too: `live()` leaves them out)
  rollouts        hash  page -> msgpack Rollout (the running staged rollout)
  archived        hash  page -> msgpack Archived

Every template write WATCHes the page's history, `rollouts` and `archived`, reads the page's
state, asks `template_writes` what to write, and writes it with the invalidation's PUBLISH in one
MULTI/EXEC; a concurrent write makes EXEC fail and the attempt is repeated on the new state. So
two replicas publishing on the same base: one commits, the other sees the new version and gets
StaleBase.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Literal

import msgspec
import redis.asyncio as aioredis
from redis.asyncio.client import Pipeline

from uiserver.store.allocations import needs_history
from uiserver.store.base import (
    Archived,
    Invalidation,
    PageState,
    PublishOptions,
    Rollout,
    TemplateRecord,
)
from uiserver.store.redis.connection import Connection
from uiserver.store.redis.durable import NotReplicated
from uiserver.store.redis.errors import guard
from uiserver.store.redis.tx import watched
from uiserver.store.template_writes import (
    UNCHANGED,
    Writes,
    plan_archive,
    plan_end,
    plan_percent,
    plan_publish,
)

_encode = msgspec.msgpack.Encoder().encode
_decode_record = msgspec.msgpack.Decoder(TemplateRecord).decode
_decode_rollout = msgspec.msgpack.Decoder(Rollout).decode
_decode_archived = msgspec.msgpack.Decoder(Archived).decode

Plan = Callable[[Pipeline, PageState | None], Awaitable[Writes]]


class RedisTemplates:
    """The `TemplateStore` of the Redis store: versions per page; the newest entry is live."""

    def __init__(self, conn: Connection) -> None:
        self._keys = keys = conn.keys
        self._redis = conn.redis
        self._durable = conn.durable
        self._channel = conn.channel
        self._listeners = conn.listeners
        # one slot for all of them in a cluster: a publish WATCHes and writes them together
        self._live_key = keys.group("tpl", "live")
        self._rollouts_key = keys.group("tpl", "rollouts")
        self._archived_key = keys.group("tpl", "archived")
        self._channel_name = keys.group_channel("tpl")

    def _tpl(self, page: str) -> str:
        return self._keys.group("tpl", f"tpl:{page}")

    def _tplver(self, page: str) -> str:
        return self._keys.group("tpl", f"tplver:{page}")

    # ------------------------------------------------------------------ writes

    async def publish(
        self,
        page: str,
        version: str,
        document: bytes,
        author: str,
        message: str,
        now: float,
        options: PublishOptions | None = None,
    ) -> PageState:
        """Append `version` to the page's history and make it live (see `TemplateStore`)."""

        async def plan(pipe: Pipeline, state: PageState | None) -> Writes:
            raw = await pipe.hget(self._tplver(page), version)
            earlier = None if raw is None else _record(raw)
            entries = (
                [_record(value) for value in await pipe.hvals(self._tpl(page))]
                if needs_history(bytes(document), state)
                else []
            )
            return plan_publish(
                page,
                version,
                bytes(document),
                author,
                message,
                now,
                options,
                state,
                earlier,
                entries,
            )

        return await self._write(page, plan)

    async def set_rollout(self, page: str, percent: int, author: str, now: float) -> PageState:
        async def plan(pipe: Pipeline, state: PageState | None) -> Writes:
            return plan_percent(page, percent, now, state)

        return await self._write(page, plan)

    async def end_rollout(
        self,
        page: str,
        outcome: Literal["promote", "abort"],
        author: str,
        now: float,
        message: str = "",
    ) -> PageState:
        async def plan(pipe: Pipeline, state: PageState | None) -> Writes:
            return plan_end(page, outcome, author, now, state, message)

        return await self._write(page, plan)

    async def archive(self, page: str, author: str, now: float) -> PageState:
        async def plan(pipe: Pipeline, state: PageState | None) -> Writes:
            return plan_archive(page, author, now, state)

        return await self._write(page, plan)

    async def _write(self, page: str, plan: Plan) -> PageState:
        """One optimistic transaction, repeated on conflict (see the module docstring); the
        page as the committed attempt left it (never read again after EXEC)."""

        async def attempt(pipe: Pipeline) -> tuple[Writes, PageState]:
            state = await self._state(pipe, page)
            writes = await plan(pipe, state)
            if not writes.changed:
                await pipe.unwatch()  # type: ignore[no-untyped-call]  # untyped in redis-py
                return writes, writes.after(state)
            pipe.multi()  # type: ignore[no-untyped-call]  # untyped in redis-py
            self._apply(pipe, page, writes)
            await pipe.execute()
            return writes, writes.after(state)

        keys = (self._tpl(page), self._rollouts_key, self._archived_key)
        try:
            writes, after = await watched(
                self._redis,
                keys,
                attempt,
                f"redis: write of template {page!r} kept conflicting",
                self._durable.pipeline,  # a failover must not lose an acknowledged publish
            )
        except NotReplicated:
            self._listeners.emit([Invalidation("template", page)])  # it is on the primary
            raise
        if writes.changed:
            self._listeners.emit([Invalidation("template", page)])
        return after

    def _apply(self, pipe: Pipeline, page: str, writes: Writes) -> None:
        for record in writes.appends:
            encoded = _encode(record)
            pipe.hset(self._tpl(page), str(record.seq), encoded)
            pipe.hset(self._tplver(page), record.version, encoded)
            pipe.hset(self._live_key, page, encoded)
        if writes.rollout != UNCHANGED:
            if writes.rollout is None:
                pipe.hdel(self._rollouts_key, page)
            else:
                pipe.hset(self._rollouts_key, page, _encode(writes.rollout))
        if writes.archive is not None:
            pipe.hset(self._archived_key, page, _encode(writes.archive))
        if writes.unarchive:
            pipe.hdel(self._archived_key, page)
        self._channel.publish(pipe, [Invalidation("template", page)], self._channel_name)

    async def _state(self, conn: Pipeline | aioredis.Redis, page: str) -> PageState | None:
        """The page's state, read (inside WATCH when `conn` is a watching pipeline)."""
        head = await conn.hget(self._live_key, page)
        if head is None:
            return None
        rollout_raw = await conn.hget(self._rollouts_key, page)
        archived_raw = await conn.hget(self._archived_key, page)
        return await self._page_state(conn, page, head, rollout_raw, archived_raw)

    async def _page_state(
        self,
        conn: Pipeline | aioredis.Redis,
        page: str,
        head: bytes | str,
        rollout_raw: bytes | str | None,
        archived_raw: bytes | str | None,
    ) -> PageState:
        rollout = None if rollout_raw is None else _decode_rollout(_bytes(rollout_raw))
        previous = None
        if rollout is not None:
            # Versions are immutable: reading this one outside the snapshot is safe.
            raw = await conn.hget(self._tplver(page), rollout.previous)
            previous = None if raw is None else _record(raw)
        archived = None if archived_raw is None else _decode_archived(_bytes(archived_raw))
        return PageState(_record(head), archived, rollout, previous)

    # ------------------------------------------------------------------ reads

    async def states(self, page: str | None = None) -> dict[str, PageState]:
        """One snapshot (MULTI/EXEC) of the pages' heads, rollouts and archive markers."""
        with guard():
            async with self._redis.pipeline(transaction=True) as pipe:
                if page is None:
                    pipe.hgetall(self._live_key)
                    pipe.hgetall(self._rollouts_key)
                    pipe.hgetall(self._archived_key)
                    heads, rollouts, archived = await pipe.execute()
                    heads = {_text(k): v for k, v in heads.items()}
                    rollouts = {_text(k): v for k, v in rollouts.items()}
                    archived = {_text(k): v for k, v in archived.items()}
                else:
                    pipe.hget(self._live_key, page)
                    pipe.hget(self._rollouts_key, page)
                    pipe.hget(self._archived_key, page)
                    head, rollout, mark = await pipe.execute()
                    heads = {} if head is None else {page: head}
                    rollouts = {} if rollout is None else {page: rollout}
                    archived = {} if mark is None else {page: mark}
            return {
                name: await self._page_state(
                    self._redis, name, heads[name], rollouts.get(name), archived.get(name)
                )
                for name in sorted(heads)
            }

    async def live(self) -> dict[str, TemplateRecord]:
        with guard():
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.hgetall(self._live_key)
                pipe.hkeys(self._archived_key)
                raw, archived = await pipe.execute()
        gone = {_text(page) for page in archived}
        return {
            name: _record(value)
            for name, value in sorted((_text(p), v) for p, v in raw.items())
            if name not in gone
        }

    async def live_template(self, page: str) -> TemplateRecord | None:
        with guard():
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.hget(self._live_key, page)
                pipe.hexists(self._archived_key, page)
                raw, archived = await pipe.execute()
        return None if raw is None or archived else _record(raw)

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


def _bytes(raw: bytes | str) -> bytes:
    return raw if isinstance(raw, bytes) else raw.encode()


def _record(raw: bytes | str) -> TemplateRecord:
    return _decode_record(_bytes(raw))
