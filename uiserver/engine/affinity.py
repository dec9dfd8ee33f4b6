"""Fold behaviour events into decayed affinity scores (pure: no I/O, no clock).

Scores are kept "as of" the time of the last fold (`Affinity.updated`). Folding first decays every
stored score from `updated` to `now` with a half-life, then adds each event's weight decayed from
the event's own time to `now`. The result does not depend on the order of events or on how they
were split into batches (up to float rounding), so replaying a batch on another replica gives the
same profile.

Readers may use the stored scores as they are: decay multiplies every score by the same factor,
so it never changes their order or ratios; `decayed` is there for code that needs absolute values.

Evidence decays the same way: each meaningful event (click, convert) adds 1 decayed from its own
time, so evidence is what still carries weight, not a count of events ever received. An
impression (the component was seen: `engine.telemetry`) adds `IMPRESSION_EVIDENCE` and no score:
a component seen but never tapped is evidence about what the user skips, so the gate opens for
a user who looks and does not tap, and the components they do tap move ahead of those they
only saw. An event with an empty `component` (telemetry only: a render error, an impression of
a component that is not interactive) folds nothing but its time. Eight clicks
dated 1970 add nothing; eight clicks a half-life ago add 4. The engine decays the stored value to
the launch's day (`engine.plan.evidence_on`) and rounds to whole events
(`engine.stability.enough_evidence`: clicks seconds apart still count as whole ones).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Protocol

import msgspec

from uiserver.types import EventKind

HALF_LIFE_S = 14 * 86_400.0
# A view is not a preference (it only says the component was on screen); a click is one, a
# conversion a strong one. 20 views (0.4) never outweigh a single click.
WEIGHTS: Mapping[str, float] = {"view": 0.02, "click": 1.0, "convert": 4.0}
# What one impression adds to evidence: four launches that showed a component without a tap say
# as much as one tap (a choice of this project, kept below a click's weight so that looking
# never opens the gate faster than acting).
IMPRESSION_EVIDENCE = 0.25
EVIDENCE: Mapping[str, float] = {"click": 1.0, "convert": 1.0, "impression": IMPRESSION_EVIDENCE}
MAX_KEYS = 64  # a client cannot grow a profile without limit
MIN_SCORE = 1e-6  # scores decayed below this are forgotten


class EventLike(Protocol):
    """What folding reads from an event (`uiserver.schema.Event` fits)."""

    @property
    def component(self) -> str: ...

    @property
    def kind(self) -> EventKind: ...

    @property
    def ts(self) -> float | None: ...


class Affinity(msgspec.Struct, frozen=True):
    """A user's affinity state: scores and evidence as of `updated`."""

    scores: dict[str, float] = {}
    evidence: float = 0.0  # meaningful events, each decayed from its own time to `updated`
    updated: float | None = None  # Unix seconds of the last fold; None = never
    last_event: float | None = None  # the newest event time folded in


def decay_factor(elapsed: float, half_life: float = HALF_LIFE_S) -> float:
    """The multiplier after `elapsed` seconds; never above 1 (no growth from clock skew)."""
    if elapsed <= 0:
        return 1.0
    return float(0.5 ** (elapsed / half_life))


def event_time(ts: float | None, now: float) -> float:
    """When an event happened: its `ts`, but never later than `now`.

    A client's clock may run ahead; a future timestamp would otherwise give a weight above its
    kind's (growth instead of decay), so it is clamped to `now` like a missing one.
    """
    return now if ts is None else min(ts, now)


def decayed(
    scores: Mapping[str, float],
    updated: float | None,
    now: float,
    half_life: float = HALF_LIFE_S,
) -> dict[str, float]:
    """`scores` (as of `updated`) decayed to `now`."""
    factor = 1.0 if updated is None else decay_factor(now - updated, half_life)
    return {key: score * factor for key, score in scores.items()}


def top_keys(scores: Mapping[str, float], max_keys: int = MAX_KEYS) -> dict[str, float]:
    """The `max_keys` highest scores (ties by key, so the result is deterministic)."""
    kept = [(key, score) for key, score in scores.items() if score >= MIN_SCORE]
    kept.sort(key=lambda item: (-item[1], item[0]))
    return dict(kept[:max_keys])


def fold(
    state: Affinity,
    events: Iterable[EventLike],
    now: float,
    *,
    half_life: float = HALF_LIFE_S,
    weights: Mapping[str, float] = WEIGHTS,
    max_keys: int = MAX_KEYS,
) -> Affinity:
    """`state` with `events` folded in, as of `max(now, state.updated)`."""
    ref = now if state.updated is None else max(now, state.updated)
    scores = decayed(state.scores, state.updated, ref, half_life)
    age = 0.0 if state.updated is None else ref - state.updated
    evidence = state.evidence * decay_factor(age, half_life)
    last_event = state.last_event
    for event in events:
        at = event_time(event.ts, ref)
        if not event.component:  # telemetry only: counted elsewhere, no preference
            continue
        weight = weights.get(event.kind, 0.0)
        if weight > 0:
            gain = weight * decay_factor(ref - at, half_life)
            scores[event.component] = scores.get(event.component, 0.0) + gain
        evidence += EVIDENCE.get(event.kind, 0.0) * decay_factor(ref - at, half_life)
        last_event = at if last_event is None else max(last_event, at)
    return Affinity(top_keys(scores, max_keys), evidence, ref, last_event)
