"""The Redis store's `UserStore` (keys in `keys.Keys`):

  user:{id}       hash  settings (JSON), evidence, affinity_ts, last_event, created, updated,
                        activity (JSON counters, see `activity`)
  aff:{id}        zset  affinity key -> score (as of affinity_ts)
  seg:{id}        set   segments
  order:{id}      hash  page -> JSON list of component ids last served
  evid:{id}       str   seen event ids: 12-byte records (digest, second first stored),
                        oldest first (`store.event_ids`: 7 days, at most 1,000; expires with
                        its window)
  erased:{bucket} int   erasure epoch of a bucket of users (`engine.hashing.erasure_bucket`)

Erasure deletes every kind in `keys.USER_KEY_KINDS` and INCRs the user's bucket epoch in the same
MULTI; writes based on an earlier read WATCH that key and compare (see `store.base`, "Erasure is
final"). Read-modify-write operations (settings, events) WATCH their keys and retry on conflict.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import cast

import msgspec
from redis.asyncio.client import Pipeline
from redis.exceptions import WatchError
from redis.typing import EncodableT

from uiserver.engine.activity import decode_activity, encode_activity
from uiserver.engine.activity import record_events as record_activity_events
from uiserver.engine.affinity import Affinity, fold
from uiserver.schema import Activity, Event, Profile, Settings
from uiserver.store._common import (
    MAX_TX_ATTEMPTS,
    build_profile,
    count_conversions,
    decode_order,
    decode_settings,
    export_document,
    json_encode,
    last_assignments,
    user_invalidations,
)
from uiserver.store.base import (
    Attribution,
    Conversion,
    ErasedMeanwhile,
    Invalidation,
    SegmentInvalidation,
    ServedCheck,
    StoreUnavailable,
    UserExport,
)
from uiserver.store.event_ids import WINDOW_S, Recorded, SeenIds, fresh
from uiserver.store.redis.activity import RedisActivity, stored_activity
from uiserver.store.redis.batch import APPLY, SNAPSHOT, Snapshot, apply_args
from uiserver.store.redis.connection import Connection
from uiserver.store.redis.errors import guard
from uiserver.store.redis.read import READ_USER, read_user_reply
from uiserver.store.redis.tx import watched


class RedisUsers:
    """Settings, affinities, segments and last orders of users in the shared Redis."""

    def __init__(self, conn: Connection) -> None:
        self._redis = conn.redis
        self._durable = conn.durable
        self._keys = conn.keys
        self._channel = conn.channel
        self._listeners = conn.listeners
        self._read_script = conn.redis.register_script(READ_USER)
        self._snapshot = conn.redis.register_script(SNAPSHOT)
        self._apply = conn.redis.register_script(APPLY)
        self._counts = RedisActivity(conn)  # the experiment counts an events batch adds to

    async def get_profile(self, user_id: str) -> Profile:
        settings, affinity, segments, orders, _, epoch, activity = await self._read_user(user_id)
        return build_profile(user_id, settings, affinity, segments, orders, epoch, activity)

    async def erasure_epoch(self, user_id: str) -> int:
        with guard():
            return _int(await self._redis.get(self._keys.epoch(user_id)))

    async def get_settings(self, user_id: str) -> Settings:
        with guard():
            raw = await self._redis.hget(self._keys.user(user_id), "settings")
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
        key, epoch_key = self._keys.user(user_id), self._keys.epoch(user_id)

        async def attempt(pipe: Pipeline) -> Settings:
            await check_epoch(pipe, epoch_key, epoch)
            raw = await pipe.hget(key, "settings")
            settings = update(Settings() if raw is None else decode_settings(raw))
            now = time.time()
            pipe.multi()  # type: ignore[no-untyped-call]  # untyped in redis-py
            pipe.hset(key, mapping={"settings": json_encode(settings), "updated": now})
            pipe.hsetnx(key, "created", now)
            self._channel.publish(pipe, changes, self._keys.user_channel(user_id))
            await pipe.execute()
            return settings

        settings = await watched(
            self._redis, (key, epoch_key), attempt, "redis: a settings write kept conflicting"
        )
        self._listeners.emit(changes)
        return settings

    async def record_events(
        self, user_id: str, events: Sequence[Event], now: float, epoch: int | None = None
    ) -> int:
        return (await self.record_batch(user_id, events, now, epoch)).stored

    async def record_batch(
        self,
        user_id: str,
        events: Sequence[Event],
        now: float,
        epoch: int | None = None,
        conversions: Attribution | None = None,
        served: ServedCheck | None = None,
    ) -> Recorded:
        """Fold the batch's fresh events (ids not in `evid:{id}`) into the user's affinities
        and counters and remember their ids: two commands (`batch.SNAPSHOT`, then the
        compare-and-set `batch.APPLY`, read and folded again when anything read changed
        meanwhile). A batch whose events count experiment conversions writes in one MULTI/EXEC
        under WATCH of every key read instead (the counts live in other keys). Nothing stored
        when personalization is off in the stored settings, whatever the caller checked
        (defence in depth). A retry after a lost reply reads the ids that were written: nothing
        counts twice. The user is invalidated (published) only when `served` says the batch
        changes what they may be served (always when `served` is None)."""
        if not events:
            return Recorded()
        keys = (
            self._keys.user(user_id),
            self._keys.aff(user_id),
            self._keys.epoch(user_id),
            self._keys.event_ids(user_id),
        )
        for _ in range(MAX_TX_ATTEMPTS):
            with guard():
                snapshot = Snapshot(await self._snapshot(keys=keys))
            outcome = await self._fold_and_apply(
                user_id, keys, snapshot, events, now, epoch, conversions, served
            )
            if outcome is not None:
                recorded, changes = outcome
                if changes:
                    with guard():
                        async with self._redis.pipeline(transaction=False) as pipe:
                            self._channel.publish(pipe, changes, self._keys.user_channel(user_id))
                            await pipe.execute()
                    self._listeners.emit(changes)
                return recorded
        raise StoreUnavailable("redis: an events write kept conflicting", "conflict")

    async def _fold_and_apply(
        self,
        user_id: str,
        keys: tuple[str, str, str, str],
        snapshot: Snapshot,
        events: Sequence[Event],
        now: float,
        epoch: int | None,
        conversions: Attribution | None,
        served: ServedCheck | None,
    ) -> tuple[Recorded, list[Invalidation]] | None:
        """The batch folded into `snapshot` and written if nothing changed since; None when it
        did (read again)."""
        if epoch is not None and snapshot.epoch != epoch:
            raise ErasedMeanwhile("the user was erased after this write started")
        raw_settings = snapshot.fields["settings"]
        settings = None if raw_settings is None else decode_settings(raw_settings)
        if settings is not None and settings.personalization == 0:
            return Recorded(), []
        known = SeenIds(snapshot.ids, now)
        folded, new_ids = fresh(events, known)
        if not folded:
            return Recorded(duplicates=len(events)), []
        fields = snapshot.fields
        state = Affinity(
            snapshot.scores,
            *_affinity_fields([fields["evidence"], fields["affinity_ts"], fields["last_event"]]),
        )
        new = fold(state, folded, now)
        before = _activity(fields["activity"])
        counters = record_activity_events(before, folded, now)
        converts = [] if conversions is None else conversions(folded)
        changes = [Invalidation("user", user_id)]
        if served is not None and not served((state, before), (new, counters)):
            changes = []  # nothing a plan reads moved: no replica drops its profile
        ids = known.packed_with(new_ids, now) if new_ids else None
        if converts:
            recorded = await self._record_with_conversions(
                user_id, keys, snapshot.digest, new, counters, converts, ids, now, changes
            )
            if recorded is None:
                return None
            return Recorded(len(folded), len(events) - len(folded), recorded), []
        with guard():
            written = await self._apply(
                keys=keys,
                args=apply_args(
                    snapshot, new, self._hash_fields(new, counters, now), now, ids, WINDOW_S
                ),
            )
        if not written:
            return None
        return Recorded(len(folded), len(events) - len(folded), 0), changes

    def _hash_fields(self, new: Affinity, counters: Activity, now: float) -> dict[str, EncodableT]:
        fields: dict[str, EncodableT] = {"evidence": new.evidence, "updated": now}
        if new.updated is not None:
            fields["affinity_ts"] = new.updated
        if new.last_event is not None:
            fields["last_event"] = new.last_event
        fields["activity"] = encode_activity(counters)
        return fields

    async def _record_with_conversions(
        self,
        user_id: str,
        keys: tuple[str, str, str, str],
        digest: bytes,
        new: Affinity,
        counters: Activity,
        converts: Sequence[Conversion],
        ids: bytes | None,
        now: float,
        changes: list[Invalidation],
    ) -> int | None:
        """A batch with conversions: the fold and the experiment counts in one MULTI/EXEC,
        under WATCH of the user's keys, checked against the snapshot's digest. Returns how
        many conversions counted, None when the keys changed (read again)."""
        try:
            with guard():
                async with self._redis.pipeline(transaction=True) as pipe:
                    await pipe.watch(*keys)
                    if (await self._snapshot(keys=keys, client=pipe))[4] != digest:
                        await pipe.unwatch()  # type: ignore[no-untyped-call]  # untyped
                        return None
                    counters, tallies, counted = count_conversions(counters, converts, now)
                    experiments = {t.experiment for t in tallies}
                    legacy = await self._counts.legacy_flags(pipe, experiments)
                    pipe.multi()  # type: ignore[no-untyped-call]  # untyped in redis-py
                    self._queue_affinity(pipe, user_id, new, now)
                    pipe.hset(keys[0], "activity", encode_activity(counters))
                    if ids is not None:
                        pipe.set(keys[3], ids, ex=WINDOW_S)
                    counts = self._counts.counts_pipeline(pipe)  # a cluster: sent after
                    self._counts.queue_counts(counts, tallies, legacy, experiments)
                    if changes:
                        self._channel.publish(pipe, changes, self._keys.user_channel(user_id))
                    await pipe.execute()
                    await self._counts.after_commit(pipe, counts)
        except WatchError:
            return None
        self._listeners.emit(changes)
        return counted

    def _queue_affinity(self, pipe: Pipeline, user_id: str, new: Affinity, now: float) -> None:
        aff_key, user_key = self._keys.aff(user_id), self._keys.user(user_id)
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
        key, epoch_key = self._keys.order(user_id), self._keys.epoch(user_id)
        value = json_encode(list(order))
        if epoch is None:
            with guard():
                await self._redis.hset(key, page, value)
            return

        async def attempt(pipe: Pipeline) -> None:
            await check_epoch(pipe, epoch_key, epoch)
            pipe.multi()  # type: ignore[no-untyped-call]  # untyped in redis-py
            pipe.hset(key, page, value)
            await pipe.execute()

        await watched(
            self._redis, (epoch_key,), attempt, "redis: a last-order write kept conflicting"
        )

    async def put_segments(
        self,
        assignments: Sequence[tuple[str, Sequence[str]]],
        invalidation: SegmentInvalidation = "users",
    ) -> int:
        """See `UserStore.put_segments`: one MULTI/EXEC per call (in a cluster, one per slot
        tag of the users: a transaction holds one slot)."""
        mapping = last_assignments(assignments)
        changes = user_invalidations(list(mapping), invalidation)
        if not mapping and not changes:
            return 0
        bulk = [c for c in changes if c.kind != "user"]  # one `all`: on the first channel
        groups = self._keys.by_tag(mapping) or {"": []}
        with guard():
            for tag, users in groups.items():
                mine = [c for c in changes if c.kind == "user" and c.key in set(users)] + bulk
                bulk = []
                channel = self._keys.channel(tag) if tag else self._keys.group_channel("tpl")
                async with self._redis.pipeline(transaction=True) as pipe:
                    for user_id in users:
                        pipe.delete(self._keys.seg(user_id))
                        if mapping[user_id]:
                            pipe.sadd(self._keys.seg(user_id), *mapping[user_id])
                    if mine:
                        self._channel.publish(pipe, mine, channel)
                    await pipe.execute()
        self._listeners.emit(changes)
        return len(mapping)

    async def export_user(self, user_id: str) -> UserExport:
        settings, affinity, segments, orders, stamps, _, activity = await self._read_user(user_id)
        data = export_document(user_id, settings, affinity, segments, orders, *stamps, activity)
        with guard():
            raw = cast(bytes | None, await self._redis.get(self._keys.event_ids(user_id)))
        return msgspec.structs.replace(data, event_ids=len(SeenIds(raw, time.time())))

    async def erase_user(self, user_id: str) -> None:
        """Durable (`durable`): acknowledged only once the replicas asked for have it."""
        changes = [Invalidation("user", user_id)]
        try:
            with guard():
                async with self._durable.pipeline() as pipe:
                    pipe.delete(*self._keys.of_user(user_id))
                    # INCR, not SET: resent after a lost reply it moves the epoch on again.
                    pipe.incr(self._keys.epoch(user_id))
                    self._channel.publish(pipe, changes, self._keys.user_channel(user_id))
                    await pipe.execute()
        finally:  # NotReplicated: done on the primary all the same
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
                keys=[*self._keys.of_user(user_id), self._keys.epoch(user_id)]
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


def _activity(raw: bytes | str | None) -> Activity | None:
    return None if raw is None else decode_activity(raw)


async def check_epoch(pipe: Pipeline, epoch_key: str, epoch: int | None) -> None:
    """Under WATCH of `epoch_key`: raise ErasedMeanwhile when the user was erased after the
    write read `epoch` (the WATCH makes an erase between here and EXEC retry the write)."""
    if epoch is not None and _int(await pipe.get(epoch_key)) != epoch:
        await pipe.unwatch()  # type: ignore[no-untyped-call]  # untyped in redis-py
        raise ErasedMeanwhile("the user was erased after this write started")


def _float(raw: bytes | str | None) -> float | None:
    return None if raw is None else float(raw)


def _int(raw: bytes | str | None) -> int:
    return 0 if raw is None else int(raw)


def _affinity_fields(
    fields: Sequence[bytes | str | None],
) -> tuple[float, float | None, float | None]:
    """(evidence, affinity_ts, last_event) from their raw hash values."""
    evidence, updated, last_event = fields
    return (0.0 if evidence is None else float(evidence)), _float(updated), _float(last_event)
