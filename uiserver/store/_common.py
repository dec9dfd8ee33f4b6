"""What both backends share: codecs, listener fan-out, the export document, bulk thresholds,
version immutability, erasure buckets, the activity folds."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import NamedTuple

import msgspec

from uiserver.engine.activity import Tally, attribute, expose, record_launches
from uiserver.engine.affinity import Affinity
from uiserver.engine.served_inputs import counters_change_served
from uiserver.schema import Activity, Profile, Settings
from uiserver.store.base import (
    Conversion,
    Exposure,
    Invalidation,
    Listener,
    TemplateRecord,
    UserExport,
)

log = logging.getLogger("uiserver.store")

# A segment import naming more users than this emits one Invalidation("all") instead of one per
# user: dropping the whole layout cache once is cheaper than 100,000 messages to every replica.
BULK_INVALIDATION_USERS = 1_000

# Optimistic (WATCH / retry) transactions give up after this many conflicts.
MAX_TX_ATTEMPTS = 20

# Erasure epochs (see `uiserver.store.base`, "Erasure is final"): users are spread over this many
# buckets by a stable hash of their id, and erasing a user increments their bucket's epoch. A
# bucket counts erasures of ~1/4096 of all users and names nobody; a write that started before
# an erase of another user of the same bucket is refused too (a rare false conflict: a dropped
# last-order write, or a 409 the client retries).


json_encode = msgspec.json.Encoder().encode
decode_settings = msgspec.json.Decoder(Settings).decode
_ORDER = msgspec.json.Decoder(list[str])


def decode_order(raw: bytes | str) -> list[str]:
    """A stored order (JSON list of component ids) with each id interned (`sys.intern`): the
    ids come from a page's few dozen components, and a cached profile's remembered orders
    otherwise held ~45 fresh strings each, 19 MB of the 61 MB 20,000 cached profiles took
    (tracemalloc, issue 26). Interned strings are freed with their last reference.
    Raises msgspec.DecodeError for anything but a JSON list of strings."""
    return [sys.intern(component) for component in _ORDER.decode(raw)]


class Listeners:
    """Fan-out of invalidations; a failing listener is logged, never breaks a committed write."""

    def __init__(self) -> None:
        self._listeners: list[Listener] = []
        # (direction, kind) -> count: `sent` after this process's commits, `received` from
        # other processes (and resubscriptions); read by /metrics.
        self.counts: dict[tuple[str, str], int] = {}

    def add(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def emit(self, invalidations: Iterable[Invalidation], received: bool = False) -> None:
        """Call every listener with each invalidation; `received`: they came from another
        process (counted as received, else as sent)."""
        direction = "received" if received else "sent"
        counts = self.counts
        for invalidation in invalidations:
            key = (direction, invalidation.kind)
            counts[key] = counts.get(key, 0) + 1
            for listener in self._listeners:
                try:
                    listener(invalidation)
                except Exception:
                    log.exception(
                        "invalidation listener failed on a %s invalidation", invalidation.kind
                    )


def user_invalidations(user_ids: Sequence[str], how: str = "users") -> list[Invalidation]:
    """One invalidation per user, or one `all` past the bulk threshold; `how` "none": none,
    "all": one `all` (`UserStore.put_segments`)."""
    if how != "users":
        return [Invalidation("all")] if how == "all" else []
    if len(user_ids) > BULK_INVALIDATION_USERS:
        return [Invalidation("all")]
    return [Invalidation("user", user_id) for user_id in dict.fromkeys(user_ids)]


def last_assignments(
    assignments: Sequence[tuple[str, Sequence[str]]],
) -> dict[str, list[str]]:
    """user -> segments; a user named twice gets the last assignment (replace semantics)."""
    return {user_id: list(dict.fromkeys(segments)) for user_id, segments in assignments}


def build_profile(
    user_id: str,
    settings: Settings | None,
    affinity: Affinity,
    segments: Iterable[str],
    last_order: Mapping[str, list[str]],
    epoch: int = 0,
    activity: Activity | None = None,
) -> Profile:
    """The engine's view of a user: evidence as of `evidence_updated` (the engine decays it to
    the launch's day)."""
    return Profile(
        user_id=user_id,
        settings=settings if settings is not None else Settings(),
        affinities=dict(affinity.scores),
        evidence=affinity.evidence,
        evidence_updated=affinity.updated,
        segments=frozenset(segments),
        last_order=dict(last_order),
        epoch=epoch,
        activity=activity,
    )


