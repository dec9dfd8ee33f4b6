"""Exposure markers and conversion attribution as pure functions (`engine.activity`): the rules
the stores apply inside their transactions (README "Experiment readout")."""

from __future__ import annotations

import pytest

from uiserver.engine.activity import (
    CLOCK_SKEW_S,
    HOLD_S,
    MAX_HELD,
    RECENT_S,
    UNKNOWN_STAGE,
    Tally,
    attribute,
    day_of,
    expose,
    markers_of,
    serve_cohort,
)
from uiserver.schema import Activity

EXP = "exp"
T = 1_700_000_000.0


def exposed(
    state: Activity | None, variant: str, at: float, cohort: str = "standard/new"
) -> tuple[Activity, list[Tally]]:
    found = expose(state, EXP, variant, at, cohort, at)
    assert found is not None
    return found


def test_a_first_exposure_counts_once_and_a_second_variant_is_a_multiple_exposure() -> None:
    state, tallies = exposed(None, "a", T)
    assert [(t.variant, t.exposed, t.multi, t.switched) for t in tallies] == [("a", 1, 0, 0)]
    assert expose(state, EXP, "a", T + 10, "standard/new", T + 10) is None  # already marked
    state, tallies = exposed(state, "b", T + 20)
    assert [(t.variant, t.exposed, t.multi, t.switched) for t in tallies] == [
        ("b", 1, 1, 1),
        ("a", 0, 1, 0),
    ]
    state, tallies = exposed(state, "c", T + 30)  # a third: multi for c only
    assert [(t.variant, t.exposed, t.multi, t.switched) for t in tallies] == [("c", 1, 1, 0)]
    assert list(markers_of(state, EXP)) == ["a", "b", "c"]


@pytest.mark.parametrize(
    ("offset", "outcome"),
    [
        pytest.param(-CLOCK_SKEW_S - 1, "before_exposure", id="past-the-skew"),
        pytest.param(-CLOCK_SKEW_S, "counted", id="at-the-skew"),
        pytest.param(0.0, "counted", id="same-second"),
        pytest.param(-3 * 86_400.0, "before_exposure", id="three-days-before"),
    ],
)
def test_a_conversion_counts_from_the_first_exposure_less_the_clock_skew(
    offset: float, outcome: str
) -> None:
    state, _ = exposed(None, "a", T)
    _, tallies, found = attribute(state, EXP, T + offset, 5.0, T + 1)
    assert found == outcome
    if outcome == "before_exposure":
        assert [(t.early, t.converts, t.day) for t in tallies] == [(1, 0, day_of(T))]
    else:
        assert [(t.converters, t.converts, t.value) for t in tallies] == [(1, 1, 5.0)]


def test_a_conversion_before_any_marker_is_held_then_settled_by_it() -> None:
    state, tallies, outcome = attribute(Activity(), EXP, T + 0.2, 9.0, T + 0.3, "k1")
    assert (tallies, outcome) == ([], "held")
    state, tallies = exposed(state, "a", T)
    assert [(t.variant, t.exposed, t.converters, t.value) for t in tallies] == [
        ("a", 1, 0, 0.0),
        ("a", 0, 1, 9.0),
    ]
    assert not [h for h in state.held if not h.counted]


def test_a_held_conversion_older_than_the_hold_is_dropped() -> None:
    state, _, _ = attribute(Activity(), EXP, T, 9.0, T)
    _, tallies = exposed(state, "a", T + HOLD_S + 1)
    assert [t.converts for t in tallies] == [0]


def test_held_conversions_are_bounded() -> None:
    state = Activity()
    for n in range(MAX_HELD + 10):
        state, _, _ = attribute(state, EXP, T + n, 1.0, T + n, f"k{n}")
    assert len(state.held) == MAX_HELD
    assert state.held[0].key == "k10"  # the oldest went first


def test_a_variant_marked_after_a_conversion_it_preceded_counts_it() -> None:
    """Served a at T, b at T + 10 (b's marker still in a recorder), converted at T + 20: the
    conversion counts for a at once and for b when b's marker lands."""
    state, _ = exposed(None, "a", T)
    state, tallies, _ = attribute(state, EXP, T + 20, 4.0, T + 21, "k")
    assert [t.variant for t in tallies] == ["a"]
    state, tallies = exposed(state, "b", T + 10)
    assert [(t.variant, t.converters, t.converts) for t in tallies if t.converts] == [("b", 1, 1)]
    # served after the conversion by more than the clock skew allowed: not counted
    state, tallies = exposed(state, "c", T + 20 + CLOCK_SKEW_S + 1)
    assert not [t for t in tallies if t.converts]


def test_the_same_key_counts_once() -> None:
    state, _ = exposed(None, "a", T)
    state, _, first = attribute(state, EXP, T + 1, 1.0, T + 2, "ev-1")
    _, tallies, again = attribute(state, EXP, T + 1, 1.0, T + 3, "ev-1")
    assert (first, again, tallies) == ("counted", "duplicate", [])


def test_a_marker_from_before_times_were_kept_counts_every_conversion() -> None:
    old = Activity(exposed={EXP: "a"}, converted=[EXP])
    state, tallies, outcome = attribute(old, EXP, T, 2.0, T)
    assert outcome == "counted"
    assert [(t.variant, t.converters, t.converts) for t in tallies] == [("a", 0, 1)]
    assert state.exposed == {} and EXP in state.markers  # moved to the new markers


@pytest.mark.parametrize(
    ("activity", "stage"),
    [
        pytest.param(Activity(), "new", id="never-seen"),
        pytest.param(Activity(first=day_of(T) - 3), "new", id="first-seen-3-days-ago"),
        pytest.param(Activity(first=day_of(T) - 7), "returning", id="first-seen-7-days-ago"),
        pytest.param(None, UNKNOWN_STAGE, id="no-counters-store-decides"),
    ],
)
def test_the_cohort_of_a_serve(activity: Activity | None, stage: str) -> None:
    assert serve_cohort("elderly", activity, day_of(T), 7) == f"elderly/{stage}"
    assert serve_cohort("standard", activity, day_of(T), 7).startswith("standard/")


def test_the_store_decides_an_unknown_stage_from_the_first_day() -> None:
    recent = Activity(first=day_of(T) - 1)
    _, tallies = exposed(recent, "a", T, f"standard/{UNKNOWN_STAGE}")
    assert tallies[0].cohort == "standard/new"
    old = Activity(first=day_of(T) - 40)
    _, tallies = exposed(old, "a", T, f"elderly/{UNKNOWN_STAGE}")
    assert tallies[0].cohort == "elderly/returning"


def test_counted_conversions_are_kept_ten_minutes_only() -> None:
    state, _ = exposed(None, "a", T)
    state, _, _ = attribute(state, EXP, T + 20, 4.0, T + 20, "k")
    later = RECENT_S + 21  # b's marker lands (served at T + 10) after the recent window
    found = expose(state, EXP, "b", T + 10, "standard/new", T + later)
    assert found is not None
    new, tallies = found
    assert not [t for t in tallies if t.converts]
    assert not new.held  # dropped
