"""Guardrails and the schedule's next move (`engine.guardrails`), pure.

The conversion guardrails use the mSPRT, so looking often does not inflate false alarms: an
A/A rollout looked at 20 times fires in at most alpha of the simulations; a 30% loss is found.
"""

from __future__ import annotations

import random

from hypothesis import given
from hypothesis import strategies as st

from uiserver.engine.guardrails import (
    DEFAULTS,
    Arms,
    Figures,
    Guardrail,
    RenderCounts,
    Step,
    Verdict,
    arm_experiment,
    check_guardrails,
    check_steps,
    compared,
    decide,
    default_steps,
    evaluate,
    resolve,
)
from uiserver.engine.readout import VariantCounts

STEPS = [Step(10, 30, 100), Step(50, 30, 100), Step(100, 0, 0)]


def verdict(figures: Figures, metric: str, steps: int = 1) -> Verdict:
    (found,) = [v for v in evaluate(DEFAULTS, figures, steps) if v.metric == metric]
    return found


def arms(n: tuple[int, int], x: tuple[int, int]) -> Arms:
    return Arms(n, x)


def test_conversion_fires_on_a_loss_and_not_on_equal_rates() -> None:
    worse = Figures(50, arms((400, 400), (240, 168)))  # 0.60 -> 0.42
    fired = verdict(worse, "conversion")
    assert fired.state == "fired" and fired.action == "rollback"
    assert fired.figures["new_rate"] == 0.42 and fired.figures["previous_rate"] == 0.6
    same = Figures(50, arms((400, 400), (240, 240)))
    assert verdict(same, "conversion").state == "ok"
    better = Figures(50, arms((400, 400), (168, 240)))  # a win is never a guardrail's business
    assert verdict(better, "conversion").state == "ok"
    assert verdict(Figures(50), "conversion").state == "waiting"


def test_each_cohort_is_judged_on_its_own() -> None:
    figures = Figures(
        50,
        overall=arms((1000, 1000), (550, 520)),
        elderly=arms((400, 400), (240, 168)),
        screen_reader=arms((300, 300), (150, 90)),
    )
    states = {v.metric: v.state for v in evaluate(DEFAULTS, figures, 1)}
    assert states["conversion"] == "ok"
    assert states["elderly_conversion"] == "fired"
    assert states["screen_reader_conversion"] == "fired"


def test_alpha_is_split_over_the_compared_steps() -> None:
    # p is about 0.03: below 0.05 for one compared step, above 0.05/3 for three.
    figures = Figures(50, arms((400, 400), (240, 180)))
    one = verdict(figures, "conversion", 1)
    three = verdict(figures, "conversion", 3)
    p = one.figures["sequential_p_value"]
    assert isinstance(p, float) and 0.05 / 3 < p < 0.05
    assert one.state == "fired" and three.state == "ok"
    assert compared(STEPS) == 2


def test_checking_often_keeps_false_alarms_within_alpha() -> None:
    """200 A/A rollouts (both arms convert at 30%), looked at after every 50 users per arm up
    to 1,000: the conversion guardrail fires in at most alpha (5%) of them."""
    rng = random.Random(7)
    alarms = 0
    for _ in range(200):
        x, n = [0, 0], [0, 0]
        for _look in range(20):
            for arm in (0, 1):
                n[arm] += 50
                x[arm] += sum(rng.random() < 0.3 for _ in range(50))
            figures = Figures(50, arms((n[0], n[1]), (x[0], x[1])))
            if verdict(figures, "conversion").state == "fired":
                alarms += 1
                break
    assert alarms <= 10


def test_render_errors_fire_when_the_new_version_fails_more() -> None:
    broken = Figures(50, render=RenderCounts((2, 60), (500, 500)))
    fired = verdict(broken, "render_errors")
    assert fired.state == "fired" and "60 errors in 500" in fired.reason
    fine = Figures(50, render=RenderCounts((3, 4), (500, 500)))
    assert verdict(fine, "render_errors").state == "ok"
    early = Figures(50, render=RenderCounts((0, 5), (10, 10)))
    assert verdict(early, "render_errors").state == "waiting"
    assert verdict(Figures(50), "render_errors").state == "waiting"


