"""Properties of folding events into affinities."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from uiserver.engine.affinity import (
    HALF_LIFE_S,
    MAX_KEYS,
    MIN_SCORE,
    WEIGHTS,
    Affinity,
    decay_factor,
    event_time,
    fold,
)
from uiserver.schema import Event

NOW = 1_700_000_000.0
times = st.floats(min_value=0, max_value=4e9, allow_nan=False)
components = st.sampled_from([f"c{i}" for i in range(100)])
kinds = st.sampled_from(["view", "click", "convert"])
event = st.builds(
    Event,
    page=st.just("home"),
    component=components,
    kind=kinds,
    ts=st.none() | times,
)
batches = st.lists(event, max_size=120)


def ev(component: str, kind: str, ts: float | None = None) -> Event:
    return Event(page="home", component=component, kind=kind, ts=ts)  # type: ignore[arg-type]


@st.composite
def states(draw: st.DrawFn) -> Affinity:
    """Any state a store can hold: a history of batches folded at increasing times."""
    state = Affinity()
    now = draw(times)
    for batch in draw(st.lists(batches, max_size=4)):
        state = fold(state, batch, now)
        now += draw(st.floats(min_value=0, max_value=90 * 86_400))
    return state


@given(states(), batches, times)
def test_scores_are_never_negative_and_keys_are_bounded(
    state: Affinity, batch: list[Event], now: float
) -> None:
    new = fold(state, batch, now)
    assert all(score >= 0 and math.isfinite(score) for score in new.scores.values())
    assert len(new.scores) <= MAX_KEYS


@given(batches, st.integers(min_value=1, max_value=10))
def test_a_smaller_bound_keeps_the_highest_scores(batch: list[Event], bound: int) -> None:
    full = fold(Affinity(), batch, NOW, max_keys=1_000)
    kept = fold(Affinity(), batch, NOW, max_keys=bound)
    assert len(kept.scores) <= bound
    dropped = set(full.scores) - set(kept.scores)
    assert all(full.scores[d] <= min(kept.scores.values()) for d in dropped)


@given(states(), times, times)
def test_decay_is_monotone_in_time(state: Affinity, t1: float, t2: float) -> None:
    early, late = sorted((t1, t2))
    at_early = fold(state, [], early).scores
    at_late = fold(state, [], late).scores
    assert set(at_late) <= set(at_early)
    assert all(score <= at_early[key] for key, score in at_late.items())


@given(st.integers(min_value=0, max_value=20), st.none() | times, st.sampled_from([0.0, 1.0]))
def test_a_click_outweighs_up_to_twenty_views(
    views: int, ts: float | None, age_days: float
) -> None:
    now = NOW if ts is None else ts
    at = None if ts is None else max(0.0, ts - age_days * 86_400)
    batch = [ev("clicked", "click", at)] + [ev("viewed", "view", at)] * views
    scores = fold(Affinity(), batch, now).scores
    assert scores["clicked"] > scores.get("viewed", 0.0)


@given(batches)
def test_evidence_counts_clicks_and_conversions_only(batch: list[Event]) -> None:
    """Each click or conversion adds 1 decayed from its own time (evidence that still weighs)."""
    new = fold(Affinity(evidence=3), batch, NOW)
    expected = 3 + sum(
        decay_factor(NOW - event_time(e.ts, NOW)) for e in batch if e.kind in ("click", "convert")
    )
    assert math.isclose(new.evidence, expected, rel_tol=1e-9)


def test_evidence_decays_like_the_scores() -> None:
    """Eight clicks dated 1970 are no evidence; a half-life later stored evidence halves."""
    old = fold(Affinity(), [Event(page="home", component="g", kind="click", ts=0)] * 8, NOW)
    assert old.evidence < 1e-6
    fresh = fold(Affinity(), [Event(page="home", component="g", kind="click")] * 8, NOW)
    assert fresh.evidence == 8
    later = fold(fresh, [], NOW + HALF_LIFE_S)
    assert math.isclose(later.evidence, 4.0)


@given(states(), batches, batches, times)
def test_batching_does_not_matter(
    state: Affinity, first: list[Event], second: list[Event], now: float
) -> None:
    once = fold(state, first + second, now, max_keys=1_000)
    twice = fold(fold(state, first, now, max_keys=1_000), second, now, max_keys=1_000)
    assert math.isclose(once.evidence, twice.evidence, rel_tol=1e-9, abs_tol=1e-12)
    # Equal up to rounding and to scores below MIN_SCORE that the first fold forgot.
    for key in set(once.scores) | set(twice.scores):
        a, b = once.scores.get(key, 0.0), twice.scores.get(key, 0.0)
        assert math.isclose(a, b, rel_tol=1e-9, abs_tol=2 * MIN_SCORE)


@given(st.floats(min_value=0, max_value=1e12))
def test_future_timestamps_count_as_now(ahead: float) -> None:
    future = fold(Affinity(), [ev("x", "click", NOW + ahead)], NOW).scores["x"]
    assert future == WEIGHTS["click"]
    assert event_time(NOW + ahead, NOW) == NOW


def test_half_life_halves() -> None:
    state = fold(Affinity(), [ev("x", "convert")], NOW)
    later = fold(state, [], NOW + HALF_LIFE_S)
    assert math.isclose(later.scores["x"], WEIGHTS["convert"] / 2)
    assert decay_factor(-5.0) == 1.0  # a clock running backwards never grows a score


def test_old_events_weigh_less() -> None:
    scores = fold(Affinity(), [ev("old", "click", NOW - 30 * 86_400), ev("new", "click")], NOW)
    assert scores.scores["new"] == 1.0 > scores.scores["old"] > 0
