"""Experiment counts on both stores (issue 20 section 3, 4): exposure markers and conversion
timing, attribution across variants, exact first-exposure counts, cohorts and the data version.

Replicas are two stores opened on the same data (`make_store`): what one writes, the other
reads and settles.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path

import pytest

from tests.helpers.stores import StoreFactory
from uiserver.engine.activity import CLOCK_SKEW_S, day_of
from uiserver.engine.readout import VariantCounts
from uiserver.store.base import Conversion, Exposure, Store
from uiserver.store.sqlite import sketch
from uiserver.store.sqlite.store import SQLiteStore

pytestmark = pytest.mark.anyio

EXPERIMENT = "home_deals_position_v1"
VARIANTS = ["control", "deals_first"]
DAY_S = 86_400.0
NOW = time.time()


def exposure(
    user: str,
    variant: str = "control",
    at: float = NOW,
    cohort: str = "standard/new",
    *,
    mark: bool = True,
) -> Exposure:
    return Exposure(EXPERIMENT, variant, day_of(at), user, mark, 0, at, cohort)


def convert(ts: float, value: float = 10.0, key: str | None = None) -> Conversion:
    """A conversion with its own key (as `EventIntake` makes one per convert event)."""
    return Conversion(EXPERIMENT, ts, value, key or uuid.uuid4().hex)


async def counts(store: Store, cohort: str | None = None) -> dict[str, VariantCounts]:
    found = await store.activity.experiment_counts(EXPERIMENT, VARIANTS, cohort=cohort)
    return {c.variant: c for c in found}


# ------------------------------------------------------------ a convert before the marker


@pytest.mark.parametrize("delay", [0.2, 0.0, 0.9, 30.0], ids=lambda d: f"{d}s-after-serve")
async def test_a_convert_posted_to_another_replica_before_the_marker_counts(
    make_store: StoreFactory, delay: float
) -> None:
    """Served by replica A at T (its recorder writes the marker a second later); the convert,
    T + delay, reaches replica B first. B holds it in the user's counters; A's write settles
    it."""
    a, b = await make_store(), await make_store()
    assert await b.activity.record_conversions("ann", [convert(NOW + delay)]) == 0  # held
    await a.activity.record_activity({}, [exposure("ann", at=NOW)])
    found = await counts(b)
    assert found["control"].exposed == 1
    assert found["control"].converters == 1 and found["control"].converts == 1
    assert found["control"].value == 10.0


async def test_held_conversions_count_once_and_only_for_their_experiment(
    store: Store,
) -> None:
    await store.activity.record_conversions("ann", [convert(NOW + 1), convert(NOW + 2)])
    await store.activity.record_conversions("ann", [Conversion("other_exp", NOW + 1, 5.0)])
    await store.activity.record_activity({}, [exposure("ann", at=NOW)])
    await store.activity.record_activity({}, [exposure("ann", at=NOW + 5)])  # same variant again
    found = await counts(store)
    assert found["control"].converters == 1 and found["control"].converts == 2
    assert found["control"].value == 20.0
    profile = await store.users.get_profile("ann")
    assert profile.activity is not None
    assert [h.experiment for h in profile.activity.held if not h.counted] == ["other_exp"]


async def test_a_convert_after_the_marker_counts_at_once(store: Store) -> None:
    await store.activity.record_activity({}, [exposure("ann", at=NOW)])
    assert await store.activity.record_conversions("ann", [convert(NOW + 0.2)]) == 1
    assert (await counts(store))["control"].converters == 1


@pytest.mark.parametrize("held", [False, True], ids=["marker-first", "convert-first"])
async def test_the_same_conversion_applied_twice_counts_once(store: Store, held: bool) -> None:
    """A retried batch (its event ids) or a resent transaction brings the same key again."""
    if not held:
        await store.activity.record_activity({}, [exposure("ann")])
    for _ in range(2):
        await store.activity.record_conversions("ann", [convert(NOW + 1, key="ev-1")])
    await store.activity.record_activity({}, [exposure("ann")])
    found = (await counts(store))["control"]
    assert (found.converters, found.converts, found.value) == (1, 1, 10.0)


async def test_a_user_never_exposed_counts_nowhere(store: Store) -> None:
    await store.activity.record_conversions("ghost", [convert(NOW)])
    await store.activity.record_activity({}, [exposure("ann", at=NOW)])
    found = await counts(store)
    assert found["control"].converters == 0 and found["control"].converts == 0


# ------------------------------------------------------------ before the first exposure


@pytest.mark.parametrize(
    "before",
    [
        pytest.param(3 * DAY_S, id="three-days"),
        pytest.param(3_600.0, id="an-hour"),
        pytest.param(CLOCK_SKEW_S + 5, id="past-the-clock-skew"),
    ],
)
@pytest.mark.parametrize("held", [False, True], ids=["marker-first", "convert-first"])
async def test_a_convert_dated_before_the_first_exposure_does_not_count(
    store: Store, before: float, held: bool
) -> None:
    if held:
        await store.activity.record_conversions("ann", [convert(NOW - before)])
    await store.activity.record_activity({}, [exposure("ann", at=NOW)])
    if not held:
        assert await store.activity.record_conversions("ann", [convert(NOW - before)]) == 0
    found = (await counts(store))["control"]
    assert (found.converters, found.converts, found.value) == (0, 0, 0.0)
    assert found.early == 1
    assert found.first_day == day_of(NOW)  # the date range does not move back


async def test_a_convert_within_the_clock_skew_before_exposure_counts(store: Store) -> None:
    await store.activity.record_activity({}, [exposure("ann", at=NOW)])
    assert await store.activity.record_conversions("ann", [convert(NOW - 5)]) == 1
    found = (await counts(store))["control"]
    assert found.converters == 1 and found.early == 0


# ------------------------------------------------------------ moved by a weight edit


async def test_a_user_moved_to_another_variant_is_exposed_to_both(store: Store) -> None:
    """Same day: served control, a weight edit, then served deals_first. Exposed to both
    (once each); a conversion counts for every variant served before it."""
    await store.activity.record_activity({}, [exposure("ann", "control", NOW)])
    await store.activity.record_activity({}, [exposure("bob", "control", NOW)])
    await store.activity.record_activity({}, [exposure("ann", "deals_first", NOW + 60)])
    await store.activity.record_activity({}, [exposure("ann", "control", NOW + 120)])  # back
    assert await store.activity.record_conversions("ann", [convert(NOW + 90)]) == 1
    assert await store.activity.record_conversions("bob", [convert(NOW + 30)]) == 1
    found = await counts(store)
    assert found["control"].exposed == 2 and found["deals_first"].exposed == 1
    assert found["control"].multi == 1 and found["deals_first"].multi == 1
    assert sum(c.switched for c in found.values()) == 1  # one user exposed to two variants
    assert found["control"].converters == 2 and found["deals_first"].converters == 1
    assert found["control"].exact and found["deals_first"].exact


async def test_a_convert_between_two_exposures_counts_for_the_first_only(store: Store) -> None:
    await store.activity.record_activity({}, [exposure("ann", "control", NOW)])
    await store.activity.record_conversions("ann", [convert(NOW + 100)])
    await store.activity.record_activity({}, [exposure("ann", "deals_first", NOW + 3_600)])
    found = await counts(store)
    assert found["control"].converters == 1 and found["deals_first"].converters == 0
    await store.activity.record_conversions("ann", [convert(NOW + 7_200)])
    found = await counts(store)
    assert found["control"].converters == 1 and found["control"].converts == 2
    assert found["deals_first"].converters == 1 and found["deals_first"].converts == 1


async def test_two_variants_served_in_one_batch_are_both_marked(store: Store) -> None:
    await store.activity.record_activity(
        {}, [exposure("ann", "deals_first", NOW + 10), exposure("ann", "control", NOW)]
    )
    found = await counts(store)
    assert found["control"].exposed == 1 and found["deals_first"].exposed == 1
    assert found["deals_first"].switched == 1  # deals_first came second


# ------------------------------------------------------------ exact counts


async def test_first_exposures_are_counted_exactly_over_days_and_replicas(
    make_store: StoreFactory,
) -> None:
    a, b = await make_store(), await make_store()
    users = [f"u{n}" for n in range(300)]
    for day in range(3):  # the same users on three days, on alternate replicas
        replica = a if day % 2 else b
        batch = [
            exposure(u, "control" if n % 3 else "deals_first", NOW + day * DAY_S)
            for n, u in enumerate(users)
        ]
        await replica.activity.record_activity({}, batch)
    found = await counts(a)
    assert found["control"].exposed == 200 and found["deals_first"].exposed == 100
    assert found["control"].exact and found["deals_first"].exact
    assert found["control"].first_day == day_of(NOW)
    assert found["control"].last_day == day_of(NOW) + 2


async def test_personalization_off_users_are_estimated_not_exact(store: Store) -> None:
    await store.activity.record_activity({}, [exposure("ann"), exposure("off", mark=False)])
    await store.activity.record_activity({}, [exposure("off", at=NOW + DAY_S, mark=False)])
    found = (await counts(store))["control"]
    assert found.exposed == 2 and not found.exact
    assert found.estimated == 1  # only the personalization-off part is an estimate
    assert (await counts(store, "new"))["control"].exposed == 1  # in no cohort


async def test_the_data_version_moves_with_every_count(make_store: StoreFactory) -> None:
    a, b = await make_store(), await make_store()
    assert await a.activity.experiment_version(EXPERIMENT) == 0
    await a.activity.record_activity({}, [exposure("ann")])
    first = await b.activity.experiment_version(EXPERIMENT)
    assert first > 0
    await b.activity.record_conversions("ann", [convert(NOW + 1)])
    second = await a.activity.experiment_version(EXPERIMENT)
    assert second > first
    await a.activity.record_conversions("bob", [convert(NOW + 1)])  # held: no count
    assert await a.activity.experiment_version(EXPERIMENT) == second


# ------------------------------------------------------------ cohorts


async def test_counts_per_cohort(store: Store) -> None:
    await store.activity.record_activity(
        {},
        [
            exposure("e1", "control", cohort="elderly/new"),
            exposure("e2", "control", cohort="elderly/returning"),
            exposure("s1", "control", cohort="standard/new"),
            exposure("s2", "deals_first", cohort="standard/returning"),
            exposure("s3", "deals_first", cohort="standard/returning"),
        ],
    )
    for user in ("e1", "s2"):
        await store.activity.record_conversions(user, [convert(NOW + 1, 7.0)])
    expected = {
        None: {"control": (3, 1), "deals_first": (2, 1)},
        "elderly": {"control": (2, 1), "deals_first": (0, 0)},
        "standard": {"control": (1, 0), "deals_first": (2, 1)},
        "new": {"control": (2, 1), "deals_first": (0, 0)},
        "returning": {"control": (1, 0), "deals_first": (2, 1)},
        "elderly/new": {"control": (1, 1), "deals_first": (0, 0)},
    }
    for cohort, rows in expected.items():
        found = await counts(store, cohort)
        assert {v: (c.exposed, c.converters) for v, c in found.items()} == rows, cohort


async def test_a_conversion_counts_in_the_cohort_of_its_exposure(store: Store) -> None:
    """A user first exposed as new converts later (returning by then): the cohort is the one
    of the first exposure to the variant, so rates stay proportions of the cohort's users."""
    await store.activity.record_activity({}, [exposure("ann", cohort="elderly/new")])
    await store.activity.record_conversions("ann", [convert(NOW + 9 * DAY_S)])
    assert (await counts(store, "new"))["control"].converters == 1
    assert (await counts(store, "returning"))["control"].converters == 0


