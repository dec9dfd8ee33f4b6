"""Activity counters, computed segments, the HyperLogLog sketch and the readout's statistics."""

from __future__ import annotations

import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from uiserver.engine.activity import WINDOW_DAYS, record_events, record_launches, touch
from uiserver.engine.lifecycle import computed_segments, rfm_tier
from uiserver.engine.readout import chance_to_beat, srm, wilson, z_test
from uiserver.policy import Policy
from uiserver.schema import Activity, Event
from uiserver.store.sqlite import sketch

D = 20_000
POLICY = Policy()


def launches(*days_ago: int) -> Activity:
    state: Activity | None = None
    for ago in days_ago:
        state = record_launches(state, D - ago)
    assert state is not None
    return state


@pytest.mark.parametrize(
    ("activity", "expected"),
    [
        pytest.param(None, set(), id="unknown"),
        pytest.param(Activity(), {"new_user"}, id="never-seen"),
        pytest.param(launches(0), {"new_user"}, id="first-launch-today"),
        pytest.param(launches(6, 0), {"new_user", "lapsing"}, id="new-but-lapsing"),
        pytest.param(launches(9, 7), {"churn_risk", "returning"}, id="7-days-is-churn"),
        pytest.param(launches(9, 6), {"lapsing"}, id="6-days-is-lapsing"),
        pytest.param(launches(30, 4, 3), {"lapsing"}, id="lapsing-hides-returning"),
        pytest.param(launches(20, 8, 0), {"churn_risk", "returning"}, id="lapse-ends-today"),
        pytest.param(launches(20, 6, 1), {"returning"}, id="came-back-6-days-ago"),
        pytest.param(launches(30, 5, 2, 1), {"active", "returning"}, id="active-after-return"),
        pytest.param(launches(10, 4, 3, 1), {"active"}, id="active"),
        pytest.param(launches(12, 9, 5, 1), set(), id="not-active-enough"),
    ],
)
def test_lifecycle(activity: Activity | None, expected: set[str]) -> None:
    assert computed_segments(activity, D, POLICY) == expected


def test_event_ts_counts_as_activity_and_is_clamped() -> None:
    old = record_events(
        None,
        [Event(page="home", component="x", kind="view", ts=(D - 8) * 86_400.0)],
        now=D * 86_400.0,
    )
    assert computed_segments(old, D, POLICY) >= {"churn_risk", "returning"}
    future = record_events(
        None,
        [Event(page="home", component="x", kind="view", ts=(D + 40) * 86_400.0)],
        now=D * 86_400.0,
    )
    assert future.last == D  # a clock running ahead never dates activity in the future


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.integers(0, 3), max_size=4),
    st.lists(st.tuples(st.integers(0, 40), st.integers(1, 4)), max_size=6),
)
def test_record_events_is_every_event_touching_its_day(
    before: list[int], runs: list[tuple[int, int]]
) -> None:
    """`record_events` touches a day once for a run of events on it (a launch's batch is all
    one day): the same Activity as touching it for every event, whatever came before."""
    now = (D + 1) * 86_400.0
    state = record_launches(None, D - 60) if before else None
    for day in before:
        state = record_launches(state, D - 30 + day)
    days = [day for day, length in runs for _ in range(length)]
    events = [
        Event(page="home", component="x", kind="click", ts=(D - 40 + day) * 86_400.0 + 5)
        for day in days
    ]
    expected = state or Activity()
    for day in days:
        expected = touch(expected, D - 40 + day)
    assert record_events(state, events, now) == expected


@pytest.mark.parametrize(
    ("converts", "value", "ago", "tier"),
    [
        pytest.param(5, 600.0, 1, "rfm_high", id="9"),
        pytest.param(2, 150.0, 1, "rfm_mid", id="7"),
        pytest.param(1, 10.0, 40, "rfm_low", id="3"),
        pytest.param(0, 0.0, 0, None, id="never-converted"),
    ],
)
def test_rfm(converts: int, value: float, ago: int, tier: str | None) -> None:
    activity = Activity(
        first=D - 50,
        last=D,
        converts=converts,
        value=value,
        last_convert=D - ago if converts else None,
    )
    assert rfm_tier(activity, D, POLICY) == tier


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(D - 100, D), min_size=1, max_size=30), st.randoms())
def test_folding_days_is_order_independent_and_windowed(
    days: list[int], rnd: random.Random
) -> None:
    forward: Activity | None = None
    for day in days:
        forward = touch(forward or Activity(), day, 1)
    assert forward is not None
    assert forward.first == min(days) and forward.last == max(days)
    assert all(d > forward.last - WINDOW_DAYS for d in forward.days)
    distinct = sorted(set(days))
    assert forward.prev == (distinct[-2] if len(distinct) > 1 else None)
    shuffled = list(days)
    rnd.shuffle(shuffled)
    backward: Activity | None = None
    for day in shuffled:
        backward = touch(backward or Activity(), day, 1)
    assert backward is not None
    assert (backward.first, backward.last, backward.prev) == (
        forward.first,
        forward.last,
        forward.prev,
    )
    assert backward.days == forward.days


@pytest.mark.parametrize("n", [0, 1, 10, 1_000, 5_000, 50_000])
def test_sketch_counts_distinct_items_within_its_error(n: int) -> None:
    registers = sketch.empty()
    sketch.add(registers, (f"user-{i}" for i in range(n)))
    sketch.add(registers, (f"user-{i}" for i in range(n // 2)))  # repeats never count twice
    estimate = sketch.count(registers)
    assert abs(estimate - n) <= max(1, 3 * 0.0081 * n), estimate


def test_sketches_merge_as_a_union() -> None:
    a, b = sketch.empty(), sketch.empty()
    sketch.add(a, (f"u{i}" for i in range(0, 600)))
    sketch.add(b, (f"u{i}" for i in range(400, 1000)))
    assert abs(sketch.count(sketch.merge([bytes(a), bytes(b)])) - 1000) <= 25


def test_statistics_against_known_values() -> None:
    low, high = wilson(100, 1000)  # type: ignore[misc]
    assert low == pytest.approx(0.0829, abs=1e-4) and high == pytest.approx(0.1202, abs=1e-4)
    # z = 2.1 for 100/1000 vs 130/1000 (pooled): p = erfc(2.1 / sqrt 2)
    p = z_test(100, 1000, 130, 1000)
    assert p == pytest.approx(0.0355, abs=1e-3)
    assert chance_to_beat(100, 1000, 100, 1000) == pytest.approx(0.5, abs=1e-6)
    rng = random.Random(7)
    draws = sum(rng.betavariate(101, 901) < rng.betavariate(131, 871) for _ in range(100_000))
    assert chance_to_beat(100, 1000, 130, 1000) == pytest.approx(draws / 100_000, abs=0.005)
    balanced = srm([1000, 1000], [1, 1])
    assert balanced is not None and not balanced.flagged and balanced.p_value == 1.0
    skewed = srm([1100, 900], [1, 1])  # chi2 = 20, df 1: p = erfc(sqrt(10))
    assert skewed is not None and skewed.flagged
    assert skewed.p_value == pytest.approx(math.erfc(math.sqrt(10)), rel=1e-9)
    three = srm([500, 300, 200], [5, 3, 2])
    assert three is not None and three.degrees_of_freedom == 2 and three.p_value == 1.0
    assert srm([10, 0], [1, 0]) is None  # one weighted variant: nothing to compare