def test_sample_ratio_mismatch_and_no_traffic() -> None:
    skewed = Figures(10, arms((500, 200), (0, 0)))  # 10% expected, 29% seen
    fired = verdict(skewed, "srm")
    assert fired.state == "fired" and fired.action == "hold"
    assert verdict(Figures(10, arms((900, 100), (0, 0))), "srm").state == "ok"
    assert verdict(Figures(10), "srm").state == "waiting"
    quiet = verdict(Figures(10, quiet_minutes=61), "no_traffic")
    assert quiet.state == "fired" and quiet.action == "warn"
    assert verdict(Figures(10, quiet_minutes=5), "no_traffic").state == "ok"


def test_off_guardrails_say_so() -> None:
    guards = resolve([Guardrail("conversion", "off")])
    states = {v.metric: v.state for v in evaluate(guards, Figures(50), 1)}
    assert states["conversion"] == "off"
    assert len(guards) == len(DEFAULTS)


def test_decide_rollback_before_hold_before_advance() -> None:
    start = 1_000.0
    ok = [Verdict("conversion", "rollback", "ok", "")]
    rollback = [
        Verdict("srm", "hold", "fired", "s"),
        Verdict("conversion", "rollback", "fired", "c"),
    ]
    both = decide(STEPS, 0, start, start + 60, (500, 500), [*rollback, rollback[1]])
    assert (
        both.move == "rollback"
        and both.reason == "guardrail conversion: c; guardrail conversion: c"
    )
    hold = decide(STEPS, 0, start, start + 3600, (500, 500), rollback[:1])
    assert hold.move == "hold" and hold.metric == "srm"
    assert decide(STEPS, 0, start, start + 60, (500, 500), ok).move == "wait"  # minutes
    assert decide(STEPS, 0, start, start + 3600, (500, 99), ok).move == "wait"  # exposures
    assert decide(STEPS, 0, start, start + 3600, (100, 100), ok).move == "advance"
    assert decide(STEPS, 1, start, start + 3600, (100, 100), ok).move == "promote"


@given(st.lists(st.integers(1, 99), min_size=0, max_size=8, unique=True))
def test_rising_steps_ending_at_100_are_accepted(percents: list[int]) -> None:
    steps = [Step(p, 1, 1) for p in sorted(percents)] + [Step(100, 0, 0)]
    assert check_steps(steps) == []
    if len(percents) >= 2:
        shuffled = [Step(p, 1, 1) for p in sorted(percents, reverse=True)] + [Step(100, 0, 0)]
        assert check_steps(shuffled)


def test_step_and_guardrail_mistakes_name_their_field() -> None:
    assert check_steps([Step(50)]) == [
        ("schedule.steps[0].percent", "the last step must be 100 (everyone)")
    ]
    assert check_steps([]) and check_steps([Step(100, 0, 0)] * 21)
    assert check_steps([Step(50, float("nan")), Step(100, 0, 0)])[0][0].endswith("min_minutes")
    assert check_steps([Step(50, 1, -1), Step(100, 0, 0)])[0][0].endswith("min_exposed")
    assert check_guardrails([Guardrail("srm", "hold", tolerance=1.0)])[0][0].endswith("tolerance")
    assert check_guardrails([Guardrail("srm", "hold", threshold=0)])[0][0].endswith("threshold")
    assert check_steps(default_steps()) == []


def test_arms_from_counts_and_experiment_names() -> None:
    counts = [VariantCounts("previous", 10, 3, exact=True), VariantCounts("new", 5, 9)]
    got = Arms.of(counts)
    assert got.exposed == (10, 5) and got.converters == (3, 5)
    assert got.errors[0] == 0 and got.errors[1] > 0
    assert arm_experiment("home", 1.5, 25) == "~rollout/home/1500/25"
