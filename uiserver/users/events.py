"""Behaviour events as clients send them: which are stored, which are ignored and why, and the
conversions they count for experiments.

Only events on interactive components of live pages are stored, under the key the engine reads
(the component's category, else `page/id`); the rest are counted by reason (`unknown_page`,
`unknown_component`, `not_interactive`), all of them when the user switched personalization off
(`personalization_off`), and none when the user was erased after the request began (`erased`).
An event whose `id` the store has seen (a resent batch) is `duplicate` (`store.event_ids`): the
store folds a batch, remembers its ids and counts its conversions in one transaction.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Sequence

import msgspec

from uiserver.engine.affinity import event_time
from uiserver.schema import Event
from uiserver.serving.pages import LivePages
from uiserver.store.base import ActivityStore, Conversion, ErasedMeanwhile, UserStore


class EventsOutcome(msgspec.Struct, frozen=True):
    """What `POST /v1/me/events` did with a batch: stored, ignored, and ignored by reason."""

    stored: int
    ignored: int
    reasons: dict[str, int]


class EventIntake:
    """Events filtered by the live pages, folded by the store, conversions counted.

    intake = EventIntake(store, live_pages)
    outcome = await intake.record(user_id, batch.events, epoch)
    """

    def __init__(self, users: UserStore, activity: ActivityStore, pages: LivePages) -> None:
        self.users = users
        self.activity = activity
        self.pages = pages
        # (outcome, reason) -> events so far: ("stored", "") and ("ignored", reason); read by
        # /metrics as `uiserver_events_total` (reasons come from a fixed set).
        self.counts: dict[tuple[str, str], int] = {}

    async def record(
        self, user_id: str, events: Sequence[Event], epoch: int | None = None
    ) -> EventsOutcome:
        """Store what may be stored (the store folds it into affinities and counters) and say
        what was ignored. `epoch`: the user's erasure epoch when the request began; events
        from before an erase are not kept. Raises StoreUnavailable."""
        outcome = await self._record(user_id, events, epoch)
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
        settings = await self.users.get_settings(user_id)
        if settings.personalization == 0:
            if events:
                ignored["personalization_off"] = len(events)
            return EventsOutcome(0, len(events), ignored)
        keyed = []
        for event in events:
            key, why = self.pages.event_key(event.page, event.component)
            if key is None:
                ignored[why] = ignored.get(why, 0) + 1
            else:
                keyed.append(msgspec.structs.replace(event, component=key))
        now = time.time()
        try:
            recorded = await self.users.record_batch(
                user_id, keyed, now, epoch, lambda fresh: self.conversions(user_id, fresh, now)
            )
        except ErasedMeanwhile:
            ignored["erased"] = len(keyed)
            return EventsOutcome(0, len(events), dict(sorted(ignored.items())))
        if recorded.duplicates:
            ignored["duplicate"] = recorded.duplicates
        off = len(keyed) - recorded.stored - recorded.duplicates
        if off:  # the store saw personalization off (a concurrent PUT)
            ignored["personalization_off"] = off
        stored = recorded.stored
        return EventsOutcome(stored, len(events) - stored, dict(sorted(ignored.items())))

    def conversions(self, user_id: str, events: Sequence[Event], now: float) -> list[Conversion]:
        """Convert events on pages running an experiment, at their time (`ts`, clamped to
        `now`). The store attributes each by the user's exposure markers: to every variant
        the user was served before it, none when dated before the first exposure, held while
        the marker is still being written (`engine.activity.attribute`). `user_id` names
        whose events they are: during a staged rollout, the experiment is that of the version
        the user is served (`LivePage.pick`). Each
        conversion's key is its event's id, else one made here: the store counts a key once."""
        out: list[Conversion] = []
        batch = secrets.token_hex(6)  # identifies this batch's conversions (no event id)
        for event in events:
            if event.kind != "convert":
                continue
            live = self.pages.pages.get(event.page)
            # The version this user is served: during a staged rollout the users who keep the
            # previous version were exposed to its experiment, not the new one's.
            experiment = None if live is None else live.pick(user_id).compiled.experiment
            if experiment is None:
                continue
            key = getattr(event, "id", None) or f"{batch}:{len(out)}"
            out.append(Conversion(experiment, event_time(event.ts, now), event.value or 0.0, key))
        return out
