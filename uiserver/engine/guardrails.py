"""Guarded rollouts: ramp schedules, their guardrails and what a schedule does next (pure: no
I/O, no clock; the time is an argument).

A ramp schedule is a list of steps (percent of users on the new version, minimum minutes at
the step, minimum exposed users per arm), ending at 100. Each step is a fresh comparison: the
users the rollout split at that step's percent are counted as an experiment of their own
(`arm_experiment`: arms `previous` (control) and `new`), so the expected shares are fixed within
a step and the sample-ratio check and the sequential test are valid there (a split that changes
mid-count mixes shares; `engine.readout` refuses SRM then).

Guardrails (`Guardrail`: metric, action, thresholds; `DEFAULTS`):

- `conversion` (default `rollback`): the new version converts worse than the previous one: the
  mSPRT's (`engine.sequential`) confidence sequence at alpha/steps lies below -`tolerance`;
- `elderly_conversion`, `screen_reader_conversion` (`rollback`): the same over users served in
  elderly mode, over screen-reader users, each taken separately;
- `render_errors` (`rollback`): render errors per impression reported by the SDK higher on the
  new version (the same sequential test, the other direction);
- `srm` (`hold`): exposures do not match the split, Pearson chi-squared p < 0.001 (GrowthBook's
  threshold, `engine.readout`);
- `no_traffic` (`warn`): no new exposed user for `max_quiet_minutes` (60).

Checking often is safe: the mSPRT's p-value is always valid (Johari et al. 2022), so a schedule
evaluated every few seconds has a false alarm chance per step of at most alpha/steps, and over
the whole rollout at most alpha per guardrail (Bonferroni over the compared steps). Actions:
`warn` (a history entry, nothing else), `hold` (the schedule does not advance while it fires),
`rollback` (everyone back to the previous version, a history entry naming the guardrail and its
figures), `off`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal, get_args

import msgspec

from uiserver.engine.readout import SKETCH_ERROR, SRM_THRESHOLD, VariantCounts, srm
from uiserver.engine.sequential import ALPHA, msprt

Metric = Literal[
    "conversion",
    "elderly_conversion",
    "screen_reader_conversion",
    "render_errors",
    "srm",
    "no_traffic",
]
Action = Literal["warn", "hold", "rollback", "off"]
State = Literal["ok", "waiting", "fired", "off"]
METRICS: tuple[Metric, ...] = get_args(Metric)
ACTIONS: tuple[Action, ...] = get_args(Action)
ARMS = ("previous", "new")  # control first
SCREEN_READER = "~screen_reader"  # suffix of the arm experiment counting screen-reader users
MAX_STEPS = 20
DEFAULT_PERCENTS = (5, 25, 50, 100)
DEFAULT_MIN_MINUTES = 60.0
DEFAULT_MIN_EXPOSED = 200
DEFAULT_QUIET_MINUTES = 60.0
MIN_RENDER_IMPRESSIONS = 20  # impressions per arm before render errors are compared


class Step(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One step: `percent` of users on the new version for at least `min_minutes`, until each
    arm has `min_exposed` exposed users (the last step, 100, ends the rollout: both 0)."""

    percent: int
    min_minutes: float = DEFAULT_MIN_MINUTES
    min_exposed: int = DEFAULT_MIN_EXPOSED


