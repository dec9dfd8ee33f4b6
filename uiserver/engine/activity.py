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
from uiserver.schema import Activity, HeldConversion, Marker

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
    touched = None
    for event in events:
        day = day_of(event_time(event.ts, now))
        if day != touched:  # touching the day just touched again changes nothing
            new = touch(new, day)
            touched = day
        if event.kind == "convert":
            converts += 1
            value += float(getattr(event, "value", None) or 0.0)
            last_convert = day if last_convert is None else max(last_convert, day)
    return msgspec.structs.replace(new, converts=converts, value=value, last_convert=last_convert)


# ---------------------------------------------------------------- experiment exposure markers
#
# Rules (README "Experiment readout"):
# - Exposure: a user served a variant is exposed to it. Every variant a user is served gets a
#   marker with the time and cohort of its first exposure, so a user moved by a weight edit is
#   exposed to both (and counted once in each variant's exposed users).
# - Attribution: a conversion counts for every variant the user was exposed to at or before it
#   (the "metric events after first exposure" join of PostHog and GrowthBook, per variant), once
#   per user as a converter; conversions dated before the user's first exposure to the
#   experiment count nowhere (`early`, reported as ignored). GrowthBook and PostHog by default
#   drop users seen in more than one variant; here they stay in each and are counted
#   (`multi`, `switched`) so the readout says how many there are.
# - A conversion that arrives before its exposure marker is written (served by one replica, the
#   convert posted to another within the recorder's flush interval) is held in the user's
#   counters and settled when the marker lands, up to `HOLD_S` later.

# A client's clock may lag the server's: a conversion stamped up to this many seconds before the
# server served the variant still counts as after it (the same leeway as UISERVER_JWT_LEEWAY's
# default).
CLOCK_SKEW_S = 60.0
HOLD_S = 86_400.0  # a held conversion waits one day for its marker, then is dropped
# A counted conversion is kept this long, for a variant whose marker lands later (the recorder
# writes within `UISERVER_ACTIVITY_FLUSH`, 1 s) and for its key (a resent transaction).
RECENT_S = 600.0
MAX_HELD = 32  # held conversions kept per user (oldest dropped first)
MAX_VARIANTS = 16  # variant markers kept per experiment and user
MODES = ("elderly", "standard")
# "new": the user's computed `new_user` segment when served (`engine.lifecycle`); else returning.
STAGES = ("new", "returning")
COHORTS = tuple(f"{mode}/{stage}" for mode in MODES for stage in STAGES)
UNKNOWN_STAGE = "?"


def cohort_of(mode: str, new: bool) -> str:
    """The cohort of a serve: layout mode (`elderly`/`standard`) and life-cycle stage."""
    return f"{'elderly' if mode == 'elderly' else 'standard'}/{'new' if new else 'returning'}"


def serve_cohort(mode: str, activity: Activity | None, day: int, new_user_days: int) -> str:
    """The cohort of a user served on `day`: new when their first activity is fewer than
    `new_user_days` (policy) days before, or they were never seen (the `new_user` rule of
    `engine.lifecycle`). A user stored without counters (None: a row made by a settings PUT,
    or before counters existed) gets stage UNKNOWN_STAGE, resolved by the store from the day
    the user was first stored (`expose`)."""
    if activity is None:  # the store knows when the user was first seen: it decides (`expose`)
        return f"{cohort_of(mode, False).split('/')[0]}/{UNKNOWN_STAGE}"
    first = activity.first if activity.first is not None else activity.last
    return cohort_of(mode, first is None or day - first < new_user_days)


def in_cohort(cell: str, cohort: str | None) -> bool:
    """Whether counts of `cell` (one of COHORTS) belong to `cohort`: None (everyone), a cell,
    or one dimension's value (`elderly`, `standard`, `new`, `returning`)."""
    return cohort is None or cell == cohort or cohort in cell.split("/")


class Tally(msgspec.Struct, frozen=True):
    """Increments of one (experiment, variant, UTC day, cohort) row of exact counts: users first
    exposed to the variant, users who converted after it (once each), convert events and their
    value, users also exposed to another variant (`multi`; `switched`: the exposure that made
    a user exposed to two), conversions ignored as dated before the user's first exposure."""

    experiment: str
    variant: str
    day: int
    cohort: str
    exposed: int = 0
    converters: int = 0
    converts: int = 0
    value: float = 0.0
    multi: int = 0
    switched: int = 0
    early: int = 0


def markers_of(state: Activity, experiment: str) -> dict[str, Marker]:
    """The variants the user was served in `experiment` (a marker from before times and
    cohorts were kept reads as exposed since ever, cohort unknown)."""
    found = state.markers.get(experiment)
    if found is not None:
        return found
    legacy = state.exposed.get(experiment)
    if legacy is None:
        return {}
    return {legacy: Marker(0.0, "", experiment in state.converted)}


def _with_markers(state: Activity, experiment: str, markers: dict[str, Marker]) -> Activity:
    kept = {k: v for k, v in state.markers.items() if k != experiment}
    kept[experiment] = markers
    while len(kept) > MAX_EXPERIMENTS:
        kept.pop(next(iter(kept)))
    return msgspec.structs.replace(
        state,
        markers=kept,
        exposed={k: v for k, v in state.exposed.items() if k != experiment},
        converted=[e for e in state.converted if e != experiment],
    )


