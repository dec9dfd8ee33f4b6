"""The Redis store's `ActivityStore`: activity counters and experiment counts (`keys.Keys`):

  user:{id}                            hash field `activity`: the counters and exposure markers
                                       (JSON), erased with the user
  expc:{experiment}:{variant}          hash of exact counts, one field per (count, cohort):
                                       `exposed:standard/new`, `converters:...`, `value:...`
  expoff:{experiment}:{variant}        HyperLogLog of the users with personalization off
  expmeta:{experiment}                 hash `version` (moves with every count), `legacy`
  exp:{experiment}:{variant}:{day}:x   HyperLogLog of exposed users that day (PFADD of a hash)
  exp:{experiment}:{variant}:{day}     hash converters, converts, value of everyone that day
  expdays:{experiment}                 set of the days with any count

Memory is bounded by experiments x variants x (days + cohorts): a HyperLogLog is at most 12 KB.

Every write is read-modify-write under WATCH of the users' hashes (retried on conflict), and the
marker, the exact increments it causes and the invalidation PUBLISH go in one MULTI/EXEC. A
transaction resent after a lost reply counts nothing twice: redis-py turns a connection error
while watching into a WatchError, so the attempt starts again from the WATCH, reads the marker
the first EXEC wrote, and has nothing left to count.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence

import msgspec
from redis.asyncio.client import Pipeline

from uiserver.engine.activity import (
    NEVER_SEEN,
    Tally,
    day_of,
    decode_activity,
    encode_activity,
    first_seen,
    in_cohort,
    record_events,
)
from uiserver.engine.affinity import EventLike
from uiserver.engine.hashing import exposure_id
from uiserver.engine.readout import VariantCounts
from uiserver.schema import Activity
from uiserver.store._common import count_conversions, fold_activity, merge_tallies
from uiserver.store.base import Conversion, Exposure, Invalidation
from uiserver.store.redis.connection import Connection
from uiserver.store.redis.errors import guard
from uiserver.store.redis.tx import watched


def stored_activity(user: Mapping[bytes, bytes], raw: bytes | None) -> Activity | None:
    """A user's counters from their hash: empty ones for a user never stored (a first launch),
    None for one stored before counters existed (nothing known yet)."""
    if raw is not None:
        return decode_activity(raw)
    return NEVER_SEEN if not user else None


def fold_events(raw: bytes | str | None, events: Iterable[EventLike], now: float) -> bytes:
    """The stored counters (`raw`) with an events batch folded in, encoded to store again."""
    counters = None if raw is None else decode_activity(raw)
    return encode_activity(record_events(counters, events, now))


FIELDS = ("exposed", "converters", "converts", "value", "multi", "switched", "early")


def _sums(totals: Mapping[bytes, bytes], cohort: str | None) -> dict[str, float]:
    """The exact counts of a variant's hash summed over the cells of `cohort`."""
    out = dict.fromkeys(FIELDS, 0.0)
    for raw, amount in totals.items():
        field, _, cell = raw.decode().partition(":")
        if field in out and (cohort is None or (cell and in_cohort(cell, cohort))):
            out[field] += float(amount)
    return out


