"""The scale-out store: profiles and templates in a shared Redis, invalidation over pub/sub.

Keys (prefix `uiserver:` by default; the user id or page is always the last part, so keys of
different users never collide):
  user:{id}       hash  settings (JSON), evidence, affinity_ts, last_event, created, updated
  aff:{id}        zset  affinity key -> score (as of affinity_ts)
  seg:{id}        set   segments
  order:{id}      hash  page -> JSON list of component ids last served
  tpl:{page}      hash  seq -> msgpack TemplateRecord (the history)
  tplver:{page}   hash  version -> newest record of that version
  live            hash  page -> live record

Every write is one MULTI/EXEC that also PUBLISHes its invalidations on `{prefix}invalidate`, so
the message goes out if and only if the write committed. Read-modify-write operations (events,
publish) WATCH their keys and retry on conflict. Writes only ever *set* values, never increment,
so a transaction the client resends after a lost reply leaves the same state.

Pub/sub delivers at most once (DESIGN section 7): a background task subscribes, reconnects with
backoff forever, and tells this process's listeners `Invalidation("all")` on every (re)subscription,
since it may have missed messages while away.

Failures: connection errors and timeouts become `StoreUnavailable` quickly (0.5 s connect and
operation timeouts, one immediate retry on a fresh connection), so a dead Redis never hangs a
request; the same store object works again once Redis is back.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from typing import Any

import msgspec
import redis.asyncio as aioredis
from redis.asyncio.client import Pipeline, PubSub
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import (
    OutOfMemoryError,
    ReadOnlyError,
    RedisError,
    ResponseError,
    WatchError,
)
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.typing import EncodableT

from uiserver.affinity import Affinity, fold
from uiserver.schema import Event, Profile, Settings
from uiserver.store._common import (
    MAX_TX_ATTEMPTS,
    Listeners,
    build_profile,
    decode_order,
    decode_settings,
    export_document,
    json_encode,
    last_assignments,
    log,
    user_invalidations,
)
from uiserver.store.base import Invalidation, Listener, StoreUnavailable, TemplateRecord

Message = tuple[str, list[Invalidation]]  # (origin, what changed)

_encode = msgspec.msgpack.Encoder().encode
_decode_message = msgspec.msgpack.Decoder(Message).decode
_decode_record = msgspec.msgpack.Decoder(TemplateRecord).decode

UNAVAILABLE = (RedisConnectionError, RedisTimeoutError, OSError)  # OSError covers TimeoutError
# Errors by which a reachable Redis refuses service for a while (out of memory, read-only
# replica, failed persistence, still loading): unavailable, not a bug.
REFUSED = (OutOfMemoryError, ReadOnlyError)
REFUSALS = ("OOM", "READONLY", "MISCONF", "LOADING", "MASTERDOWN", "NOREPLICAS", "BUSY")


class RedisStore:
    """The shared store for several replicas.

    Usage:
        store = RedisStore("redis://localhost:6379/0")
        await store.open()          # starts the invalidation subscriber
        store.add_listener(cache.invalidate)
        ...
        await store.close()
    """

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "uiserver:",
        timeout: float = 0.5,
        max_backoff: float = 2.0,
        silence: float = 5.0,
    ) -> None:
        self.url = url
        self._prefix = prefix
        self._channel = f"{prefix}invalidate"
        self._max_backoff = max_backoff
        self._silence = silence  # no reply to our pings for this long: the link is dead
        self._origin = secrets.token_hex(8)  # our own messages are delivered locally already
        self._listeners = Listeners()
        self._redis = aioredis.Redis.from_url(
            url,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            retry=Retry(NoBackoff(), 1),  # one retry: replaces a pooled connection Redis closed
        )
        self._sub_redis = aioredis.Redis.from_url(
            url,
            socket_timeout=max(2.0, timeout),
            socket_connect_timeout=timeout,
            retry=Retry(NoBackoff(), 0),  # the subscriber loop does its own reconnecting
        )
        self._subscriber: asyncio.Task[None] | None = None
        self._subscribed = asyncio.Event()

    # ------------------------------------------------------------------ keys

    def _user(self, user_id: str) -> str:
        return f"{self._prefix}user:{user_id}"

    def _aff(self, user_id: str) -> str:
        return f"{self._prefix}aff:{user_id}"

    def _seg(self, user_id: str) -> str:
        return f"{self._prefix}seg:{user_id}"

    def _order(self, user_id: str) -> str:
        return f"{self._prefix}order:{user_id}"

    def _user_keys(self, user_id: str) -> list[str]:
        return [self._user(user_id), self._aff(user_id), self._seg(user_id), self._order(user_id)]

    def _tpl(self, page: str) -> str:
        return f"{self._prefix}tpl:{page}"

    def _tplver(self, page: str) -> str:
        return f"{self._prefix}tplver:{page}"

    @property
    def _live_key(self) -> str:
        return f"{self._prefix}live"

    # ------------------------------------------------------------------ lifecycle

    async def open(self, wait: float = 1.0) -> None:
        """Start the subscriber and wait up to `wait` s for it to subscribe. Does not raise when
        Redis is down: the subscriber keeps trying, `ping()` says False meanwhile."""
        if self._subscriber is None or self._subscriber.done():
            self._subscribed = asyncio.Event()
            self._subscriber = asyncio.create_task(self._subscribe_forever())
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(wait):
                await self._subscribed.wait()

    async def close(self) -> None:
        task, self._subscriber = self._subscriber, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._redis.aclose()
        await self._sub_redis.aclose()

    @property
    def subscribed(self) -> bool:
        """True while the invalidation channel is subscribed; until then this process may miss
        other replicas' changes (readiness says not ready)."""
        return self._subscribed.is_set()

    async def ping(self) -> bool:
        try:
            return bool(await self._redis.ping())
        except (RedisError, *UNAVAILABLE):
            return False

    @contextlib.contextmanager
    def _guard(self) -> Iterator[None]:
        """Connection trouble -> StoreUnavailable (503 for writes, degraded reads)."""
        try:
            yield
        except UNAVAILABLE as exc:
            raise StoreUnavailable(f"redis: {exc}") from exc
        except ResponseError as exc:
            if isinstance(exc, REFUSED) or str(exc).startswith(REFUSALS):
                raise StoreUnavailable(f"redis: {exc}") from exc
            raise

    # ------------------------------------------------------------------ invalidation

    def add_listener(self, listener: Listener) -> None:
        self._listeners.add(listener)

    def poll(self) -> None:
        """Nothing to do: the subscriber task delivers other processes' invalidations."""

    def _publish(self, pipe: Pipeline, invalidations: list[Invalidation]) -> None:
        """Queue the PUBLISH inside the write's MULTI: sent only if the write commits."""
        pipe.publish(self._channel, _encode((self._origin, invalidations)))

    async def _subscribe_forever(self) -> None:
        backoff = 0.05
        while True:
            pubsub = self._sub_redis.pubsub()
            try:
                await pubsub.subscribe(self._channel)
                async for resubscribed in self._messages(pubsub):
                    if resubscribed:
                        backoff = 0.05
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # any failure: resubscribe, never die
                log.warning("redis invalidation subscriber: %s; reconnecting", exc)
            finally:
                self._subscribed.clear()
                with contextlib.suppress(Exception):
                    await pubsub.aclose()
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, self._max_backoff)

    async def _messages(self, pubsub: PubSub) -> AsyncIterator[bool]:
        """Handle messages until the link fails or goes silent.

        A connection can die without a reset (host gone, partition): we PING four times per
        `silence` period and give up on the link when nothing, not even a pong, came back for
        `silence` seconds. Yields whether each message was a (re)subscription.
        """
        clock = asyncio.get_running_loop().time
        every = self._silence / 4
        heard = next_ping = clock()
        while True:
            if clock() >= next_ping:
                next_ping = clock() + every
                await pubsub.ping()
            message = await pubsub.get_message(timeout=every)
            now = clock()
            if message is not None:
                heard = now
                yield self._on_message(message)
            elif now - heard > self._silence:
                raise RedisConnectionError(f"no reply from redis for {now - heard:.1f} s")

    def _on_message(self, message: Mapping[str, Any]) -> bool:
        """Deliver one pub/sub message; True when it was a (re)subscription."""
        if message["type"] == "subscribe":
            self._subscribed.set()
            self._listeners.emit([Invalidation("all")])  # we may have missed messages
            return True
        if message["type"] == "message":
            try:
                origin, invalidations = _decode_message(message["data"])
            except msgspec.DecodeError:
                log.warning("undecodable invalidation message ignored")
                return False
            if origin != self._origin:
                self._listeners.emit(invalidations)
        return False

    # ------------------------------------------------------------------ users

    async def get_profile(self, user_id: str) -> Profile:
        settings, affinity, segments, orders, _ = await self._read_user(user_id)
        return build_profile(user_id, settings, affinity, segments, orders)

    async def get_settings(self, user_id: str) -> Settings:
        with self._guard():
            raw = await self._redis.hget(self._user(user_id), "settings")
        return Settings() if raw is None else decode_settings(raw)

    async def put_settings(self, user_id: str, settings: Settings) -> None:
        now = time.time()
        changes = [Invalidation("user", user_id)]
        key = self._user(user_id)
        with self._guard():
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.hset(key, mapping={"settings": json_encode(settings), "updated": now})
                pipe.hsetnx(key, "created", now)
                self._publish(pipe, changes)
                await pipe.execute()
        self._listeners.emit(changes)

    async def record_events(self, user_id: str, events: Sequence[Event], now: float) -> int:
        """Fold the batch into the user's affinities; 0 (nothing stored) when personalization
        is off in the stored settings, whatever the caller checked (defence in depth)."""
        if not events:
            return 0
        user_key, aff_key = self._user(user_id), self._aff(user_id)
        changes = [Invalidation("user", user_id)]
        with self._guard():
            async with self._redis.pipeline(transaction=True) as pipe:
                for _ in range(MAX_TX_ATTEMPTS):
                    try:
                        await pipe.watch(user_key, aff_key)
                        fields = await pipe.hmget(
                            user_key, ["settings", "evidence", "affinity_ts", "last_event"]
                        )
                        settings = None if fields[0] is None else decode_settings(fields[0])
                        if settings is not None and settings.personalization == 0:
                            await pipe.unwatch()
                            return 0
                        scores = await pipe.zrange(aff_key, 0, -1, withscores=True)
                        state = Affinity(_scores(scores), *_affinity_fields(fields[1:]))
                        new = fold(state, events, now)
                        pipe.multi()
                        self._queue_affinity(pipe, user_id, new, now)
                        self._publish(pipe, changes)
                        await pipe.execute()
                        break
                    except WatchError:
                        continue
                else:
                    raise StoreUnavailable(f"redis: record_events for {user_id!r} kept conflicting")
        self._listeners.emit(changes)
        return len(events)

    def _queue_affinity(self, pipe: Pipeline, user_id: str, new: Affinity, now: float) -> None:
        aff_key, user_key = self._aff(user_id), self._user(user_id)
        pipe.delete(aff_key)
        if new.scores:
            pipe.zadd(aff_key, new.scores)
        fields: dict[EncodableT, EncodableT] = {"evidence": new.evidence, "updated": now}
        if new.updated is not None:
            fields["affinity_ts"] = new.updated
        if new.last_event is not None:
            fields["last_event"] = new.last_event
        pipe.hset(user_key, mapping=fields)
        pipe.hsetnx(user_key, "created", now)

    async def set_last_order(self, user_id: str, page: str, order: Sequence[str]) -> None:
        """No invalidation: the order served is a consequence of the cached layout, not an input
        that changes it, and invalidating here would make every cold serve drop its own entry."""
        with self._guard():
            await self._redis.hset(self._order(user_id), page, json_encode(list(order)))

    async def put_segments(self, assignments: Sequence[tuple[str, Sequence[str]]]) -> int:
        mapping = last_assignments(assignments)
        if not mapping:
            return 0
        changes = user_invalidations(list(mapping))
        with self._guard():
            async with self._redis.pipeline(transaction=True) as pipe:
                for user_id, segments in mapping.items():
                    pipe.delete(self._seg(user_id))
                    if segments:
                        pipe.sadd(self._seg(user_id), *segments)
                self._publish(pipe, changes)
                await pipe.execute()
        self._listeners.emit(changes)
        return len(mapping)

    async def export_user(self, user_id: str) -> dict[str, Any]:
        settings, affinity, segments, orders, stamps = await self._read_user(user_id)
        return export_document(user_id, settings, affinity, segments, orders, *stamps)

    async def erase_user(self, user_id: str) -> None:
        changes = [Invalidation("user", user_id)]
        with self._guard():
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.delete(*self._user_keys(user_id))
                self._publish(pipe, changes)
                await pipe.execute()
        self._listeners.emit(changes)

    async def _read_user(
        self, user_id: str
    ) -> tuple[
        Settings | None,
        Affinity,
        list[str],
        dict[str, list[str]],
        tuple[float | None, float | None],
    ]:
        """One consistent snapshot (MULTI/EXEC) of everything about the user."""
        with self._guard():
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.hgetall(self._user(user_id))
                pipe.zrange(self._aff(user_id), 0, -1, withscores=True)
                pipe.smembers(self._seg(user_id))
                pipe.hgetall(self._order(user_id))
                user, scores, segments, orders = await pipe.execute()
        raw_settings = user.get(b"settings")
        settings = None if raw_settings is None else decode_settings(raw_settings)
        fields = [user.get(name) for name in (b"evidence", b"affinity_ts", b"last_event")]
        affinity = Affinity(_scores(scores), *_affinity_fields(fields))
        stamps = (_float(user.get(b"created")), _float(user.get(b"updated")))
        return (
            settings,
            affinity,
            [segment.decode() for segment in segments],
            {page.decode(): decode_order(order) for page, order in orders.items()},
            stamps,
        )

    # ------------------------------------------------------------------ templates

    async def publish(
        self, page: str, version: str, document: bytes, author: str, message: str, now: float
    ) -> TemplateRecord:
        """Append `version` to the page's history and make it live.

        Publishing the version that is already live returns the live record unchanged (no new
        history entry, no invalidation), so retries are idempotent. Publishing an older version
        again (rollback) appends a new entry with a new seq. Versions are immutable: a known
        version with a different document raises ValueError and changes nothing.
        """
        changes = [Invalidation("template", page)]
        with self._guard():
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
            await pipe.unwatch()
            _check_same(live, document)
            return live, False
        earlier = await pipe.hget(self._tplver(page), version)
        if earlier is not None:
            _check_same(_record(earlier), document)
        seq = int(await pipe.hlen(history)) + 1
        record = TemplateRecord(page, version, document, author, message, now, seq)
        encoded = _encode(record)
        pipe.multi()
        pipe.hset(history, str(seq), encoded)
        pipe.hset(self._tplver(page), version, encoded)
        pipe.hset(self._live_key, page, encoded)
        self._publish(pipe, [Invalidation("template", page)])
        await pipe.execute()
        return record, True

    async def live(self) -> dict[str, TemplateRecord]:
        with self._guard():
            raw = await self._redis.hgetall(self._live_key)
        return {_text(page): _record(value) for page, value in sorted(raw.items())}

    async def live_template(self, page: str) -> TemplateRecord | None:
        with self._guard():
            raw = await self._redis.hget(self._live_key, page)
        return None if raw is None else _record(raw)

    async def get_version(self, page: str, version: str) -> TemplateRecord | None:
        """The newest history entry of that version (a rollback repeats a version)."""
        with self._guard():
            raw = await self._redis.hget(self._tplver(page), version)
        return None if raw is None else _record(raw)

    async def history(self, page: str) -> list[TemplateRecord]:
        with self._guard():
            raw = await self._redis.hvals(self._tpl(page))
        return sorted((_record(value) for value in raw), key=lambda r: -r.seq)


def _bytes(raw: bytes | str) -> bytes:
    """The client answers bytes (decode_responses=False); redis-py's types also allow str."""
    return raw if isinstance(raw, bytes) else raw.encode()


def _text(raw: bytes | str) -> str:
    return raw.decode() if isinstance(raw, bytes) else raw


def _record(raw: bytes | str) -> TemplateRecord:
    return _decode_record(_bytes(raw))


def _float(raw: bytes | str | None) -> float | None:
    return None if raw is None else float(raw)


def _scores(pairs: Sequence[Any]) -> dict[str, float]:
    """ZRANGE WITHSCORES as a dict (pairs of member and score)."""
    return {member.decode(): float(score) for member, score in pairs}


def _affinity_fields(
    fields: Sequence[bytes | str | None],
) -> tuple[int, float | None, float | None]:
    """(evidence, affinity_ts, last_event) from their raw hash values."""
    evidence, updated, last_event = fields
    return (0 if evidence is None else int(evidence)), _float(updated), _float(last_event)


def _check_same(record: TemplateRecord, document: bytes) -> None:
    if record.document != document:
        raise ValueError(
            f"template {record.page!r} version {record.version!r} already exists with other "
            "content; versions are immutable"
        )
