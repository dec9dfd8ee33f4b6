"""Fold launches and events into a user's compact activity counters (pure: no I/O, no clock).

The counters (`schema.Activity`) are what computed segments read (`engine.lifecycle`): first
and last active day, the active day before the last one, launches per day and the lapses that
ended over a rolling window of `WINDOW_DAYS`, and convert count, value and day. No raw event is
kept. An event's `ts` counts as activity time (clamped to `now`, as for affinities), so a batch
sent late still dates the activity when it happened.

Folding is commutative over days (a launch or event at an older day than `last` only fills
`prev`/`days`), so replicas folding the same inputs in another order agree.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import msgspec

from uiserver.engine.affinity import EventLike, event_time
from uiserver.schema import Activity

DAY_S = 86_400
# How many days of launches and lapses are kept: the longest any policy threshold may look back
# (`policy.Days` caps every threshold at 28).
WINDOW_DAYS = 28
# A gap of at least this many days between two active days is remembered as a lapse.
MIN_LAPSE_DAYS = 2
MAX_EXPERIMENTS = 64  # exposure markers kept per user (oldest dropped first)


# Counters of a user the store has never seen: their first launch (`new_user`).
NEVER_SEEN = Activity()


def first_seen(day: int | None) -> Activity:
    """Counters for a user stored before counters existed: active since `day` (the row's
    creation), so an old user is not mistaken for a new one."""
    return Activity(first=day)


def day_of(ts: float) -> int:
    """The UTC day number of Unix seconds `ts`."""
    return int(ts // DAY_S)


def _window(mapping: Mapping[int, int], newest: int) -> dict[int, int]:
    return {d: n for d, n in mapping.items() if d > newest - WINDOW_DAYS}


def touch(state: Activity, day: int, launches: int = 0) -> Activity:
    """`state` with activity on `day` (and `launches` launches counted on it)."""
    first = day if state.first is None else min(state.first, day)
    last, prev = state.last, state.prev
    lapses = dict(state.lapses)
    if last is None:
        last = day
    elif day > last:
        if day - last >= MIN_LAPSE_DAYS:
            lapses[day] = day - last
        prev, last = last, day
    elif day < last and (prev is None or day > prev):
        prev = day
    days = dict(state.days)
    days[day] = days.get(day, 0) + launches
    return msgspec.structs.replace(
        state,
        first=first,
        last=last,
        prev=prev,
        days=_window(days, last),
        lapses=_window(lapses, last),
    )


def record_launches(state: Activity | None, day: int, count: int = 1) -> Activity:
    """`count` launches on `day` folded into `state` (None: a user never seen)."""
    return touch(state or Activity(), day, count)


def record_events(state: Activity | None, events: Iterable[EventLike], now: float) -> Activity:
    """Events folded into `state`: each marks its day active; converts add to the RFM counters
    (`value` summed when the event has one)."""
    new = state or Activity()
    converts, value, last_convert = new.converts, new.value, new.last_convert
    for event in events:
        day = day_of(event_time(event.ts, now))
        new = touch(new, day)
        if event.kind == "convert":
            converts += 1
            value += float(getattr(event, "value", None) or 0.0)
            last_convert = day if last_convert is None else max(last_convert, day)
    return msgspec.structs.replace(new, converts=converts, value=value, last_convert=last_convert)


def mark_exposed(state: Activity | None, experiment: str, variant: str) -> Activity | None:
    """`state` remembering that the user was served `variant`; None when already remembered."""
    new = state or Activity()
    if new.exposed.get(experiment) == variant:
        return None
    exposed = {k: v for k, v in new.exposed.items() if k != experiment}
    exposed[experiment] = variant
    while len(exposed) > MAX_EXPERIMENTS:
        exposed.pop(next(iter(exposed)))
    return msgspec.structs.replace(new, exposed=exposed)


def mark_converted(state: Activity, experiment: str) -> Activity:
    """`state` with the user's conversion in `experiment` counted (at most once per user)."""
    converted = [e for e in state.converted if e in state.exposed and e != experiment]
    return msgspec.structs.replace(state, converted=[*converted, experiment])


encode_activity = msgspec.json.Encoder().encode
decode_activity = msgspec.json.Decoder(Activity).decode