class RedisActivity:
    """The `ActivityStore` of the Redis store."""

    def __init__(self, conn: Connection) -> None:
        self._redis = conn.redis
        self._keys = conn.keys
        self._channel = conn.channel
        self._listeners = conn.listeners

    async def _legacy(self, pipe: Pipeline, experiments: Iterable[str]) -> dict[str, int]:
        """For experiments without a `legacy` flag yet: 1 when they have counts from before
        exact counting (their days set exists), else 0. Read on the client, not the watched
        `pipe`: the flag is set once (HSETNX in the transaction), and watching the experiment's
        hash, which every count bumps, would make each write conflict with every other."""
        del pipe
        out = {}
        for experiment in sorted(set(experiments)):
            if await self._redis.hexists(self._keys.meta(experiment), "legacy"):
                continue
            out[experiment] = int(bool(await self._redis.exists(self._keys.days(experiment))))
        return out

    async def legacy_flags(self, pipe: Pipeline, experiments: Iterable[str]) -> dict[str, int]:
        """`_legacy` for another role's transaction (the events batch, `users.record_batch`)."""
        return await self._legacy(pipe, experiments)

    def queue_counts(
        self,
        pipe: Pipeline,
        tallies: Iterable[Tally],
        legacy: Mapping[str, int],
        experiments: Iterable[str],
    ) -> None:
        """`_queue_counts` for another role's transaction (the events batch)."""
        self._queue_counts(pipe, tallies, legacy, experiments)

    def _queue_counts(
        self,
        pipe: Pipeline,
        tallies: Iterable[Tally],
        legacy: Mapping[str, int],
        experiments: Iterable[str],
    ) -> None:
        """Queue (after MULTI) the exact increments, everyone's conversion counts per day, the
        experiments' flags and versions."""
        for t in merge_tallies(tallies):
            key = self._keys.exact(t.experiment, t.variant)
            for field in FIELDS:
                amount = getattr(t, field)
                if field == "value" and amount:
                    pipe.hincrbyfloat(key, f"value:{t.cohort}", amount)
                elif amount:
                    pipe.hincrby(key, f"{field}:{t.cohort}", amount)
            if t.converts:
                day_key = self._keys.exposures(t.experiment, t.variant, t.day)
                pipe.hincrby(day_key, "converters", t.converters)
                pipe.hincrby(day_key, "converts", t.converts)
                pipe.hincrbyfloat(day_key, "value", t.value)
                pipe.sadd(self._keys.days(t.experiment), t.day)
        for experiment in sorted(experiments):
            if experiment in legacy:
                pipe.hsetnx(self._keys.meta(experiment), "legacy", legacy[experiment])
            pipe.hincrby(self._keys.meta(experiment), "version", 1)

    def counts_pipeline(self, pipe: Pipeline) -> Pipeline:
        """Where a transaction queues its experiment counts: the transaction itself on one
        server; in a cluster (counts live in their experiment's slot) a pipeline sent right
        after the transaction committed (`after_commit`)."""
        return self._redis.pipeline(transaction=False) if self._keys.cluster else pipe

    async def after_commit(self, pipe: Pipeline, counts: Pipeline) -> None:
        """Send the counts of a committed transaction (a cluster). A failure here loses that
        batch's experiment counts; it never counts twice (DEPLOY.md, "Redis Cluster")."""
        if counts is not pipe:
            await counts.execute()  # not `async with`: entering a ClusterPipeline empties it

    async def record_activity(
        self, launches: Mapping[str, tuple[int, int, int]], exposures: Sequence[Exposure]
    ) -> None:
        """One transaction; in a cluster one per slot tag of the users."""
        by_tag = self._keys.by_tag({*launches, *(e.user_id for e in exposures)})
        for users in by_tag.values():
            group = set(users)
            await self._record_group(
                {u: n for u, n in launches.items() if u in group},
                [e for e in exposures if e.user_id in group],
            )

    async def _record_group(
        self, launches: Mapping[str, tuple[int, int, int]], exposures: Sequence[Exposure]
    ) -> None:
        users = sorted({*launches, *(e.user_id for e in exposures if e.mark)})
        keys = [self._keys.user(u) for u in users]
        epoch_keys = [self._keys.epoch(u) for u in users]

        async def attempt(pipe: Pipeline) -> list[Invalidation]:
            states: dict[str, Activity | None] = {}
            epochs: dict[str, int] = {}
            for user_id, key, epoch_key in zip(users, keys, epoch_keys, strict=True):
                raw_epoch = await pipe.get(epoch_key)
                epochs[user_id] = 0 if raw_epoch is None else int(raw_epoch)
                raw, created = await pipe.hmget(key, ["activity", "created"])
                states[user_id] = (
                    decode_activity(raw)
                    if raw is not None
                    # stored before counters: known since the hash was created
                    else first_seen(day_of(float(created)))
                    if created is not None
                    else None
                )
            experiments = {e.experiment for e in exposures}
            legacy = await self._legacy(pipe, experiments)
            changed, invalidate, tallies = fold_activity(
                launches, exposures, epochs.__getitem__, states.__getitem__, time.time()
            )
            pipe.multi()  # type: ignore[no-untyped-call]  # untyped in redis-py
            for user_id, state in changed.items():
                if state is not None:
                    pipe.hset(self._keys.user(user_id), "activity", encode_activity(state))
            counts = self.counts_pipeline(pipe)
            for e in exposures:
                key = self._keys.exposures(e.experiment, e.variant, e.day)
                counts.pfadd(f"{key}:x", exposure_id(e.experiment, e.user_id))
                counts.sadd(self._keys.days(e.experiment), e.day)
                if not e.mark:
                    counts.pfadd(
                        self._keys.off(e.experiment, e.variant),
                        exposure_id(e.experiment, e.user_id),
                    )
            self._queue_counts(counts, tallies, legacy, experiments)
            changes = [Invalidation("user", u) for u in invalidate]
            if changes:
                self._channel.publish(pipe, changes, self._keys.user_channel(users[0]))
            await pipe.execute()
            await self.after_commit(pipe, counts)
            return changes

        changes = await watched(
            self._redis,
            [*keys, *epoch_keys],
            attempt,
            "redis: record_activity kept conflicting",
        )
        self._listeners.emit(changes)

    async def record_conversions(self, user_id: str, conversions: Sequence[Conversion]) -> int:
        if not conversions:
            return 0
        key = self._keys.user(user_id)
        now = time.time()  # one arrival time for every attempt: a resent one is recognised

        async def attempt(pipe: Pipeline) -> int:
            raw, created = await pipe.hmget(key, ["activity", "created"])
            stored = (
                decode_activity(raw)
                if raw is not None
                else first_seen(day_of(float(created)))
                if created is not None
                else NEVER_SEEN
            )
            activity, tallies, counted = count_conversions(stored, conversions, now)
            if activity == stored and not tallies:
                await pipe.unwatch()  # type: ignore[no-untyped-call]  # untyped in redis-py
                return 0
            experiments = {t.experiment for t in tallies}
            legacy = await self._legacy(pipe, experiments)
            pipe.multi()  # type: ignore[no-untyped-call]  # untyped in redis-py
            pipe.hset(key, "activity", encode_activity(activity))
            counts = self.counts_pipeline(pipe)
            self._queue_counts(counts, tallies, legacy, experiments)
            await pipe.execute()
            await self.after_commit(pipe, counts)
            return counted

        return await watched(
            self._redis,
            (key,),
            attempt,
            f"redis: record_conversions for {user_id!r} kept conflicting",
        )

    async def experiment_version(self, experiment: str) -> int:
        with guard():
            raw = await self._redis.hget(self._keys.meta(experiment), "version")
        return 0 if raw is None else int(raw)

    async def experiment_counts(
        self, experiment: str, variants: Sequence[str], cohort: str | None = None
    ) -> list[VariantCounts]:
        with guard():
            legacy = await self._redis.hget(self._keys.meta(experiment), "legacy") == b"1"
            days = sorted(int(d) for d in await self._redis.smembers(self._keys.days(experiment)))
            out = []
            for variant in variants:
                async with self._redis.pipeline(transaction=False) as pipe:
                    pipe.hgetall(self._keys.exact(experiment, variant))
                    pipe.execute_command(
                        "PFCOUNT", self._keys.off(experiment, variant)
                    )  # cluster: no pfcount()
                    totals, off = await pipe.execute()
                sums = _sums(totals, cohort)
                found = VariantCounts(
                    variant=variant,
                    exposed=int(sums["exposed"]),
                    converters=int(sums["converters"]),
                    converts=int(sums["converts"]),
                    value=sums["value"],
                    first_day=days[0] if days else None,
                    last_day=days[-1] if days else None,
                    exact=not legacy,
                    multi=int(sums["multi"]),
                    switched=int(sums["switched"]),
                    early=int(sums["early"]),
                )
                if cohort is None and legacy and days:
                    found = await self._legacy_counts(found, experiment, variant, days)
                elif cohort is None and off:
                    found = msgspec.structs.replace(
                        found, exposed=found.exposed + int(off), exact=False, estimated=int(off)
                    )
                out.append(found)
        return out

    async def _legacy_counts(
        self, found: VariantCounts, experiment: str, variant: str, days: Sequence[int]
    ) -> VariantCounts:
        """Everyone's counts from the day sketches and day hashes (counted before exact)."""
        keys = [self._keys.exposures(experiment, variant, d) for d in days]
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.execute_command("PFCOUNT", *(f"{k}:x" for k in keys))
            for k in keys:
                pipe.hgetall(k)
            exposed, *hashes = await pipe.execute()
        return msgspec.structs.replace(
            found,
            exposed=int(exposed),
            converters=sum(int(h.get(b"converters", 0)) for h in hashes),
            converts=sum(int(h.get(b"converts", 0)) for h in hashes),
            value=sum(float(h.get(b"value", 0)) for h in hashes),
        )