def export_document(
    user_id: str,
    settings: Settings | None,
    affinity: Affinity,
    segments: Iterable[str],
    last_order: Mapping[str, list[str]],
    created: float | None,
    updated: float | None,
    activity: Activity | None = None,
) -> UserExport:
    """The same export from both backends (affinities by descending score, then key)."""
    return UserExport(
        user_id=user_id,
        settings=settings,
        affinities=dict(sorted(affinity.scores.items(), key=lambda kv: (-kv[1], kv[0]))),
        affinities_updated=affinity.updated,
        evidence=affinity.evidence,
        last_event=affinity.last_event,
        segments=sorted(segments),
        activity=activity,
        last_order={page: list(order) for page, order in sorted(last_order.items())},
        created=created,
        updated=updated,
    )


def check_same_document(record: TemplateRecord, document: bytes) -> None:
    """Versions are immutable: a known version with other content raises ValueError."""
    if record.document != bytes(document):
        raise ValueError(
            f"template {record.page!r} version {record.version!r} already exists with other "
            "content; versions are immutable"
        )


class Folded(NamedTuple):
    """What `fold_activity` returns."""

    changed: dict[str, Activity | None]  # user -> new counters (None: erased meanwhile)
    invalidate: list[str]  # sorted users whose cached profile may serve differently now
    tallies: list[Tally]


def fold_activity(
    launches: Mapping[str, tuple[int, int, int]],
    exposures: Sequence[Exposure],
    epoch: Callable[[str], int],
    load: Callable[[str], Activity | None],
    now: float,
) -> Folded:
    """Launches (user -> (UTC day, count, epoch served)) and marking exposures folded into the
    users' counters; returns the changed users' new counters, by sorted user id, the users to
    invalidate (an exposure marker, or counters that move the computed segments:
    `engine.served_inputs.counters_change_served`; a second launch on a counted day moves
    nothing a plan reads, so it is written but invalidates no replica's cache), and the exact
    counts to add (`engine.activity.expose`: a user's first exposure to each variant, and the
    held conversions it settles). `epoch(user)` is the user's current erasure epoch and
    `load(user)` their stored counters, each called at most once per user (`load` only for a
    user whose epoch is current). Users erased since they were served (stale epoch) are
    skipped: nothing about them is written again."""
    epochs: dict[str, int] = {}
    states: dict[str, Activity | None] = {}
    changed: set[str] = set()
    visible: set[str] = set()
    tallies: list[Tally] = []

    def current(user_id: str, served: int) -> bool:
        if user_id not in epochs:
            epochs[user_id] = epoch(user_id)
        return epochs[user_id] == served

    def state(user_id: str) -> Activity | None:
        if user_id not in states:
            states[user_id] = load(user_id)
        return states[user_id]

    for user_id, (day, count, served) in launches.items():
        if current(user_id, served):
            before = state(user_id)
            states[user_id] = record_launches(before, day, count)
            changed.add(user_id)
            if counters_change_served(before, states[user_id]):
                visible.add(user_id)
    for e in sorted(exposures, key=Exposure.served_at):  # first exposures first
        if e.mark and current(e.user_id, e.epoch):
            found = expose(
                state(e.user_id),
                e.experiment,
                e.variant,
                e.served_at(),
                e.cohort,
                now,
                e.new_user_days,
            )
            if found is not None:
                states[e.user_id], more = found
                tallies.extend(more)
                changed.add(e.user_id)
                visible.add(e.user_id)
    folded = {user_id: states[user_id] for user_id in sorted(changed)}
    return Folded(folded, sorted(visible), tallies)


def count_conversions(
    activity: Activity, conversions: Iterable[Conversion], now: float
) -> tuple[Activity, list[Tally], int]:
    """Conversions attributed by the user's markers (`engine.activity.attribute`): the new
    counters, the exact counts to add and how many conversions counted now."""
    tallies: list[Tally] = []
    counted = 0
    for c in conversions:
        activity, more, outcome = attribute(activity, c.experiment, c.ts, c.value, now, c.key)
        tallies.extend(more)
        counted += outcome == "counted"
    return activity, tallies, counted


def merge_tallies(tallies: Iterable[Tally]) -> list[Tally]:
    """Tallies of the same (experiment, variant, day, cohort) summed into one (fewer writes)."""
    rows: dict[tuple[str, str, int, str], Tally] = {}
    for t in tallies:
        key = (t.experiment, t.variant, t.day, t.cohort)
        old = rows.get(key)
        rows[key] = (
            t
            if old is None
            else Tally(
                t.experiment,
                t.variant,
                t.day,
                t.cohort,
                old.exposed + t.exposed,
                old.converters + t.converters,
                old.converts + t.converts,
                old.value + t.value,
                old.multi + t.multi,
                old.switched + t.switched,
                old.early + t.early,
            )
        )
    return list(rows.values())