def _marker_day(marker: Marker, fallback: int) -> int:
    return day_of(marker.at) if marker.at > 0 else fallback


def expose(
    state: Activity | None,
    experiment: str,
    variant: str,
    at: float,
    cohort: str,
    now: float,
    new_user_days: int = 7,
) -> tuple[Activity, list[Tally]] | None:
    """`state` with the user's first exposure to `variant` at `at` (Unix seconds) in `cohort`,
    and the exact counts it adds (then any held conversion of the experiment settled); None
    when the user was already exposed to that variant (nothing to count). A cohort of stage
    UNKNOWN_STAGE is decided here by `state.first` and `new_user_days` (policy)."""
    new = state or Activity()
    mode, _, stage = cohort.partition("/")
    if stage == UNKNOWN_STAGE:
        cohort = serve_cohort(mode, new, day_of(at), new_user_days)
    current = markers_of(new, experiment)
    if variant in current or len(current) >= MAX_VARIANTS:
        return None
    day = day_of(at)
    tallies = [
        Tally(
            experiment,
            variant,
            day,
            cohort,
            exposed=1,
            multi=1 if current else 0,
            switched=1 if len(current) == 1 else 0,
        )
    ]
    if len(current) == 1:  # the other variant's user is now exposed to two as well
        ((other, marker),) = current.items()
        tallies.append(Tally(experiment, other, _marker_day(marker, day), marker.cohort, multi=1))
    new = _with_markers(new, experiment, {**current, variant: Marker(at, cohort)})
    new, settled = settle(new, experiment, now, variant)
    return new, tallies + settled


def attribute(
    state: Activity, experiment: str, ts: float, value: float, now: float, key: str = ""
) -> tuple[Activity, list[Tally], str]:
    """A conversion at `ts` in `experiment`: counted for every variant the user was exposed to
    at or before `ts` (less CLOCK_SKEW_S), once per variant as a converter (`"counted"`);
    ignored when dated before the user's first exposure (`"before_exposure"`, tallied as
    `early`); held until the marker lands when the user has none yet (`"held"`). Counted and
    held ones are kept `HOLD_S` (`settle`) with their `key`: one applied again (a resent
    transaction re-reads the counters the first one wrote) is a `"duplicate"`, counted once."""
    if key and any(h.key == key for h in state.held):
        return state, [], "duplicate"
    current = markers_of(state, experiment)
    if not current:
        return _keep(state, HeldConversion(experiment, ts, value, now, key=key)), [], "held"
    eligible = [v for v, m in current.items() if m.at - CLOCK_SKEW_S <= ts]
    if not eligible:
        first, marker = min(current.items(), key=lambda item: item[1].at)
        early = Tally(experiment, first, _marker_day(marker, day_of(ts)), marker.cohort, early=1)
        return state, [early], "before_exposure"
    state, tallies = _count(state, experiment, eligible, ts, value)
    kept = HeldConversion(experiment, ts, value, now, counted=True, key=key)
    return _keep(state, kept), tallies, "counted"


def _fresh(held: HeldConversion, now: float) -> bool:
    return now - held.received <= (RECENT_S if held.counted else HOLD_S)


def _keep(state: Activity, held: HeldConversion) -> Activity:
    fresh = [h for h in state.held if _fresh(h, held.received)]
    return msgspec.structs.replace(state, held=[*fresh, held][-MAX_HELD:])


def _count(
    state: Activity, experiment: str, variants: Iterable[str], ts: float, value: float
) -> tuple[Activity, list[Tally]]:
    """The conversion counted for `variants` (each marked converted)."""
    markers = dict(markers_of(state, experiment))
    day = day_of(ts)
    tallies = []
    for variant in variants:
        marker = markers[variant]
        tallies.append(
            Tally(
                experiment,
                variant,
                max(day, _marker_day(marker, day)),
                marker.cohort,
                converters=0 if marker.converted else 1,
                converts=1,
                value=value,
            )
        )
        markers[variant] = msgspec.structs.replace(marker, converted=True)
    return _with_markers(state, experiment, markers), tallies


def settle(
    state: Activity, experiment: str, now: float, variant: str | None = None
) -> tuple[Activity, list[Tally]]:
    """Recent conversions of `experiment` after a marker landed (`variant`, just marked): held
    ones attributed now; counted ones also counted for `variant` when it was served before
    them. Held ones older than HOLD_S, counted ones older than RECENT_S are dropped."""
    fresh = [h for h in state.held if _fresh(h, now)]
    mine = [h for h in fresh if h.experiment == experiment]
    if len(fresh) == len(state.held) and not mine:
        return state, []
    new = msgspec.structs.replace(state, held=[h for h in fresh if h.experiment != experiment])
    tallies: list[Tally] = []
    for h in mine:
        if not h.counted:
            new, more, _ = attribute(new, experiment, h.ts, h.value, h.received, h.key)
            tallies.extend(more)
            continue
        marker = markers_of(new, experiment).get(variant or "")
        if marker is not None and marker.at - CLOCK_SKEW_S <= h.ts:
            new, more = _count(new, experiment, [variant or ""], h.ts, h.value)
            tallies.extend(more)
        new = _keep(new, h)
    return new, tallies


encode_activity = msgspec.json.Encoder().encode
decode_activity = msgspec.json.Decoder(Activity).decode
