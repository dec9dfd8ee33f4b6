"""Behaviour events as clients send them: which are stored, which are ignored and why, and the
conversions they count for experiments.

Only events on interactive components of live pages are stored, under the key the engine reads
(the component's category, else `page/id`); the rest are counted by reason (`unknown_page`,
`unknown_component`, `not_interactive`), all of them when the user switched personalization off
(`personalization_off`), and none when the user was erased after the request began (`erased`).
An event whose `id` the store has seen (a resent batch) is `duplicate` (`store.event_ids`): the
store folds a batch, remembers its ids and counts its conversions in one transaction. An event
whose `ts` lies more than MAX_AGE_S (7 days, the ids' window) before the server's clock is
`too_old`, whatever else it is: nothing of it is stored or counted (affinities, activity and RFM
counters, conversions, telemetry). The bound is the ids' window so that a resend of a dated
event is told apart: it is taken only while its id is still remembered (an id is kept 7 days
from when it was stored, so it outlives its event's acceptance); a queue a phone held for weeks,
or a clock years behind, would otherwise be counted as given. (A `ts` too far ahead is refused
outright: `http.me.refuse_future_events`.)

Telemetry (`engine.telemetry`): impressions, clicks and render errors are also counted per
(page, template version, component, mode), with no user id. An impression or render error must
name a live version (`version`, else the one the user is served) and one of its components,
else it is ignored by reason (`unknown_version`, `unknown_component`...). Impressions count on
any component (on an interactive one they also add evidence, `engine.affinity`); render errors
only count. Counters are added after the user's transaction, for the events it found fresh (a
resent batch counts once). With personalization off, render errors are still counted (a fault
report about the software, needed by the rollout guardrails for every user, and counters carry
no user id) but impressions and clicks are not (measuring behaviour is what the user switched
off); then no event id is remembered, so a resent batch's render errors count again.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Sequence

import msgspec

from uiserver.engine.affinity import event_time
from uiserver.engine.guardrails import SCREEN_READER, arm_experiment
from uiserver.engine.served_inputs import changes_served
from uiserver.engine.telemetry import TELEMETRY_KINDS, UNKNOWN_MODE, CounterKey, tally
from uiserver.policy import Policy
from uiserver.schema import Event, Settings
from uiserver.serving.pages import LivePages
from uiserver.serving.profiles import ProfileLoader
from uiserver.store.base import (
    ActivityStore,
    Conversion,
    ErasedMeanwhile,
    ServedCheck,
    TelemetryStore,
    UserStore,
)
from uiserver.store.event_ids import WINDOW_S

# Seconds before the server's clock an event's `ts` may lie and still count: the event ids'
# window (`store.event_ids.WINDOW_S`, 7 days), so no accepted event can outlive its id's memory.
MAX_AGE_S = WINDOW_S
TOO_OLD = "too_old"

# The mode a telemetry event without `mode` counts under, when the settings force one.
FORCED_MODE = {"on": "elderly", "off": "standard"}


class EventsOutcome(msgspec.Struct, frozen=True):
    """What `POST /v1/me/events` did with a batch: stored, ignored, and ignored by reason."""

    stored: int
    ignored: int
    reasons: dict[str, int]


class EventIntake:
    """Events filtered by the live pages, folded by the store, conversions counted.

    intake = EventIntake(store.users, store.activity, live_pages, store.telemetry)
    outcome = await intake.record(user_id, batch.events, epoch)
    """

    def __init__(
        self,
        users: UserStore,
        activity: ActivityStore,
        pages: LivePages,
        telemetry: TelemetryStore,
        policy: Policy | None = None,
        profiles: ProfileLoader | None = None,
    ) -> None:
        self.policy = policy
        # The serving path's profiles: a user's settings and erasure epoch as of their last
        # invalidation (settings changes and erasures always invalidate). A user who launched
        # costs no store read; another one read (one command) is cached for their launch.
        self.profiles = profiles
        self.users = users
        self.activity = activity
        self.pages = pages
        # (outcome, reason) -> events so far: ("stored", "") and ("ignored", reason); read by
        # /metrics as `uiserver_events_total` (reasons come from a fixed set).
        self.counts: dict[tuple[str, str], int] = {}
        self.telemetry = telemetry

    async def record(
        self, user_id: str, events: Sequence[Event], epoch: int | None = None
    ) -> EventsOutcome:
        """Store what may be stored (the store folds it into affinities and counters) and say
        what was ignored. `epoch`: the user's erasure epoch when the request began; events
        from before an erase are not kept. Events older than MAX_AGE_S are `too_old`.
        Raises StoreUnavailable."""
        floor = time.time() - MAX_AGE_S
        current = [e for e in events if e.ts is None or e.ts >= floor]
        outcome = (
            await self._record(user_id, current, epoch) if current else EventsOutcome(0, 0, {})
        )
        if len(current) < len(events):
            old = len(events) - len(current)
            reasons = dict(sorted({**outcome.reasons, TOO_OLD: old}.items()))
            outcome = EventsOutcome(outcome.stored, outcome.ignored + old, reasons)
        counts = self.counts
        if outcome.stored:
            counts["stored", ""] = counts.get(("stored", ""), 0) + outcome.stored
        for reason, count in outcome.reasons.items():
            counts["ignored", reason] = counts.get(("ignored", reason), 0) + count
        return outcome

    async def _record(
        self, user_id: str, events: Sequence[Event], epoch: int | None
    ) -> EventsOutcome:
        ignored: dict[str, int] = {}
        settings = (
            (await self.profiles.get(user_id)).settings
            if self.profiles is not None
            else await self.users.get_settings(user_id)
        )
        if settings.personalization == 0:
            return await self.record_faults(user_id, events, settings)
        keyed: list[Event] = []
        counters: dict[int, CounterKey] = {}  # id() of a keyed event -> its telemetry counter
        for event in events:
            counter, why = self.counter(user_id, event, settings)
            if counter is None and event.kind in ("impression", "render_error"):
                ignored[why] = ignored.get(why, 0) + 1
                continue
            key, why = (
                self.pages.event_key(event.page, event.component)
                if event.kind != "render_error"
                else (None, "")
            )
            if key is None and (counter is None or event.kind == "click"):
                ignored[why] = ignored.get(why, 0) + 1  # a tap on a note is no preference
                continue
            item = msgspec.structs.replace(event, component=key or "")
            keyed.append(item)
            if counter is not None:
                counters[id(item)] = counter
        now = time.time()
        fresh: list[Event] = []

        def attribute(folded: Sequence[Event]) -> list[Conversion]:
            fresh[:] = folded  # the store may retry: the last attempt's events are the ones
            return self.conversions(user_id, folded, now, settings.screen_reader)

        try:
            recorded = await self.users.record_batch(
                user_id, keyed, now, epoch, attribute, self.served_check(now)
            )
        except ErasedMeanwhile:
            ignored["erased"] = len(keyed)
            return EventsOutcome(0, len(events), dict(sorted(ignored.items())))
        if recorded.stored:
            await self.telemetry.add_counts(
                tally(counters[id(e)] for e in fresh if id(e) in counters)
            )
        if recorded.duplicates:
            ignored["duplicate"] = recorded.duplicates
        off = len(keyed) - recorded.stored - recorded.duplicates
        if off:  # the store saw personalization off (a concurrent PUT)
            ignored["personalization_off"] = off
        stored = recorded.stored
        return EventsOutcome(stored, len(events) - stored, dict(sorted(ignored.items())))

    async def epoch(self, user_id: str) -> int:
        """The user's erasure epoch as a write request begins: their serving profile's
        (cached: current as of the last invalidation, and an erase always invalidates; else
        read and cached). Raises StoreUnavailable."""
        if self.profiles is None:
            return await self.users.erasure_epoch(user_id)
        return (await self.profiles.get(user_id)).epoch

    def served_check(self, now: float) -> ServedCheck | None:
        """Whether a batch changes what the user may be served (`engine.served_inputs`); None
        (always invalidate) without a policy."""
        policy = self.policy
        if policy is None:
            return None
        return lambda before, after: changes_served(before, after, now, policy)

    async def record_faults(
        self, user_id: str, events: Sequence[Event], settings: Settings
    ) -> EventsOutcome:
        """Personalization off: only render errors are counted (see the module docstring)."""
        ignored: dict[str, int] = {}
        counters: list[CounterKey] = []
        for event in events:
            counter, why = self.counter(user_id, event, settings)
            if event.kind != "render_error":
                why = "personalization_off"
            if counter is None or event.kind != "render_error":
                ignored[why] = ignored.get(why, 0) + 1
            else:
                counters.append(counter)
        await self.telemetry.add_counts(tally(counters))
        return EventsOutcome(
            len(counters), len(events) - len(counters), dict(sorted(ignored.items()))
        )

    def counter(
        self, user_id: str, event: Event, settings: Settings
    ) -> tuple[CounterKey | None, str]:
        """(the telemetry counter the event adds to, or None; why not). Kinds that are not
        telemetry (`view`, `convert`) have none."""
        if event.kind not in TELEMETRY_KINDS:
            return None, "not_telemetry"
        version, why = self.pages.drawn(user_id, event.page, event.component, event.version)
        if version is None:
            return None, why
        mode = event.mode or FORCED_MODE.get(settings.elderly_mode, UNKNOWN_MODE)
        return CounterKey(event.page, version, event.component, mode, event.kind), why

    def conversions(
        self, user_id: str, events: Sequence[Event], now: float, screen_reader: bool = False
    ) -> list[Conversion]:
        """Convert events on pages running an experiment, at their time (`ts`, clamped to
        `now`). The store attributes each by the user's exposure markers: to every variant
        the user was served before it, none when dated before the first exposure, held while
        the marker is still being written (`engine.activity.attribute`). `user_id` names
        whose events they are: during a staged rollout, the experiment is that of the version
        the user is served (`LivePage.pick`). Each
        conversion's key is its event's id, else one made here: the store counts a key once.

        During a staged rollout a convert also counts for the rollout's arm experiment
        (`engine.guardrails.arm_experiment`; and its screen-reader twin for a screen-reader
        user), under the key with a suffix (keys are remembered per user, not per experiment)."""
        out: list[Conversion] = []
        batch = secrets.token_hex(6)  # identifies this batch's conversions (no event id)
        for event in events:
            if event.kind != "convert":
                continue
            live = self.pages.pages.get(event.page)
            if live is None:
                continue
            key = getattr(event, "id", None) or f"{batch}:{len(out)}"
            ts, value = event_time(event.ts, now), event.value or 0.0
            # The version this user is served: during a staged rollout the users who keep the
            # previous version were exposed to its experiment, not the new one's.
            experiment = live.pick(user_id).compiled.experiment
            if experiment is not None:
                out.append(Conversion(experiment, ts, value, key))
            rollout = live.rollout
            if rollout is not None:
                arms = arm_experiment(rollout.page, rollout.started, rollout.percent)
                out.append(Conversion(arms, ts, value, f"{key}\x1farm"))
                if screen_reader:
                    sr = arms + SCREEN_READER
                    out.append(Conversion(sr, ts, value, f"{key}\x1fsr"))
        return out
