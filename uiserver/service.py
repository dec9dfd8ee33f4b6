"""The application core between the HTTP edge and the pure engine: one `Service` per process.

`Service` composes small parts and is the only thing the HTTP layer and the commands call; no
handler touches the store directly.

    breaker.py     StoreBreaker    degraded mode: when serving may ask a failing store again
    pages.py       LivePages       page -> live template version, compiled once, kept in sync
    publishing.py  Publisher       lint-gated publish, rollback, files at start, history
    profiles.py    ProfileLoader   profile cache in front of the store, race-free loads
    serving.py     LayoutServer    the hot path: memo -> body cache -> render
    service.py     Service         composition, invalidation, users' data, readiness

Invalidation: every store write that changes a layout input emits an Invalidation to the
store's listeners, in this process after commit and in every other process sharing the store.
`Service.invalidate` is the one listener; it is the only place caches are dropped, so each
write invalidates exactly once. Nothing here knows about HTTP.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import msgspec

from uiserver.catalog import Catalog
from uiserver.config import Config
from uiserver.engine import Engine
from uiserver.engine.activity import day_of
from uiserver.engine.affinity import event_time
from uiserver.engine.plan import user_segments
from uiserver.engine.readout import ExperimentReadout, readout
from uiserver.engine.variant import choose_variant
from uiserver.policy import Policy
from uiserver.publishing.filesync import FileConflict
from uiserver.publishing.publisher import FILE_AUTHOR, Publisher, PublishRefused, UnknownVersion
from uiserver.schema import Activity, Context, Event, Layout, Problem, Profile, Settings, Template
from uiserver.serving.breaker import StoreBreaker
from uiserver.serving.cache import LayoutCache, ProfileCache
from uiserver.serving.layouts import LayoutServer, Served, today
from uiserver.serving.pages import LivePage, LivePages, UnknownPage
from uiserver.serving.profiles import ProfileLoader
from uiserver.serving.recorder import ActivityRecorder
from uiserver.store.base import (
    Archived,
    Conversion,
    ErasedMeanwhile,
    Invalidation,
    PageState,
    PublishOptions,
    Rollout,
    Store,
    TemplateRecord,
)

log = logging.getLogger("uiserver")

__all__ = [
    "FILE_AUTHOR",
    "EventsOutcome",
    "LivePage",
    "PublishRefused",
    "Readiness",
    "Served",
    "Service",
    "UnknownPage",
    "UnknownVersion",
]


class EventsOutcome(msgspec.Struct, frozen=True):
    """What `POST /v1/me/events` did with a batch: stored, ignored, and ignored by reason."""

    stored: int
    ignored: int
    reasons: dict[str, int]


@dataclass(frozen=True, slots=True)
class Readiness:
    """What `/readyz` reports: the store answers, this process hears other replicas'
    invalidations, templates are loaded."""

    store: bool
    invalidations: bool
    templates: list[str]
    ready: bool
    file_conflicts: list[FileConflict]  # files not published at start (the live one kept)


class Service:
    """Templates, profiles, layouts and users' data for one process.

    Serving:    `layout(user_id, page, query, context) -> Served` (the hot path; raises
                UnknownPage), `sync()`, `page(name) -> LivePage`, `pages`.
    Templates:  `lint`, `decode_template`, `publish`, `rollback`, `history`, `version`,
                `preview`.
    Users:      `write_epoch`, `get_settings`, `put_settings`, `update_settings`,
                `record_events`, `export_user`, `erase`, `put_segments`. A user write takes
                the epoch read when its request began (`write_epoch`) and raises
                ErasedMeanwhile if the user was erased since (`uiserver.store.base`).
    Store I/O raises StoreUnavailable everywhere except `layout` (which degrades instead).
    """

    def __init__(self, config: Config, store: Store, catalog: Catalog, policy: Policy) -> None:
        self.config = config
        self.store = store
        self.catalog = catalog
        self.policy = policy
        self.engine = Engine(catalog, policy)
        self.breaker = StoreBreaker()
        self.live = LivePages(store, self.engine, self.breaker)
        self.publisher = Publisher(store, catalog, policy, self.engine, self.live)
        self.cache = LayoutCache(config.layout_cache_size, config.request_cache_size)
        self.loader = ProfileLoader(store, config.profile_cache_size, self.cache.requests)
        self.recorder = ActivityRecorder(store, config.activity_flush_s)
        self.server = LayoutServer(
            store,
            self.engine,
            policy,
            self.live,
            self.loader,
            self.cache,
            self.breaker,
            self.recorder,
        )
        # The hot path calls the server directly: no extra frame per request.
        self.layout = self.server.layout
        self.sync = self.live.sync
        self.page = self.live.page
        self.ready = False
        store.add_listener(self.invalidate)

    @property
    def pages(self) -> dict[str, LivePage]:
        """page -> LivePage currently serving."""
        return self.live.pages

    @property
    def profiles(self) -> ProfileCache:
        """The cached profiles by user id."""
        return self.loader.cache

    @property
    def stats(self) -> dict[str, int]:
        """Serving counters: hits, misses, renders, degraded."""
        return self.server.stats

    # ------------------------------------------------------------------ lifecycle

    async def start(
        self,
        file_templates: Mapping[str, Template] | None = None,
        file_bases: Mapping[str, str] | None = None,
    ) -> None:
        """Open the store, publish changed files from `layouts/` (`uiserver.filesync`: never
        over a console publish), load every live page."""
        await self.store.open()
        await self.publisher.publish_files(file_templates or {}, file_bases)
        await self.live.reload()
        self.ready = True

    async def close(self) -> None:
        try:
            await self.recorder.close()
        except Exception:  # never keep the store open over a lost batch of counters
            log.exception("writing pending activity on close failed")
        await self.store.close()

    async def readiness(self) -> Readiness:
        """Ready when the store answers, invalidations are heard and templates are loaded."""
        store_ok = await self.store.ping()
        listening = self.store.subscribed
        ready = store_ok and listening and self.ready and bool(self.live.pages)
        conflicts = list(self.publisher.file_conflicts.values())
        return Readiness(store_ok, listening, sorted(self.live.pages), ready, conflicts)

    def invalidate(self, message: Invalidation) -> None:
        """The store listener: drop exactly what the change affects."""
        if message.kind == "template":
            self.live.mark_dirty(message.key)
        elif message.kind == "user":
            self.loader.drop(message.key)
            self.cache.drop_user(message.key)
        else:
            # A (re)subscription or a bulk change: revalidate templates, reload every profile,
            # and try the store again at once (it just answered the subscriber).
            self.live.mark_all()
            self.breaker.answered()
            self.loader.clear()
            self.cache.requests.clear()

    # ------------------------------------------------------------------ templates

    def lint(self, template: Template) -> list[Problem]:
        return self.publisher.lint(template)

    def decode_template(self, data: Any) -> tuple[Template | None, list[Problem]]:
        """A template from a parsed JSON document, or the problems that prevent it."""
        return self.publisher.decode_template(data)

    async def publish(
        self,
        page: str,
        template: Template,
        author: str,
        message: str,
        options: PublishOptions | None = None,
    ) -> TemplateRecord:
        """Lint, then store a new live (or staged) version; raises PublishRefused,
        TemplateConflict, StoreUnavailable."""
        return await self.publisher.publish(page, template, author, message, options)

    async def rollback(
        self, page: str, version: str, author: str, options: PublishOptions | None = None
    ) -> TemplateRecord:
        """Republish an earlier version; raises UnknownVersion, PublishRefused,
        TemplateConflict."""
        return await self.publisher.rollback(page, version, author, options)

    async def set_rollout(self, page: str, percent: int, author: str) -> Rollout:
        """Widen or narrow the running rollout (1..100); raises NoRollout."""
        return await self.publisher.set_rollout(page, percent, author)

    async def end_rollout(
        self, page: str, outcome: Literal["promote", "abort"], author: str
    ) -> TemplateRecord:
        """Promote or abort the running rollout; raises NoRollout."""
        return await self.publisher.end_rollout(page, outcome, author)

    async def archive(self, page: str, author: str) -> Archived:
        """Archive the page (clients get 404, history kept); KeyError: never published."""
        return await self.publisher.archive(page, author)

    async def state(self, page: str) -> PageState | None:
        """The page as stored, archived or not; None when never published."""
        return await self.publisher.state(page)

    async def history(self, page: str) -> list[TemplateRecord]:
        """Every version of the page, newest first (empty: no such page)."""
        return await self.publisher.history(page)

    async def version(self, page: str, version: str) -> TemplateRecord | None:
        """The newest history entry of that version, or None."""
        return await self.publisher.version(page, version)

    def preview(
        self, template: Template, version: str, profile: Profile, context: Context
    ) -> Layout:
        """A layout (not encoded) for a persona, from a live or draft template."""
        return self.publisher.preview(template, version, profile, context, today())

    # ------------------------------------------------------------------ users

    async def get_settings(self, user_id: str) -> Settings:
        return await self.store.get_settings(user_id)

    async def write_epoch(self, user_id: str) -> int:
        """The user's erasure epoch now: read when a write request begins, passed to the write,
        so a request in flight during an erase stores nothing."""
        return await self.store.erasure_epoch(user_id)

    async def put_settings(
        self, user_id: str, settings: Settings, epoch: int | None = None
    ) -> None:
        await self.store.put_settings(user_id, settings, epoch)

    async def update_settings(
        self, user_id: str, update: Callable[[Settings], Settings], epoch: int | None = None
    ) -> Settings:
        """Read-modify-write of the settings in one store transaction; what was stored."""
        return await self.store.update_settings(user_id, update, epoch)

    async def record_events(
        self, user_id: str, events: Sequence[Event], epoch: int | None = None
    ) -> EventsOutcome:
        """Fold events into affinities under the key the engine reads (category, else page/id).

        Only events on interactive components of live pages are stored; the rest are counted by
        reason (`unknown_page`, `unknown_component`, `not_interactive`; `personalization_off`
        for the whole batch when the user switched personalization off; `erased` when the user
        was erased after the request began (`epoch`): events from before an erase are not kept).
        """
        ignored: dict[str, int] = {}
        settings = await self.store.get_settings(user_id)
        if settings.personalization == 0:
            if events:
                ignored["personalization_off"] = len(events)
            return EventsOutcome(0, len(events), ignored)
        keyed = []
        for event in events:
            key, why = self.live.event_key(event.page, event.component)
            if key is None:
                ignored[why] = ignored.get(why, 0) + 1
            else:
                keyed.append(msgspec.structs.replace(event, component=key))
        try:
            stored = (
                await self.store.record_events(user_id, keyed, time.time(), epoch) if keyed else 0
            )
        except ErasedMeanwhile:
            ignored["erased"] = len(keyed)
            return EventsOutcome(0, len(events), dict(sorted(ignored.items())))
        if stored:
            conversions = self._conversions(user_id, keyed, time.time())
            if conversions:
                await self.store.record_conversions(user_id, conversions)
        if stored < len(keyed):  # the store saw personalization off (a concurrent PUT)
            ignored["personalization_off"] = len(keyed) - stored
        return EventsOutcome(stored, len(events) - stored, dict(sorted(ignored.items())))

    def _conversions(self, user_id: str, events: Sequence[Event], now: float) -> list[Conversion]:
        """Convert events on pages running an experiment, attributed to the user's sticky
        variant (the store counts them only if the user was exposed to it)."""
        out = []
        for event in events:
            if event.kind != "convert":
                continue
            live = self.live.pages.get(event.page)
            experiment = None if live is None else live.compiled.experiment
            if live is None or experiment is None:
                continue
            ct = live.compiled
            variant = choose_variant(user_id, experiment, ct.variant_weights)
            if variant is not None:
                day = day_of(event_time(event.ts, now))
                out.append(Conversion(experiment, variant, day, event.value or 0.0))
        return out

    async def flush_activity(self) -> None:
        """Write pending launch counters and exposures now (they are batched in the background)."""
        await self.recorder.flush()

    def segments_of(self, profile: Profile) -> list[str]:
        """Every segment the user is in today: imported + computed (sorted)."""
        return sorted(user_segments(profile, today(), self.policy))

    async def experiment(self, page: str) -> ExperimentReadout:
        """The readout of the page's experiment (empty without one). Raises UnknownPage."""
        await self.sync()
        live = self.live.pages.get(page)
        if live is None:
            raise UnknownPage(page)
        template = live.template
        weights = [(v.name, v.weight) for v in template.variants]
        if template.experiment is None or not weights:
            return readout(page, None, [], [])
        counts = await self.store.experiment_counts(
            template.experiment, [name for name, _ in weights]
        )
        return readout(page, template.experiment, weights, counts)

    async def export_user(self, user_id: str) -> dict[str, Any]:
        """Everything stored about the user, as a JSON-able document, with the segments they
        are in today (`segments`: imported; `computed_segments`: from the counters)."""
        data = await self.store.export_user(user_id)
        raw = data.get("activity")
        activity = None if raw is None else msgspec.convert(raw, Activity, strict=False)
        imported = frozenset(data.get("segments") or ())
        profile = Profile(user_id=user_id, segments=imported, activity=activity)
        data["computed_segments"] = [s for s in self.segments_of(profile) if s not in imported]
        return data

    async def erase(self, user_id: str) -> None:
        """Delete everything stored about the user; their cache entries go with it."""
        await self.store.erase_user(user_id)

    async def put_segments(self, assignments: Sequence[tuple[str, Sequence[str]]]) -> int:
        """Replace the segments of each user named; returns how many users were written."""
        return await self.store.put_segments(assignments)