# ------------------------------------------------------------ a resent transaction (Redis)


class ReplyDropper:
    """A TCP proxy in front of Redis that, once armed, forwards the next EXEC and then cuts
    the client's connection instead of returning the reply: the transaction ran, its answer
    was lost (the client's one retry then resends)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.armed = False
        self.dropped = 0
        self.server: asyncio.Server | None = None

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return int(self.server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream_r, upstream_w = await asyncio.open_connection("127.0.0.1", self.port)
        cut = asyncio.Event()

        async def up() -> None:
            while data := await reader.read(65536):
                if self.armed and b"EXEC\r\n" in data:
                    self.armed = False
                    cut.set()
                upstream_w.write(data)
                await upstream_w.drain()

        async def down() -> None:
            while data := await upstream_r.read(65536):
                if cut.is_set():
                    await asyncio.sleep(0.05)  # the whole reply read and thrown away
                    self.dropped += 1
                    writer.close()
                    return
                writer.write(data)
                await writer.drain()

        tasks = [asyncio.create_task(up()), asyncio.create_task(down())]
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in tasks:
            task.cancel()
        writer.close()
        upstream_w.close()


@pytest.mark.redis
async def test_redis_counts_do_not_double_when_exec_is_resent(redis_url: str) -> None:
    from urllib.parse import urlsplit

    from uiserver.store.factory import open_store

    target = urlsplit(redis_url)
    proxy = ReplyDropper(target.port or 6379)
    port = await proxy.start()
    store = open_store(f"redis://127.0.0.1:{port}{target.path}", Path("."))
    await store.open()
    try:
        proxy.armed = True
        await store.activity.record_activity({}, [exposure("ann")])
        assert proxy.dropped == 1
        proxy.armed = True
        await store.activity.record_conversions("ann", [convert(NOW + 1)])
        assert proxy.dropped == 2
        found = (await counts(store))["control"]
        assert (found.exposed, found.converters, found.converts) == (1, 1, 1)
        assert found.value == 10.0
    finally:
        await store.close()
        await proxy.stop()


# ------------------------------------------------------------ counts from before exact counts


async def write_legacy(store: Store, users: list[str], day: int) -> None:
    """Counts as the store wrote them before exact counting: a day sketch of the users, old
    markers (`Activity.exposed`) in their counters, no exact integers."""
    from uiserver.engine.activity import encode_activity
    from uiserver.engine.hashing import exposure_id
    from uiserver.schema import Activity
    from uiserver.store.redis.store import RedisStore
    from uiserver.store.sqlite.store import SQLiteStore

    old = Activity(first=day, last=day, exposed={EXPERIMENT: "control"})
    if isinstance(store, SQLiteStore):
        registers = sketch.empty()
        sketch.add(registers, (f"{EXPERIMENT}\x1f{u}" for u in users))
        with store.db.tx(write=True) as conn:
            conn.execute(
                "INSERT INTO experiment_days VALUES (?, 'control', ?, ?, 0, 0, 0)",
                (EXPERIMENT, day, bytes(registers)),
            )
            conn.execute("DROP TABLE experiment_meta")  # a database from before it existed
            for u in users:
                conn.execute(
                    "INSERT INTO users (user_id, activity, created, updated) VALUES (?, ?, 0, 0)",
                    (u, encode_activity(old).decode()),
                )
        store.db.close()  # reopened: the migration marks the experiment legacy
        await store.open()
        return
    assert isinstance(store, RedisStore)
    redis, keys = store.conn.redis, store.conn.keys
    for u in users:
        await redis.pfadd(
            f"{keys.exposures(EXPERIMENT, 'control', day)}:x", exposure_id(EXPERIMENT, u)
        )
        await redis.hset(keys.user(u), mapping={"activity": encode_activity(old), "created": 0})
    await redis.sadd(keys.days(EXPERIMENT), day)


async def test_an_experiment_counted_before_exact_counts_reads_its_sketches(
    store: Store,
) -> None:
    old_day = day_of(NOW) - 3
    await write_legacy(store, ["o1", "o2", "o3"], old_day)
    # after the upgrade: an old user again (no new count), and a new one
    await store.activity.record_activity({}, [exposure("o1"), exposure("n1")])
    # an old marker (no time) still counts a conversion
    assert await store.activity.record_conversions("o2", [convert(NOW)]) == 1
    found = (await counts(store))["control"]
    assert found.exposed == 4 and not found.exact  # the sketches' union: o1-o3 and n1
    assert found.converters == 1
    assert found.first_day == old_day
    cohort = (await counts(store, "standard"))["control"]
    assert cohort.exposed == 1  # only n1 was counted with a cohort


async def test_recording_nothing_writes_and_invalidates_nothing(store: Store) -> None:
    """An empty recorder flush or a convert batch with nothing to attribute: no write, no
    invalidation sent, the readout and its data version unchanged."""
    await store.activity.record_activity({}, [exposure("ann")])
    version = await store.activity.experiment_version(EXPERIMENT)
    before = await counts(store)
    sent = dict(store.invalidation_counts)
    await store.activity.record_activity({}, [])
    assert await store.activity.record_conversions("ann", []) == 0
    assert dict(store.invalidation_counts) == sent
    assert await store.activity.experiment_version(EXPERIMENT) == version
    assert await counts(store) == before


async def test_an_in_memory_sqlite_store_reads_counts_on_its_one_connection() -> None:
    """`:memory:` has no file for the readout's own read-only connection: the counts are read
    on the store's connection, the same figures."""
    store = SQLiteStore(Path(":memory:"))
    await store.open()
    await store.activity.record_activity(
        {}, [exposure("ann"), exposure("bob"), exposure("cy", "deals_first")]
    )
    assert await store.activity.record_conversions("bob", [convert(NOW + 1)]) == 1
    found = await counts(store)
    assert (found["control"].exposed, found["control"].converters) == (2, 1)
    assert (found["deals_first"].exposed, found["deals_first"].converters) == (1, 0)
    await store.close()
