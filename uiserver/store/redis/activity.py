"""The Redis store's `ActivityStore`: activity counters and experiment counts (`keys.Keys`):

  user:{id}                       hash field `activity`: the counters (JSON), erased with the user
  exp:{experiment}:{variant}:{day}:x   HyperLogLog of exposed users (PFADD of a hash of the id)
  exp:{experiment}:{variant}:{day}     hash converters, converts, value
  expdays:{experiment}            set of the days with any count

Memory is bounded by experiments x variants x days: a HyperLogLog is at most 12 KB (standard
error 0.81%, exact-ish in its sparse form for small counts), PFCOUNT of several keys counts their
union, so a user exposed on many days counts once.

Counter updates are read-modify-write under WATCH (retried on conflict), written with the
invalidation PUBLISH in the same MULTI/EXEC. Conversion counts are increments: a transaction
resent after a lost reply may count one conversion twice (a readout tolerates that; a layout
never depends on it).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from redis.asyncio.client import Pipeline

from uiserver.engine.activity import (
    NEVER_SEEN,
    day_of,
    decode_activity,
    encode_activity,
    first_seen,
    record_events,
)
from uiserver.engine.affinity import EventLike
from uiserver.engine.hashing import exposure_id
from uiserver.engine.readout import VariantCounts
from uiserver.schema import Activity
from uiserver.store._common import count_conversions, fold_activity
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


class RedisActivity:
    """The `ActivityStore` of the Redis store."""

    def __init__(self, conn: Connection) -> None:
        self._redis = conn.redis
        self._keys = conn.keys
        self._channel = conn.channel
        self._listeners = conn.listeners

    async def record_activity(
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
            changed = fold_activity(launches, exposures, epochs.__getitem__, states.__getitem__)
            pipe.multi()  # type: ignore[no-untyped-call]  # untyped in redis-py
            for user_id, state in changed.items():
                if state is not None:
                    pipe.hset(self._keys.user(user_id), "activity", encode_activity(state))
            for e in exposures:
                key = self._keys.exposures(e.experiment, e.variant, e.day)
                pipe.pfadd(f"{key}:x", exposure_id(e.experiment, e.user_id))
                pipe.sadd(self._keys.days(e.experiment), e.day)
            changes = [Invalidation("user", u) for u in changed]
            if changes:
                self._channel.publish(pipe, changes)
            await pipe.execute()
            return changes

        changes = await watched(
            self._redis, [*keys, *epoch_keys], attempt, "redis: record_activity kept conflicting"
        )
        self._listeners.emit(changes)

    async def record_conversions(self, user_id: str, conversions: Sequence[Conversion]) -> int:
        if not conversions:
            return 0
        key = self._keys.user(user_id)

        async def attempt(pipe: Pipeline) -> int:
            raw = await pipe.hget(key, "activity")
            if raw is None:
                await pipe.unwatch()  # type: ignore[no-untyped-call]  # untyped in redis-py
                return 0
            activity, counted = count_conversions(decode_activity(raw), conversions)
            if not counted:
                await pipe.unwatch()  # type: ignore[no-untyped-call]  # untyped in redis-py
                return 0
            pipe.multi()  # type: ignore[no-untyped-call]  # untyped in redis-py
            pipe.hset(key, "activity", encode_activity(activity))
            for c, first in counted:
                day_key = self._keys.exposures(c.experiment, c.variant, c.day)
                if first:
                    pipe.hincrby(day_key, "converters", 1)
                pipe.hincrby(day_key, "converts", 1)
                pipe.hincrbyfloat(day_key, "value", c.value)
                pipe.sadd(self._keys.days(c.experiment), c.day)
            await pipe.execute()
            return len(counted)

        return await watched(
            self._redis,
            (key,),
            attempt,
            f"redis: record_conversions for {user_id!r} kept conflicting",
        )

    async def experiment_counts(
        self, experiment: str, variants: Sequence[str]
    ) -> list[VariantCounts]:
        with guard():
            days = sorted(int(d) for d in await self._redis.smembers(self._keys.days(experiment)))
            out = []
            for variant in variants:
                keys = [self._keys.exposures(experiment, variant, d) for d in days]
                if not keys:
                    out.append(VariantCounts(variant))
                    continue
                async with self._redis.pipeline(transaction=False) as pipe:
                    pipe.pfcount(*(f"{k}:x" for k in keys))
                    for k in keys:
                        pipe.hgetall(k)
                    exposed, *hashes = await pipe.execute()
                out.append(
                    VariantCounts(
                        variant=variant,
                        exposed=int(exposed),
                        converters=sum(int(h.get(b"converters", 0)) for h in hashes),
                        converts=sum(int(h.get(b"converts", 0)) for h in hashes),
                        value=sum(float(h.get(b"value", 0)) for h in hashes),
                        first_day=days[0],
                        last_day=days[-1],
                    )
                )
        return out
