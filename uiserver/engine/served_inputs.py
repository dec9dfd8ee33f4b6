"""Does a batch of events change what the user would be served? Decided from the plan's inputs.

Most event batches (views, a click) move a score a little and change nothing a plan reads, so
they need not invalidate every replica's cached profile (at 100M users that was 18,500
messages a second to each replica: docs/CAPACITY.md). A plan reads the profile's affinities
only through:

- the evidence gate (`stability.enough_evidence`),
- the order of the scores (which unit settles ahead of which; the strongest for exploration),
- for each score, which higher scores *beat* it by the hysteresis margin (`stability.beats`),
  and which scores beat a unit with no score at all (affinity 0),

and its activity counters only through the computed segments (`lifecycle.computed_segments`:
first/last/previous active day, lapses, launch days, converts and their value). `signature`
is exactly that projection, with the scores decayed to the same instant on both sides (decay
scales every score alike). Since `beats(a, b)` for a fixed `b` holds for every score above some
threshold, the keys that beat each key are a prefix of the ranking: the signature stores its
length, so it costs O(k log k) for k keys (at most `affinity.MAX_KEYS`).

What it leaves out is the size of each affinity gain, which the cap uses to choose between two
moves when both do not fit: two profiles with one signature may, at that boundary, be capped
differently. Serving bounds that: a cached profile is reloaded from the store at most
`serving.profiles.PROFILE_REFRESH_S` after it was read, whatever it was told.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Hashable

from uiserver.engine.affinity import Affinity, decayed
from uiserver.engine.stability import enough_evidence
from uiserver.policy import Policy
from uiserver.schema import Activity

Signature = tuple[Hashable, ...]


def signature(
    affinity: Affinity, activity: Activity | None, now: float, policy: Policy
) -> Signature:
    """What a plan can read of this state at `now` (Unix seconds): gate, ranking, the beats
    prefix of each key, and the counters computed segments use."""
    scores = decayed(affinity.scores, affinity.updated, now)
    evidence = decayed({"": affinity.evidence}, affinity.updated, now)[""]
    ranked = sorted(scores.items(), key=lambda item: (-item[1], item[0]))
    ascending = [score for _, score in reversed(ranked)]
    margin = policy.hysteresis_margin
    beaten_by: list[int] = []
    for _, score in ranked:
        # a beats score when a > score + margin x max(score, 1): count the scores above it.
        threshold = score + margin * (score if score > 1.0 else 1.0)
        beaten_by.append(len(ascending) - bisect_right(ascending, threshold))
    # A unit with no score has affinity 0: the keys that beat it (a > margin x 1).
    beat_zero = len(ascending) - bisect_right(ascending, margin)
    return (
        enough_evidence(evidence, policy.min_evidence),
        tuple(key for key, _ in ranked),
        tuple(beaten_by),
        beat_zero,
        _segment_inputs(activity),
    )


def _segment_inputs(activity: Activity | None) -> Hashable:
    """The counters `lifecycle.computed_segments` and `lifecycle.rfm_tier` read."""
    if activity is None:
        return None
    return (
        activity.first,
        activity.last,
        activity.prev,
        # which days had a launch, not how many: `computed_segments` counts launch days
        tuple(sorted(day for day, launches in activity.days.items() if launches > 0)),
        tuple(sorted(activity.lapses.items())),
        activity.last_convert,
        activity.converts,
        activity.value,
    )


def counters_change_served(before: Activity | None, after: Activity | None) -> bool:
    """Whether new activity counters (a launch folded in) may change the computed segments,
    the only thing a plan reads of them. A second launch on a day already counted does not:
    it is written, but no replica need drop the user's cached profile."""
    return _segment_inputs(before) != _segment_inputs(after)


def changes_served(
    before: tuple[Affinity, Activity | None],
    after: tuple[Affinity, Activity | None],
    now: float,
    policy: Policy,
) -> bool:
    """Whether the state after a batch may be served differently from the state before it."""
    return signature(*before, now, policy) != signature(*after, now, policy)
