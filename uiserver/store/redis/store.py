"""The scale-out store: profiles and templates in a shared Redis, invalidation over pub/sub.

Keys (prefix `uiserver:` by default; the user id or page is always the last part, so keys of
different users never collide):
  user:{id}       hash  settings (JSON), evidence, affinity_ts, last_event, created, updated,
                        activity (JSON counters, see `redis_activity`)
  aff:{id}        zset  affinity key -> score (as of affinity_ts)
  seg:{id}        set   segments
  order:{id}      hash  page -> JSON list of component ids last served
  erased:{bucket} int   erasure epoch of a bucket of users (`_common.erasure_bucket`)
  tpl:{page}, tplver:{page}, live, rollouts, archived   templates (`redis_templates`)
  drafts:{author}                   designers' drafts (see `redis_drafts`)

Every per-user key is `{prefix}{kind}:{user id}` with its kind in `USER_KEY_KINDS`: erasure
deletes every kind listed there, so a new per-user key (counters...) is added to that tuple and
nowhere else. Erasure also INCRs the user's bucket epoch in the same MULTI; writes based on an
earlier read WATCH that key and compare (see `base`, "Erasure is final").

Every write is one MULTI/EXEC that also PUBLISHes its invalidations on `{prefix}invalidate`, so
the message goes out if and only if the write committed. Read-modify-write operations (events,
publish) WATCH their keys and retry on conflict. Writes only ever *set* values, never increment,
so a transaction the client resends after a lost reply leaves the same state.

Pub/sub delivers at most once (DESIGN section 7); the subscriber and its reconnects live in
`redis_pubsub`.

Failures: connection errors and timeouts become `StoreUnavailable` quickly (0.5 s connect and
operation timeouts, one immediate retry on a fresh connection), so a dead Redis never hangs a
request; the same store object works again once Redis is back.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any, Literal

import redis.asyncio as aioredis
from redis.asyncio.client import Pipeline
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError
from redis.typing import EncodableT

from uiserver.engine.affinity import Affinity, fold
from uiserver.engine.hashing import erasure_bucket
from uiserver.schema import Activity, Event, Profile, Settings
from uiserver.store._common import (
    Listeners,
    build_profile,
    decode_order,
    decode_settings,
    export_document,
    json_encode,
    last_assignments,
    user_invalidations,
)
from uiserver.store.base import (
    Archived,
    DraftRecord,
    ErasedMeanwhile,
    Invalidation,
    Listener,
    PageState,
    PublishOptions,
    Rollout,
    TemplateRecord,
    UserExport,
)
from uiserver.store.redis.activity import RedisActivity, fold_events, stored_activity
from uiserver.store.redis.drafts import RedisDrafts
from uiserver.store.redis.errors import UNAVAILABLE, guard
from uiserver.store.redis.pubsub import InvalidationChannel
from uiserver.store.redis.read import READ_USER, read_user_reply
from uiserver.store.redis.templates import RedisTemplates
from uiserver.store.redis.tx import watched

# The kinds of per-user keys, `{prefix}{kind}:{user id}`: erase_user deletes every one of them.
USER_KEY_KINDS = ("user", "aff", "seg", "order")


class RedisStore(RedisActivity):
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
        self._listeners = Listeners()
        self._redis = aioredis.Redis.from_url(
            url,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            retry=Retry(NoBackoff(), 1),  # one retry: replaces a pooled connection Redis closed
        )
        # `silence`: no reply to the subscriber's pings for this long means the link is dead.
        self._channel = InvalidationChannel(
            url,
            f"{prefix}invalidate",
            self._listeners,
            timeout=timeout,
            max_backoff=max_backoff,
            silence=silence,
        )
        self._templates = RedisTemplates(self._redis, prefix, self._channel, self._listeners)
        self._drafts = RedisDrafts(self._redis, prefix)
        self._read_script = self._redis.register_script(READ_USER)

    # ------------------------------------------------------------------ keys

    def _key(self, kind: str, user_id: str) -> str:
        """A per-user key: `kind` must be in USER_KEY_KINDS, or erasure would miss it."""
        return f"{self._prefix}{kind}:{user_id}"

    def _user(self, user_id: str) -> str:
        return self._key("user", user_id)

    def _aff(self, user_id: str) -> str:
        return self._key("aff", user_id)

    def _seg(self, user_id: str) -> str:
        return self._key("seg", user_id)

    def _order(self, user_id: str) -> str:
        return self._key("order", user_id)

    def _user_keys(self, user_id: str) -> list[str]:
        return [self._key(kind, user_id) for kind in USER_KEY_KINDS]

    def _epoch_key(self, user_id: str) -> str:
        return f"{self._prefix}erased:{erasure_bucket(user_id)}"

    # ------------------------------------------------------------------ lifecycle

    async def open(self, wait: float = 1.0) -> None:
        """Start the subscriber and wait up to `wait` s for it to subscribe. Does not raise when
        Redis is down: the subscriber keeps trying, `ping()` says False meanwhile."""
        await self._channel.start(wait)

    async def close(self) -> None:
        await self._channel.stop()
        await self._redis.aclose()

    @property
    def subscribed(self) -> bool:
        """True while the invalidation channel is subscribed; until then this process may miss
        other replicas' changes (readiness says not ready)."""
        return self._channel.subscribed

    async def ping(self) -> bool:
        try:
            return bool(await self._redis.ping())
        except (RedisError, *UNAVAILABLE):
            return False

    # ------------------------------------------------------------------ invalidation

    def add_listener(self, listener: Listener) -> None:
        self._listeners.add(listener)

    def poll(self) -> None:
        """Nothing to do: the subscriber task delivers other processes' invalidations."""

    # ------------------------------------------------------------------ users

    async def get_profile(self, user_id: str) -> Profile:
        settings, affinity, segments, orders, _, epoch, activity = await self._read_user(user_id)
        return build_profile(user_id, settings, affinity, segments, orders, epoch, activity)

    async def erasure_epoch(self, user_id: str) -> int:
        with guard():
            return _int(await self._redis.get(self._epoch_key(user_id)))

    async def get_settings(self, user_id: str) -> Settings:
        with guard():
            raw = await self._redis.hget(self._user(user_id), "settings")
        return Settings() if raw is None else decode_settings(raw)

    async def put_settings(
        self, user_id: str, settings: Settings, epoch: int | None = None
    ) -> None:
        await self.update_settings(user_id, lambda _: settings, epoch)

    async def update_settings(
        self, user_id: str, update: Callable[[Settings], Settings], epoch: int | None = None
    ) -> Settings:
        """Read, update and write under WATCH of the user's hash and epoch key (retried on a
        conflict), so a concurrent change is never lost and an erase is never undone."""
        changes = [Invalidation("user", user_id)]
        key, epoch_key = self._user(user_id), self._epoch_key(user_id)

        async def attempt(pipe: Pipeline) -> Settings:
            await self._check_epoch(pipe, epoch_key, epoch)
            raw = await pipe.hget(key, "settings")
            settings = update(Settings() if raw is None else decode_settings(raw))
            now = time.time()
            pipe.multi()  # type: ignore[no-untyped-call]  # untyped in redis-py
            pipe.hset(key, mapping={"settings": json_encode(settings), "updated": now})
            pipe.hsetnx(key, "created", now)
            self._channel.publish(pipe, changes)
            await pipe.execute()
            return settings

        settings = await watched(
            self._redis, (key, epoch_key), attempt, "redis: a settings write kept conflicting"
        )
        self._listeners.emit(changes)
        return settings

    @staticmethod
    async def _check_epoch(pipe: Pipeline, epoch_key: str, epoch: int | None) -> None:
        """Under WATCH of `epoch_key`: raise ErasedMeanwhile when the user was erased after the
        write read `epoch` (the WATCH makes an erase between here and EXEC retry the write)."""
        if epoch is not None and _int(await pipe.get(epoch_key)) != epoch:
            await pipe.unwatch()  # type: ignore[no-untyped-call]  # untyped in redis-py
            raise ErasedMeanwhile("the user was erased after this write started")

    async def record_events(
        self, user_id: str, events: Sequence[Event], now: float, epoch: int | None = None
    ) -> int:
        """Fold the batch into the user's affinities; 0 (nothing stored) when personalization
        is off in the stored settings, whatever the caller checked (defence in depth)."""
        if not events:
            return 0
        user_key, aff_key = self._user(user_id), self._aff(user_id)
        epoch_key = self._epoch_key(user_id)
        changes = [Invalidation("user", user_id)]

        async def attempt(pipe: Pipeline) -> bool:
            await self._check_epoch(pipe, epoch_key, epoch)
            fields = await pipe.hmget(
                user_key, ["settings", "evidence", "affinity_ts", "last_event", "activity"]
            )
            settings = None if fields[0] is None else decode_settings(fields[0])
            if settings is not None and settings.personalization == 0:
                await pipe.unwatch()  # type: ignore[no-untyped-call]  # untyped in redis-py
                return False
            scores = await pipe.zrange(aff_key, 0, -1, withscores=True)
            state = Affinity(_scores(scores), *_affinity_fields(fields[1:4]))
            new = fold(state, events, now)
            pipe.multi()  # type: ignore[no-untyped-call]  # untyped in redis-py
            self._queue_affinity(pipe, user_id, new, now)
            pipe.hset(user_key, "activity", fold_events(fields[4], events, now))
            self._channel.publish(pipe, changes)
            await pipe.execute()
            return True

        keys = (user_key, aff_key, epoch_key)
        if not await watched(self._redis, keys, attempt, "redis: an events write kept conflicting"):
            return 0
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

    async def set_last_order(
        self, user_id: str, page: str, order: Sequence[str], epoch: int | None = None
    ) -> None:
        """No invalidation: the order served is a consequence of the cached layout, not an input
        that changes it, and invalidating here would make every cold serve drop its own entry."""
        key, epoch_key = self._order(user_id), self._epoch_key(user_id)
        value = json_encode(list(order))
        if epoch is None:
            with guard():
                await self._redis.hset(key, page, value)
            return

        async def attempt(pipe: Pipeline) -> None:
            await self._check_epoch(pipe, epoch_key, epoch)
            pipe.multi()  # type: ignore[no-untyped-call]  # untyped in redis-py
            pipe.hset(key, page, value)
            await pipe.execute()

        await watched(
            self._redis, (epoch_key,), attempt, "redis: a last-order write kept conflicting"
        )

    async def put_segments(self, assignments: Sequence[tuple[str, Sequence[str]]]) -> int:
        mapping = last_assignments(assignments)
        if not mapping:
            return 0
        changes = user_invalidations(list(mapping))
        with guard():
            async with self._redis.pipeline(transaction=True) as pipe:
                for user_id, segments in mapping.items():
                    pipe.delete(self._seg(user_id))
                    if segments:
                        pipe.sadd(self._seg(user_id), *segments)
                self._channel.publish(pipe, changes)
                await pipe.execute()
        self._listeners.emit(changes)
        return len(mapping)

    async def export_user(self, user_id: str) -> UserExport:
        settings, affinity, segments, orders, stamps, _, activity = await self._read_user(user_id)
        return export_document(user_id, settings, affinity, segments, orders, *stamps, activity)

    async def erase_user(self, user_id: str) -> None:
        changes = [Invalidation("user", user_id)]
        with guard():
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.delete(*self._user_keys(user_id))
                # INCR, not SET: resent after a lost reply it moves the epoch on again, harmless.
                pipe.incr(self._epoch_key(user_id))
                self._channel.publish(pipe, changes)
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
        int,
        Activity | None,
    ]:
        """One consistent snapshot of everything about the user: one EVALSHA of `READ_USER`."""
        with guard():
            raw = await self._read_script(
                keys=[*self._user_keys(user_id), self._epoch_key(user_id)]
            )
        user, scores, segments, orders, epoch = read_user_reply(raw)
        raw_settings = user.get(b"settings")
        settings = None if raw_settings is None else decode_settings(raw_settings)
        fields = [user.get(name) for name in (b"evidence", b"affinity_ts", b"last_event")]
        affinity = Affinity(scores, *_affinity_fields(fields))
        stamps = (_float(user.get(b"created")), _float(user.get(b"updated")))
        raw_activity = user.get(b"activity")
        return (
            settings,
            affinity,
            [segment.decode() for segment in segments],
            {page.decode(): decode_order(order) for page, order in orders.items()},
            stamps,
            _int(epoch),
            stored_activity(user, raw_activity),
        )

    # ------------------------------------------------------------------ templates

    async def publish(
        self,
        page: str,
        version: str,
        document: bytes,
        author: str,
        message: str,
        now: float,
        options: PublishOptions | None = None,
    ) -> TemplateRecord:
        """Append `version` to the page's history and make it live (see `TemplateStore`)."""
        return await self._templates.publish(page, version, document, author, message, now, options)

    async def set_rollout(self, page: str, percent: int, author: str, now: float) -> Rollout:
        return await self._templates.set_rollout(page, percent, author, now)

    async def end_rollout(
        self, page: str, outcome: Literal["promote", "abort"], author: str, now: float
    ) -> TemplateRecord:
        return await self._templates.end_rollout(page, outcome, author, now)

    async def archive(self, page: str, author: str, now: float) -> Archived:
        return await self._templates.archive(page, author, now)

    async def states(self, page: str | None = None) -> dict[str, PageState]:
        return await self._templates.states(page)

    async def live(self) -> dict[str, TemplateRecord]:
        return await self._templates.live()

    async def live_template(self, page: str) -> TemplateRecord | None:
        return await self._templates.live_template(page)

    async def get_version(self, page: str, version: str) -> TemplateRecord | None:
        """The newest history entry of that version (a rollback repeats a version)."""
        return await self._templates.get_version(page, version)

    async def history(self, page: str) -> list[TemplateRecord]:
        return await self._templates.history(page)

    # ------------------------------------------------------------------ designers' drafts

    async def put_draft(self, draft: DraftRecord) -> None:
        await self._drafts.put_draft(draft)

    async def get_draft(self, author: str, page: str) -> DraftRecord | None:
        return await self._drafts.get_draft(author, page)

    async def delete_draft(self, author: str, page: str) -> bool:
        return await self._drafts.delete_draft(author, page)

    async def drafts(self, author: str) -> list[DraftRecord]:
        return await self._drafts.drafts(author)


def _float(raw: bytes | str | None) -> float | None:
    return None if raw is None else float(raw)


def _int(raw: bytes | str | None) -> int:
    return 0 if raw is None else int(raw)


def _scores(pairs: Sequence[Any]) -> dict[str, float]:
    """ZRANGE WITHSCORES as a dict (pairs of member and score)."""
    return {member.decode(): float(score) for member, score in pairs}


def _affinity_fields(
    fields: Sequence[bytes | str | None],
) -> tuple[float, float | None, float | None]:
    """(evidence, affinity_ts, last_event) from their raw hash values."""
    evidence, updated, last_event = fields
    return (0.0 if evidence is None else float(evidence)), _float(updated), _float(last_event)