class Guardrail(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A metric watched during the rollout and what to do when it fires. `alpha`: the
    sequential test's level over the whole rollout (conversion metrics, render errors);
    `tolerance`: how much worse the new version may be before it counts (a rate difference,
    0..1); `threshold`: the SRM p-value below which it fires; `max_quiet_minutes`:
    `no_traffic`'s limit."""

    metric: Metric
    action: Action
    alpha: float = ALPHA
    tolerance: float = 0.0
    threshold: float = SRM_THRESHOLD
    max_quiet_minutes: float = DEFAULT_QUIET_MINUTES


DEFAULTS: tuple[Guardrail, ...] = (
    Guardrail("conversion", "rollback"),
    Guardrail("elderly_conversion", "rollback"),
    Guardrail("screen_reader_conversion", "rollback"),
    Guardrail("render_errors", "rollback"),
    Guardrail("srm", "hold"),
    Guardrail("no_traffic", "warn"),
)


def default_steps() -> list[Step]:
    """5 -> 25 -> 50 -> 100, an hour and 200 exposed users per arm at each step."""
    return [Step(p) for p in DEFAULT_PERCENTS[:-1]] + [Step(100, 0.0, 0)]


def resolve(given: Sequence[Guardrail]) -> list[Guardrail]:
    """Every metric's guardrail: the given ones, and the default for each metric not given (so
    leaving one out never drops a cohort's protection; `"action": "off"` does)."""
    named = {g.metric: g for g in given}
    return [named.get(d.metric, d) for d in DEFAULTS]


def arm_experiment(page: str, started: float, percent: int) -> str:
    """The experiment id under which the users a rollout split at `percent` are counted (arms
    `ARMS`), unique per rollout (its start) and step."""
    return f"~rollout/{page}/{round(started * 1000)}/{percent}"


class Arms(msgspec.Struct, frozen=True):
    """Counts of the two arms over one group of users: exposed users and users who converted,
    and each exposure count's relative standard error (0: counted exactly)."""

    exposed: tuple[int, int] = (0, 0)
    converters: tuple[int, int] = (0, 0)
    errors: tuple[float, float] = (0.0, 0.0)

    @classmethod
    def of(cls, counts: Sequence[VariantCounts]) -> Arms:
        """From the store's counts of `ARMS` (in that order)."""
        previous, new = counts
        return cls(
            (previous.exposed, new.exposed),
            (
                min(previous.converters, max(previous.exposed, 0)),
                min(new.converters, max(new.exposed, 0)),
            ),
            (_error(previous), _error(new)),
        )


def _error(counts: VariantCounts) -> float:
    if counts.exact or counts.exposed <= 0:
        return 0.0
    estimated = counts.exposed if counts.estimated is None else counts.estimated
    return SKETCH_ERROR * min(max(estimated, 0), counts.exposed) / counts.exposed


class RenderCounts(msgspec.Struct, frozen=True):
    """Render errors and impressions the SDK reported per arm during the rollout."""

    errors: tuple[int, int] = (0, 0)
    impressions: tuple[int, int] = (0, 0)


class Figures(msgspec.Struct, frozen=True):
    """What the guardrails read at one look: arms overall and per cohort, render counts (None:
    not counted by this server), minutes since the exposed users last grew."""

    percent: int
    overall: Arms = Arms()
    elderly: Arms = Arms()
    screen_reader: Arms = Arms()
    render: RenderCounts | None = None
    quiet_minutes: float = 0.0


# A number a verdict read (None: not computed yet); a bool flags how to read one next to it
# (`chi_squared_infinite`: JSON has no infinity).
Figure = float | int | bool | list[float] | None


class Verdict(msgspec.Struct, frozen=True):
    """One guardrail at one look: its state, the numbers it read and why."""

    metric: Metric
    action: Action
    state: State
    reason: str
    figures: dict[str, Figure] = {}


def _rate(x: int, n: int) -> float | None:
    return x / n if n else None


def _conversion(guard: Guardrail, arms: Arms, alpha: float, who: str) -> Verdict:
    (nc, nv), (xc, xv) = arms.exposed, arms.converters
    figures: dict[str, Figure] = {
        "previous_exposed": nc,
        "new_exposed": nv,
        "previous_conversions": xc,
        "new_conversions": xv,
        "previous_rate": _rate(xc, nc),
        "new_rate": _rate(xv, nv),
    }
    if nc <= 0 or nv <= 0 or xc + xv <= 0:
        why = f"waiting for exposed users and conversions in both arms ({who})"
        return Verdict(guard.metric, guard.action, "waiting", why, figures)
    test = msprt(xc, nc, xv, nv, errors=arms.errors, alpha=alpha)
    assert test is not None  # both arms have exposures
    difference = xv / nv - xc / nc
    figures |= {
        "difference": difference,
        "sequential_p_value": test.p_value,
        "sequential_interval": list(test.interval),
        "alpha": alpha,
    }
    if test.interval[1] < -guard.tolerance:
        why = (
            f"the new version converts worse ({who}): {xv}/{nv} vs {xc}/{nc}, "
            f"difference {difference:+.4f}, always-valid p = {test.p_value:.3g} < {alpha:.3g}"
        )
        return Verdict(guard.metric, guard.action, "fired", why, figures)
    why = f"no significant loss ({who}): always-valid p = {test.p_value:.3g}"
    return Verdict(guard.metric, guard.action, "ok", why, figures)


def _render(guard: Guardrail, render: RenderCounts | None, alpha: float) -> Verdict:
    if render is None:
        why = "render errors are not counted by this server"
        return Verdict(guard.metric, guard.action, "waiting", why)
    (ec, ev), (nc, nv) = render.errors, render.impressions
    figures: dict[str, Figure] = {
        "previous_errors": ec,
        "new_errors": ev,
        "previous_impressions": nc,
        "new_impressions": nv,
        "previous_rate": _rate(ec, nc),
        "new_rate": _rate(ev, nv),
    }
    if min(nc, nv) < MIN_RENDER_IMPRESSIONS:
        why = f"waiting for {MIN_RENDER_IMPRESSIONS} impressions in each arm"
        return Verdict(guard.metric, guard.action, "waiting", why, figures)
    # Errors per impression as proportions (an impression fails at most once), capped.
    xc, xv = min(ec, nc), min(ev, nv)
    test = msprt(xc, nc, xv, nv, alpha=alpha)
    assert test is not None
    figures |= {"sequential_p_value": test.p_value, "sequential_interval": list(test.interval)}
    if test.interval[0] > guard.tolerance:
        why = (
            f"the new version fails to render more often: {ev} errors in {nv} impressions vs "
            f"{ec} in {nc}, always-valid p = {test.p_value:.3g} < {alpha:.3g}"
        )
        return Verdict(guard.metric, guard.action, "fired", why, figures)
    return Verdict(
        guard.metric, guard.action, "ok", "no significant rise in render errors", figures
    )


def _srm(guard: Guardrail, arms: Arms, percent: int) -> Verdict:
    check = srm(list(arms.exposed), [100 - percent, percent], list(arms.errors))
    figures: dict[str, Figure] = {
        "previous_exposed": arms.exposed[0],
        "new_exposed": arms.exposed[1],
        "expected_new_share": percent / 100,
    }
    if check is None or sum(arms.exposed) < 2:
        return Verdict(guard.metric, guard.action, "waiting", "no exposures yet", figures)
    # An infinite statistic (exposures in an arm of share 0) is null with the flag: JSON has
    # no infinity (`SrmCheck`).
    figures |= {
        "chi_squared": check.chi_squared,
        "chi_squared_infinite": check.chi_squared_infinite,
        "p_value": check.p_value,
    }
    if check.p_value < guard.threshold:
        why = (
            f"sample ratio mismatch: {arms.exposed[1]} new vs {arms.exposed[0]} previous "
            f"for a {percent}% split, p = {check.p_value:.3g} < {guard.threshold:g}"
        )
        return Verdict(guard.metric, guard.action, "fired", why, figures)
    return Verdict(guard.metric, guard.action, "ok", f"split as expected, p = {check.p_value:.3g}")


def _quiet(guard: Guardrail, quiet: float) -> Verdict:
    figures: dict[str, Figure] = {"quiet_minutes": round(quiet, 2)}
    if quiet >= guard.max_quiet_minutes:
        why = f"no new exposed user for {quiet:.0f} minutes (limit {guard.max_quiet_minutes:g})"
        return Verdict(guard.metric, guard.action, "fired", why, figures)
    return Verdict(guard.metric, guard.action, "ok", "traffic flowing", figures)


def evaluate(guards: Sequence[Guardrail], figures: Figures, compared_steps: int) -> list[Verdict]:
    """Every guardrail's verdict at one look; `compared_steps`: how many steps of the schedule
    compare two arms (alpha is split over them)."""
    out = []
    for guard in guards:
        alpha = guard.alpha / max(1, compared_steps)
        if guard.action == "off":
            out.append(Verdict(guard.metric, "off", "off", "switched off"))
        elif guard.metric == "conversion":
            out.append(_conversion(guard, figures.overall, alpha, "all users"))
        elif guard.metric == "elderly_conversion":
            out.append(_conversion(guard, figures.elderly, alpha, "elderly-mode users"))
        elif guard.metric == "screen_reader_conversion":
            out.append(_conversion(guard, figures.screen_reader, alpha, "screen-reader users"))
        elif guard.metric == "render_errors":
            out.append(_render(guard, figures.render, alpha))
        elif guard.metric == "srm":
            out.append(_srm(guard, figures.overall, figures.percent))
        else:
            out.append(_quiet(guard, figures.quiet_minutes))
    return out


Move = Literal["wait", "advance", "promote", "hold", "rollback"]


class Decision(msgspec.Struct, frozen=True):
    """What the schedule does now, why, and the guardrail behind it (if any)."""

    move: Move
    reason: str
    metric: str = ""


def decide(
    steps: Sequence[Step],
    step: int,
    step_started: float,
    now: float,
    exposed: tuple[int, int],
    verdicts: Sequence[Verdict],
) -> Decision:
    """The next move of a running schedule at step index `step` (entered at `step_started`,
    Unix seconds): roll back when a rollback guardrail fires; hold while a hold guardrail
    fires; advance (promote at the last step) when the step's minutes and both arms' exposed
    users are met; else wait."""
    moves: tuple[tuple[Action, Move], ...] = (("rollback", "rollback"), ("hold", "hold"))
    for action, by_guardrail in moves:
        fired = [v for v in verdicts if v.state == "fired" and v.action == action]
        if fired:  # every guardrail that fired is named; the first is the decision's metric
            reason = "; ".join(f"guardrail {v.metric}: {v.reason}" for v in fired)
            return Decision(by_guardrail, reason, fired[0].metric)
    current = steps[step]
    minutes = (now - step_started) / 60
    if minutes < current.min_minutes:
        return Decision("wait", f"{minutes:.1f} of {current.min_minutes:g} minutes at this step")
    if min(exposed) < current.min_exposed:
        return Decision(
            "wait",
            f"{min(exposed)} of {current.min_exposed} exposed users in the smaller arm",
        )
    nxt = steps[step + 1].percent if step + 1 < len(steps) else 100
    return Decision(
        "promote" if nxt >= 100 else "advance",
        f"step met: {minutes:.1f} >= {current.min_minutes:g} minutes, "
        f"{min(exposed)} >= {current.min_exposed} exposed users per arm; no guardrail fired",
    )


def compared(steps: Sequence[Step]) -> int:
    """How many steps compare two arms (every one below 100)."""
    return sum(1 for s in steps if s.percent < 100)


def check_steps(steps: Sequence[Step]) -> list[tuple[str, str]]:
    """(field, message) for each mistake in a schedule's steps: 1..MAX_STEPS steps, percents
    whole numbers rising strictly from 1 to a last step of exactly 100 (whose minimums are 0:
    reaching it ends the rollout), minutes and exposed users >= 0 and finite."""
    problems: list[tuple[str, str]] = []
    if not 1 <= len(steps) <= MAX_STEPS:
        return [("schedule.steps", f"must list 1 to {MAX_STEPS} steps")]
    last = 0
    for i, step in enumerate(steps):
        where = f"schedule.steps[{i}]"
        if not 1 <= step.percent <= 100 or step.percent <= last:
            problems.append((f"{where}.percent", "percents must rise strictly, each from 1 to 100"))
        if not math.isfinite(step.min_minutes) or not 0 <= step.min_minutes <= 525_600:
            problems.append((f"{where}.min_minutes", "must be a number of minutes, 0 to 525600"))
        if not 0 <= step.min_exposed <= 100_000_000:
            problems.append((f"{where}.min_exposed", "must be a whole number, 0 to 100000000"))
        last = max(last, step.percent)
    final = steps[-1]
    where = f"schedule.steps[{len(steps) - 1}]"
    if final.percent != 100:
        problems.append((f"{where}.percent", "the last step must be 100 (everyone)"))
    elif final.min_minutes or final.min_exposed:
        problems.append(
            (where, "the last step (100) ends the rollout: min_minutes and min_exposed must be 0")
        )
    return problems


def check_guardrails(guards: Sequence[Guardrail]) -> list[tuple[str, str]]:
    """(field, message) for each mistake: one guardrail per metric, alpha in (0, 0.5],
    tolerance in [0, 1), threshold in (0, 0.5], max_quiet_minutes > 0."""
    problems: list[tuple[str, str]] = []
    seen: set[str] = set()
    for i, guard in enumerate(guards):
        where = f"schedule.guardrails[{i}]"
        if guard.metric in seen:
            problems.append((f"{where}.metric", f"{guard.metric} is listed twice"))
        seen.add(guard.metric)
        limits = (
            ("alpha", guard.alpha, 0.0, 0.5, False),
            ("tolerance", guard.tolerance, 0.0, 1.0, True),
            ("threshold", guard.threshold, 0.0, 0.5, False),
            ("max_quiet_minutes", guard.max_quiet_minutes, 0.0, 525_600.0, False),
        )
        for name, value, low, high, closed in limits:
            ok = (
                math.isfinite(value) and (low <= value if closed else low < value) and value <= high
            )
            if not ok or (name == "tolerance" and value >= high):
                problems.append(
                    (
                        f"{where}.{name}",
                        f"must be a number in {'[' if closed else '('}{low:g}, {high:g}]",
                    )
                )
    return problems
