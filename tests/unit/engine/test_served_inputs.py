"""`engine.served_inputs`: an events batch invalidates a user only when a plan could change.

The oracle for the signature's `beaten_by` is the O(k^2) count with `stability.beats` itself;
the end-to-end property builds plans of the mini template from the profiles before and after a
random batch and checks that an unchanged signature means an unchanged plan."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.helpers.engine import mini_compiled, mini_engine, policy
from uiserver.engine import plan_fingerprint
from uiserver.engine.activity import day_of
from uiserver.engine.activity import record_events as record_activity
from uiserver.engine.affinity import Affinity, decayed, fold
from uiserver.engine.served_inputs import changes_served, signature
from uiserver.engine.stability import beats
from uiserver.schema import Activity, Context, Event, Profile

NOW = 1_700_000_000.0
KEYS = ("promotions", "coupons", "fruit", "meat", "ads", "mini/orders")

scores = st.dictionaries(st.sampled_from(KEYS), st.floats(0.001, 40.0), max_size=len(KEYS))
states = st.builds(
    Affinity,
    scores,
    st.floats(0.0, 20.0),
    st.sampled_from([None, NOW - 86_400.0, NOW - 3_600.0]),
)
event = st.builds(
    Event,
    page=st.just("mini"),
    component=st.sampled_from(KEYS),
    kind=st.sampled_from(["view", "view", "view", "click"]),
    ts=st.floats(NOW - 600, NOW),
)


def test_beaten_by_matches_a_brute_force_count() -> None:
    margin = policy().hysteresis_margin

    @given(scores)
    def check(values: dict[str, float]) -> None:
        _, ranked, beaten_by, beat_zero, _ = signature(Affinity(values), None, NOW, policy())
        assert beat_zero == sum(beats(value, 0.0, margin) for value in values.values())
        assert isinstance(ranked, tuple) and isinstance(beaten_by, tuple)
        for key, count in zip(ranked, beaten_by, strict=True):
            assert count == sum(beats(other, values[key], margin) for other in values.values())

    check()


def test_what_changes_the_signature() -> None:
    base = Affinity({"coupons": 5.0, "fruit": 2.0}, 9.0, NOW)
    same = (base, None)
    a_view = fold(base, [Event(page="mini", component="fruit", kind="view", ts=NOW)], NOW)
    assert not changes_served(same, (a_view, None), NOW, policy())  # 2.0 -> 2.02
    overtakes = Affinity({"coupons": 5.0, "fruit": 7.0}, 9.0, NOW)
    assert changes_served(same, (overtakes, None), NOW, policy())
    now_beats = Affinity({"coupons": 5.0, "fruit": 1.0}, 9.0, NOW)  # 5 > 1 + 0.25: beats
    was_close = Affinity({"coupons": 5.0, "fruit": 4.5}, 9.0, NOW)  # 5 < 4.5 + 1.125
    assert changes_served((was_close, None), (now_beats, None), NOW, policy())
    gated = Affinity({"coupons": 5.0, "fruit": 2.0}, 6.0, NOW)  # under min_evidence (8)
    assert changes_served((gated, None), same, NOW, policy())
    new_key = Affinity({"coupons": 5.0, "fruit": 2.0, "meat": 0.02}, 9.0, NOW)
    assert changes_served(same, (new_key, None), NOW, policy())
    # A score that comes to beat the components with no score at all (found by the property
    # below: promotions 0.001 -> 1.0 moved the banner ahead of an unscored neighbour).
    faint = Affinity({"promotions": 0.001}, 15.0, None)
    clicked = Affinity({"promotions": 1.0}, 16.0, NOW)
    assert changes_served((faint, None), (clicked, None), NOW, policy())
    today = day_of(NOW)
    yesterday = Activity(first=today - 30, last=today - 1, prev=today - 2, days={today - 1: 1})
    active_today = record_activity(yesterday, [Event(page="mini", component="x", kind="view")], NOW)
    assert changes_served((base, yesterday), (base, active_today), NOW, policy())
    again = record_activity(active_today, [Event(page="mini", component="x", kind="view")], NOW)
    assert not changes_served((base, active_today), (base, again), NOW, policy())


def profile_of(state: Affinity) -> Profile:
    evidence = decayed({"": state.evidence}, state.updated, NOW)[""]
    return Profile(
        user_id="u",
        affinities=decayed(state.scores, state.updated, NOW),
        evidence=evidence,
        evidence_updated=NOW,
    )


@settings(max_examples=400, deadline=None)
@given(states, st.lists(event, min_size=1, max_size=7))
def test_an_unchanged_signature_serves_the_same_plan(state: Affinity, batch: list[Event]) -> None:
    after = fold(state, batch, NOW)
    if changes_served((state, None), (after, None), NOW, policy()):
        return
    compiled, engine, day = mini_compiled(), mini_engine(), day_of(NOW)
    for context in (Context(), Context(dark=True, font_px=24)):
        plans = [engine.plan(compiled, profile_of(s), context, day=day) for s in (state, after)]
        assert plan_fingerprint("v", plans[0]) == plan_fingerprint("v", plans[1])
