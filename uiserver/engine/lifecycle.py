"""Computed segments: lifecycle and RFM tiers from a user's activity counters, at read time.

Pure and day-granular (UTC day numbers), so every launch of a day computes the same segments and
a cached layout stays valid for the day. Thresholds are policy fields (`uiserver/policy.json`);
the defaults come from the field reports behind DESIGN section 1: no launch for 7 days marks
churn risk, users recalled within 3 days of lapsing come back most.

    new_user     first launch or event fewer than `new_user_days` days ago (or never seen)
    active       launched on >= `active_min_days` of the last `active_window_days` days,
                 and not lapsing
    lapsing      no launch or event for >= `lapsing_days` (< `churn_days`) days before today
    churn_risk   no launch or event for >= `churn_days` days before today
    returning    this launch ends such a lapse, or one ended fewer than `returning_days` ago
    rfm_high / rfm_mid / rfm_low   users with >= 1 convert, by recency + frequency + monetary

"Before today": activity on the launch's own day is this visit, not what it ends.
"""

from __future__ import annotations

from uiserver.policy import Policy
from uiserver.schema import Activity


def _score(value: float, thresholds: tuple[float, float], higher_is_better: bool) -> int:
    first, second = thresholds
    if higher_is_better:
        return 3 if value >= first else 2 if value >= second else 1
    return 3 if value <= first else 2 if value <= second else 1


def rfm_tier(activity: Activity, day: int, policy: Policy) -> str | None:
    """`rfm_high`/`rfm_mid`/`rfm_low` from the three 1..3 scores, None before a first convert."""
    if activity.converts <= 0 or activity.last_convert is None:
        return None
    recency = _score(day - activity.last_convert, policy.rfm_recency_days, False)
    frequency = _score(activity.converts, policy.rfm_frequency, True)
    monetary = _score(activity.value, policy.rfm_monetary, True)
    total = recency + frequency + monetary
    if total >= policy.rfm_high_score:
        return "rfm_high"
    if total >= policy.rfm_mid_score:
        return "rfm_mid"
    return "rfm_low"


def computed_segments(activity: Activity | None, day: int, policy: Policy) -> frozenset[str]:
    """The computed segments of a user on `day` (a launch). None (nothing known: anonymous, or a
    user stored before counters existed) computes nothing; empty counters (`last` None: a user
    the store has never seen) are a first launch: `new_user`."""
    if activity is None:
        return frozenset()
    out: set[str] = set()
    first = activity.first if activity.first is not None else activity.last
    if first is None or day - first < policy.new_user_days:
        out.add("new_user")
    if activity.last is None:
        return frozenset(out)
    before = activity.last if activity.last < day else activity.prev
    gap = day - before if before is not None else 0
    if before is not None and gap >= policy.churn_days:
        out.update(("churn_risk", "returning"))
    elif before is not None and gap >= policy.lapsing_days:
        out.add("lapsing")
    elif any(
        length >= policy.churn_days and 0 <= day - ended < policy.returning_days
        for ended, length in activity.lapses.items()
    ):
        out.add("returning")
    if "lapsing" not in out and "churn_risk" not in out:
        since = day - policy.active_window_days
        launched = sum(1 for d, n in activity.days.items() if n > 0 and since < d <= day)
        if launched >= policy.active_min_days:
            out.add("active")
    tier = rfm_tier(activity, day, policy)
    if tier is not None:
        out.add(tier)
    return frozenset(out)
