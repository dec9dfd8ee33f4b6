"""`ActivityRecorder`: launches and exposures noted on cold serves, coalesced in memory and
written in one background store call per interval; `flush()` writes now, `close()` writes what
is pending; a failed write is dropped and its users noted again by their next launch."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path

import msgspec
import pytest

from tests.helpers.units import FlakyStore, eventually
from uiserver.engine.activity import day_of, markers_of
from uiserver.schema import Activity, Marker, Profile, Settings
from uiserver.serving.recorder import ActivityRecorder
from uiserver.store.base import Exposure
from uiserver.store.sqlite.activity import SQLiteActivity
from uiserver.store.sqlite.database import Database
from uiserver.store.sqlite.store import SQLiteStore

pytestmark = pytest.mark.anyio

DAY = day_of(time.time())
EXPERIMENT = "home_deals_position_v1"
NEVER = 3_600.0  # an interval no test waits for: only flush() and close() write


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[FlakyStore]:
    opened = FlakyStore(tmp_path / "uiserver.db")
    await opened.open()
    yield opened
    opened.down = False
    await opened.close()


def user(user_id: str, **fields: object) -> Profile:
    return msgspec.structs.replace(Profile(user_id=user_id), **fields)


async def launches(store: FlakyStore, user_id: str, day: int = DAY) -> int:
    """The launches the store counted for the user on `day` (0: none)."""
    activity = (await store.users.get_profile(user_id)).activity
    return 0 if activity is None else activity.days.get(day, 0)


async def exposed(store: FlakyStore, variant: str = "control") -> int:
    (counts,) = await store.activity.experiment_counts(EXPERIMENT, [variant])
    return counts.exposed


# ------------------------------------------------------------------ coalescing, flush


async def test_notes_are_coalesced_into_one_store_write(store: FlakyStore) -> None:
    recorder = ActivityRecorder(store.activity, NEVER)
    ann, bob = user("ann"), user("bob")
    recorder.note(ann, DAY, EXPERIMENT, "control")
    recorder.note(ann, DAY, EXPERIMENT, "control")  # a second cold serve before the write
    recorder.note(bob, DAY, EXPERIMENT, "control")

    await recorder.flush()

    assert recorder.writes == 1 and store.calls["record_activity"] == 1
    assert await launches(store, "ann") == 2
    assert await launches(store, "bob") == 1
    assert await exposed(store) == 2  # ann's exposure noted once


async def test_nothing_is_written_before_the_interval_or_a_flush(store: FlakyStore) -> None:
    recorder = ActivityRecorder(store.activity, NEVER)
    recorder.note(user("ann"), DAY, None, None)
    assert recorder.writes == 0 and await launches(store, "ann") == 0

    await recorder.flush()

    assert recorder.writes == 1 and await launches(store, "ann") == 1
    await recorder.flush()  # nothing pending: no store call
    assert store.calls["record_activity"] == 1
    await recorder.close()


async def test_one_background_write_per_interval(store: FlakyStore) -> None:
    recorder = ActivityRecorder(store.activity, 0.05)
    for name in ("ann", "bob", "cy"):
        recorder.note(user(name), DAY, EXPERIMENT, "control")

    async def all_written() -> bool:
        return all([await launches(store, name) == 1 for name in ("ann", "bob", "cy")])

    await eventually(all_written, "the three launches written in the background")
    assert recorder.writes == 1

    recorder.note(user("dee"), DAY, None, None)  # the next interval starts another write
    await eventually(lambda: recorder.writes == 2, "a second background write")
    assert await launches(store, "dee") == 1
    await recorder.close()


async def test_many_notes_start_one_background_task(store: FlakyStore) -> None:
    recorder = ActivityRecorder(store.activity, NEVER)
    before = asyncio.all_tasks()
    for i in range(50):
        recorder.note(user(f"user-{i}"), DAY, EXPERIMENT, "control")
    assert len(asyncio.all_tasks() - before) == 1
    await recorder.close()
    assert recorder.writes == 1 and await exposed(store) == 50


async def test_close_writes_what_is_pending(store: FlakyStore) -> None:
    recorder = ActivityRecorder(store.activity, NEVER)
    recorder.note(user("ann"), DAY, EXPERIMENT, "control")

    await recorder.close()

    assert recorder.writes == 1
    assert await launches(store, "ann") == 1 and await exposed(store) == 1


# ------------------------------------------------------------------ what is noted


async def test_anonymous_callers_are_not_noted(store: FlakyStore) -> None:
    recorder = ActivityRecorder(store.activity, NEVER)
    recorder.note(Profile(), DAY, EXPERIMENT, "control")
    await recorder.flush()
    assert recorder.writes == 0 and await exposed(store) == 0


async def test_a_launch_the_profile_already_shows_is_not_written_again(
    store: FlakyStore,
) -> None:
    first = ActivityRecorder(store.activity, NEVER)
    first.note(user("ann"), DAY, None, None)
    await first.flush()
    loaded = await store.users.get_profile("ann")  # after a restart: counters show today's launch

    restarted = ActivityRecorder(store.activity, NEVER)
    restarted.note(loaded, DAY, None, None)
    await restarted.flush()

    assert restarted.writes == 0 and await launches(store, "ann") == 1


async def test_one_launch_write_per_user_and_day(store: FlakyStore) -> None:
    recorder = ActivityRecorder(store.activity, NEVER)
    stale = user("ann")  # a profile read before the first write landed
    recorder.note(stale, DAY, None, None)
    await recorder.flush()
    recorder.note(stale, DAY, None, None)
    await recorder.flush()
    assert recorder.writes == 1 and await launches(store, "ann") == 1

    recorder.note(stale, DAY + 1, None, None)  # a new day counts again
    await recorder.flush()
    assert await launches(store, "ann", DAY + 1) == 1


async def test_exposures_are_noted_once_per_user_experiment_and_day(store: FlakyStore) -> None:
    recorder = ActivityRecorder(store.activity, NEVER)
    ann = user("ann")
    recorder.note(ann, DAY, EXPERIMENT, "control")
    await recorder.flush()
    recorder.note(ann, DAY, EXPERIMENT, "control")
    await recorder.flush()
    assert recorder.writes == 1

    recorder.note(ann, DAY + 1, EXPERIMENT, "control")
    await recorder.flush()
    assert recorder.writes == 2 and await exposed(store) == 1  # distinct users, over days


@pytest.mark.parametrize(
    ("profile", "counted", "marked"),
    [
        pytest.param(user("ann"), 1, "control", id="personalized-counted-and-marked"),
        pytest.param(
            user("ann", settings=Settings(personalization=0.0)),
            0,
            None,
            id="personalization-off-exposed-but-nothing-kept",
        ),
    ],
)
async def test_personalization_off_is_exposed_but_keeps_no_counters(
    store: FlakyStore, profile: Profile, counted: int, marked: str | None
) -> None:
    recorder = ActivityRecorder(store.activity, NEVER)
    recorder.note(profile, DAY, EXPERIMENT, "control")
    await recorder.flush()

    assert await exposed(store) == 1
    assert await launches(store, "ann") == counted
    activity = (await store.users.export_user("ann")).activity
    markers = markers_of(activity, EXPERIMENT) if activity else {}
    assert (next(iter(markers)) if markers else None) == marked


async def test_the_store_decides_the_first_exposure_not_the_cached_profile(
    store: FlakyStore,
) -> None:
    """A cached profile may say the user is marked when the store lost nothing but never had
    it (the profile was read before an erase, or by another replica's stale cache): the store
    reads the marker in the write's own transaction, so the exposure is counted exactly once
    whatever the profile says."""
    known = user(
        "ann",
        activity=Activity(markers={EXPERIMENT: {"control": Marker(1.0, "standard/new")}}),
    )
    recorder = ActivityRecorder(store.activity, NEVER)
    recorder.note(known, DAY, EXPERIMENT, "control")
    await recorder.flush()
    (counts,) = await store.activity.experiment_counts(EXPERIMENT, ["control"])
    assert counts.exposed == 1 and counts.exact
    recorder.note(known, DAY + 1, EXPERIMENT, "control")  # the next day: already marked
    await recorder.flush()
    (counts,) = await store.activity.experiment_counts(EXPERIMENT, ["control"])
    assert counts.exposed == 1 and counts.exact


# ------------------------------------------------------------------ failures


async def test_a_failed_write_is_dropped_and_the_next_launch_notes_it_again(
    store: FlakyStore,
) -> None:
    recorder = ActivityRecorder(store.activity, NEVER)
    ann = user("ann")
    store.down = True
    recorder.note(ann, DAY, EXPERIMENT, "control")

    await recorder.flush()  # logged, never raised: a launch never fails for its counters

    assert recorder.writes == 0 and store.calls["record_activity"] == 1
    store.down = False
    recorder.note(ann, DAY, EXPERIMENT, "control")  # forgotten from `seen`: noted again
    recorder.note(user("bob"), DAY, EXPERIMENT, "control")
    await recorder.flush()
    assert recorder.writes == 1
    assert await launches(store, "ann") == 1 and await launches(store, "bob") == 1
    assert await exposed(store) == 2


async def test_a_failed_background_write_does_not_stop_the_next_one(store: FlakyStore) -> None:
    recorder = ActivityRecorder(store.activity, 0.01)
    store.down = True
    recorder.note(user("ann"), DAY, None, None)
    await eventually(lambda: store.calls["record_activity"] == 1, "the failing write tried")
    store.down = False

    recorder.note(user("bob"), DAY, None, None)

    async def bob_written() -> bool:
        return await launches(store, "bob") == 1

    await eventually(bob_written, "the next batch written in the background")
    assert recorder.writes == 1
    assert await launches(store, "ann") == 0  # dropped: ann's next launch notes it again
    await recorder.close()


class SlowActivity(SQLiteActivity):
    """`record_activity` waits for `release`, as a write over the network (Redis) does."""

    def __init__(self, db: Database) -> None:
        super().__init__(db)
        self.release = asyncio.Event()
        self.writing = False

    async def record_activity(
        self, launches: Mapping[str, tuple[int, int, int]], exposures: Sequence[Exposure]
    ) -> None:
        self.writing = True
        await self.release.wait()
        await super().record_activity(launches, exposures)


class SlowStore(SQLiteStore):
    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.activity: SlowActivity = SlowActivity(self.db)


async def test_close_waits_for_a_background_write_in_flight(tmp_path: Path) -> None:
    store = SlowStore(tmp_path / "uiserver.db")
    await store.open()
    try:
        recorder = ActivityRecorder(store.activity, 0.0)
        recorder.note(user("ann"), DAY, None, None)
        await eventually(lambda: store.activity.writing, "the background write started")
        store.activity.release.set()

        await recorder.close()

        assert recorder.writes == 1
    finally:
        store.activity.release.set()
        await store.close()


async def test_a_user_moved_to_another_variant_the_same_day_is_noted_again(
    store: FlakyStore,
) -> None:
    """A weight edit moves ann from control to deals_first on the day she was first served:
    her exposure to deals_first is written too, so she counts in both variants."""
    recorder = ActivityRecorder(store.activity, NEVER)
    recorder.note(user("ann"), DAY, EXPERIMENT, "control")
    await recorder.flush()
    recorder.note(user("ann"), DAY, EXPERIMENT, "deals_first")
    recorder.note(user("ann"), DAY, EXPERIMENT, "deals_first")  # once per variant and day
    await recorder.flush()
    assert await exposed(store, "control") == 1
    assert await exposed(store, "deals_first") == 1
    activity = (await store.users.export_user("ann")).activity
    assert activity is not None and list(markers_of(activity, EXPERIMENT)) == [
        "control",
        "deals_first",
    ]
