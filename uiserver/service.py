"""The composition root: one `Service` per process wires the parts and owns their lifecycle.

Callers hold the part they need; nothing reaches into the store around them.

    engine     Engine           the pure pipeline (`uiserver.engine`)
    breaker    StoreBreaker     degraded mode: when serving may ask a failing store again
    live       LivePages        page -> live template version, compiled once, kept in sync
    publisher  Publisher        lint-gated publish, rollback, rollouts, archive, history, preview
    cache      LayoutCache      encoded bodies by fingerprint and the per-request memo
    loader     ProfileLoader    the profile cache in front of the store, race-free loads
    recorder   ActivityRecorder launch counters and exposures, written in the background
    server     LayoutServer     the hot path: memo -> body cache -> render
    users      UserData         settings, export, erasure, segments
    events     EventIntake      behaviour events filtered, stored, conversions counted
    drafts     DraftStore       designers' drafts (the store's draft role)
    counts     ActivityStore    experiment counts for the readout (the store's activity role)
    telemetry  BufferedTelemetry impressions, taps, render errors per component (counters,
                                written behind in groups)
    capabilities Capabilities   what clients can draw, kill switches, renderers seen
    revocations Revocations     revoked tokens, in memory, kept current by invalidations
    sessions   ConsoleSessions  designer console sessions (the store's session role)
    audit      AuditLog         administrative acts (templates and drafts through the
                                `audit.acts` roles; the others where they are made)
    scheduler  Scheduler        rollout schedules and their guardrails, looked at in the
                                background; `scheduler.observers` hears every rollout act
    outbox     Outbox           webhooks: each audit entry delivered, signed, in order

Invalidation: every store write that changes a layout input emits an Invalidation to the
store's listeners, in this process after commit and in every other process sharing the store.
`Service.invalidate` is the one listener; it is the only place caches are dropped, so each
write invalidates exactly once. Nothing here knows about HTTP.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Coroutine, Mapping
from dataclasses import dataclass
from typing import Any

from uiserver.audit.acts import AuditedDrafts, AuditedTemplates, record_policy
from uiserver.audit.log import AuditLog
from uiserver.audit.outbox import Outbox
from uiserver.auth.revocations import Revocations
from uiserver.auth.sessions import ConsoleSessions, SessionPolicy
from uiserver.auth.tokens import Lifetimes
from uiserver.catalog import Catalog, LoadError
from uiserver.config import Config
from uiserver.datastructures import Generation
from uiserver.engine import Engine
from uiserver.policy import Policy
from uiserver.publishing.filesync import FileConflict
from uiserver.publishing.publisher import Publisher
from uiserver.publishing.rollouts import Scheduler
from uiserver.publishing.rollouts.scheduler import telemetry_source
from uiserver.schema import Template
from uiserver.serving.breaker import StoreBreaker
from uiserver.serving.cache import LayoutCache
from uiserver.serving.capabilities import Capabilities
from uiserver.serving.layouts import LayoutServer
from uiserver.serving.pages import LivePages
from uiserver.serving.profiles import ProfileLoader
from uiserver.serving.recorder import ActivityRecorder
from uiserver.store.base import (
    ActivityStore,
    DraftStore,
    Invalidation,
    Store,
    StoreUnavailable,
)
from uiserver.tasks import bounded, stop
from uiserver.users.data import UserData
from uiserver.users.events import EventIntake
from uiserver.users.telemetry import BufferedTelemetry

log = logging.getLogger("uiserver")

# The time limit of each step of `Service.close` (seconds): a step that overruns is logged (a
# WARNING naming it) and left, and the next step comes, the store's close last in any case, so
# no shutdown hangs a process or a test. A healthy step takes milliseconds (a store write or
# two); a few seconds leave room for a slow store under load.
CLOSE_STEP_S = 5.0


@dataclass(frozen=True, slots=True)
class Readiness:
    """What `/readyz` reports: the store answers, this process hears other replicas'
    invalidations, templates are loaded."""

    store: bool
    invalidations: bool
    templates: list[str]
    ready: bool
    file_conflicts: list[FileConflict]  # files not published at start (the live one kept)
    file_errors: tuple[LoadError, ...] = ()  # files of components/ and layouts/ not loaded
    # Pages the store lost (a Redis that came back empty), served from this process's copy
    # until they are republished: not ready meanwhile.
    templates_lost: tuple[str, ...] = ()


class Service:
    """Every part of one process, wired once (see the module docstring for the parts).

    service = Service(config, open_store(config.store_url, config.data_dir), catalog, policy)
    await service.start(file_templates)
    served = await service.server.layout(user_id, "home", query, context)
    await service.close()
    """

    def __init__(self, config: Config, store: Store, catalog: Catalog, policy: Policy) -> None:
        self.config = config
        self.store = store
        self.catalog = catalog
        self.policy = policy
        self.engine = Engine(catalog, policy)
        self.breaker = StoreBreaker()
        self.audit = AuditLog(store.audit, config.audit_retention)
        self.outbox = Outbox(
            store.webhooks,
            store.audit,
            allow_private=config.webhook_allow_private,
            timeout=config.webhook_timeout,
        )
        self.audit.listeners.append(self.outbox.wake)
        # What the RSGI edge's table of warm answers is trusted under (`http.rsgi`): bumped by
        # every invalidation but a user's (below), every page reload and every revocation.
        self.generation = Generation()
        self.live = LivePages(store.templates, store, self.engine, self.breaker, self.generation)
        templates = AuditedTemplates(store.templates, self.audit)
        self.publisher = Publisher(templates, catalog, policy, self.engine, self.live)
        self.cache = LayoutCache(
            config.layout_cache_size,
            config.request_cache_size,
            personal_size=config.personal_memo_size,
        )
        self.loader = ProfileLoader(store.users, config.profile_cache_size, self.cache.requests)
        self.recorder = ActivityRecorder(store.activity, config.activity_flush_s)
        self.server = LayoutServer(
            store.users,
            self.engine,
            policy,
            self.live,
            self.loader,
            self.cache,
            self.breaker,
            self.recorder,
        )
        self.users = UserData(store.users, policy)
        # Taps, impressions and render errors: folded here, written behind in groups.
        self.telemetry = BufferedTelemetry(store.telemetry, config.activity_flush_s)
        self.events = EventIntake(
            store.users, store.activity, self.live, self.telemetry, policy, self.loader
        )
        self.drafts: DraftStore = AuditedDrafts(store.drafts, self.audit)
        self.counts: ActivityStore = store.activity
        self.capabilities = Capabilities(catalog.types, store.capabilities, config.activity_flush_s)
        self.lifetimes = Lifetimes(config.token_max_lifetime, config.designer_token_max_lifetime)
        self.revocations = Revocations(
            store.poll, lambda: store.revocations.revocations(time.time()), self.generation
        )
        self.sessions = ConsoleSessions(
            store.sessions,
            self.revocations,
            SessionPolicy(config.session_idle, config.session_max, config.session_rotate),
        )
        self.scheduler = Scheduler(
            store.schedules,
            self.publisher,
            store.activity,
            interval=config.schedule_interval_s,
            render=telemetry_source(self.telemetry),
        )
        self.scheduler.observers.append(self.audit.rollout_act)
        self.ready = False
        self.background: list[asyncio.Task[None]] = []
        self.close_step_s = CLOSE_STEP_S  # each step of `close`, at most (tests shorten it)
        # Files skipped at start (too large, not a regular file, malformed): shown by /readyz.
        self.file_errors: tuple[LoadError, ...] = ()
        store.add_listener(self.invalidate)

    async def start(
        self,
        file_templates: Mapping[str, Template] | None = None,
        file_bases: Mapping[str, str] | None = None,
    ) -> None:
        """Open the store, publish changed files from `layouts/` (`publishing.filesync`: never
        over a console publish), load every live page."""
        await self.store.open()
        try:
            await self.revocations.reload()
        except StoreUnavailable as exc:  # keep trying in the background (degraded mode)
            log.warning("revocations could not be read at start (%s); retrying", exc)
            self.revocations.heard(Invalidation("all"))
        try:
            await self.capabilities.reload()
        except StoreUnavailable as exc:  # read again before the first capability resolves
            log.warning("kill switches could not be read at start (%s); retrying", exc)
        try:
            source = str(self.config.policy_path or "uiserver/policy.json (shipped)")
            await record_policy(self.audit, self.policy, source)
        except StoreUnavailable as exc:
            log.warning("the policy in force could not be checked against the audit log (%s)", exc)
        await self.publisher.publish_files(file_templates or {}, file_bases)
        await self.live.reload()
        self._background(self.audit.keep_pruning(), "audit pruning")
        if self.config.schedule_interval_s > 0:
            self._background(self.scheduler.run(), "rollout scheduler")
        self._background(self.outbox.run(), "webhook delivery")
        self._background(self.loader.keep_refreshing(), "profile refresh")
        self.ready = True

    def _background(self, work: Coroutine[Any, Any, None], name: str) -> None:
        self.background.append(asyncio.create_task(work, name=name))

    async def close(self) -> None:
        """Stop the background tasks, finish the background writes (served orders, launch
        counters, telemetry), then close the store. Each step takes `close_step_s` seconds at
        most (`uiserver.tasks.bounded`): one that overruns or fails is logged, naming it, and
        the next step comes, the store's close last in any case; a failed write loses its
        batch of counters, it never keeps the store open."""
        within = self.close_step_s
        await self._stop_background()
        await bounded(self.server.drain(), "layout order writes", within)
        await bounded(self.recorder.close(), "activity counters", within)
        await bounded(self.telemetry.close(), "telemetry counters", within)
        await bounded(self.revocations.close(), "revocation reload", within)
        await bounded(self.capabilities.close(), "renderer counters", within)
        await bounded(self.store.close(), "store", within)

    async def _stop_background(self) -> None:
        """Stop the background tasks (audit pruning, rollout scheduler, webhook delivery,
        profile refresh) together, cancelled again if a cancel is lost (`uiserver.tasks`),
        `close_step_s` at most: one still running then is logged by name and left behind.
        Another loop's (the same service started twice, as tests do) are cancelled on their
        own loop."""
        loop = asyncio.get_running_loop()
        tasks, self.background = self.background, []
        for task in tasks:
            if task.get_loop() is not loop:
                task.get_loop().call_soon_threadsafe(task.cancel)
        await asyncio.gather(
            *(
                bounded(stop(task), f"background task {task.get_name()}", self.close_step_s)
                for task in tasks
                if task.get_loop() is loop
            )
        )

    async def readiness(self) -> Readiness:
        """Ready when the store answers, invalidations are heard, templates are loaded and the
        store has every one this process serves. Pages the store lost are republished from the
        last-known-good copy here too (`LivePages.restore`), so a probe alone repairs them."""
        store_ok = await self.store.ping()
        if store_ok:
            # Every probe compares the pages served with the store's: a Redis emptied while
            # connected (FLUSHALL, a failover to an empty replica without a reconnect) sends no
            # invalidation and no resubscription, so nothing else would look (it stayed ready,
            # the templates gone from the store for good). One read of the page states.
            self.live.mark_all()
            await self.live.sync()
        listening = self.store.subscribed
        lost = tuple(sorted(self.live.lost))
        ready = store_ok and listening and self.ready and bool(self.live.pages) and not lost
        conflicts = list(self.publisher.file_conflicts.values())
        pages = sorted(self.live.pages)
        return Readiness(store_ok, listening, pages, ready, conflicts, self.file_errors, lost)

    def invalidate(self, message: Invalidation) -> None:
        """The store listener: drop exactly what the change affects.

        Every message but a user's bumps `generation`; a user's drops the user's profile and
        memo entries, which the warm answers of that user are checked against (identity) on
        every use, so one user's events do not make every other user's answers cold."""
        if message.kind != "user":
            self.generation.bump()
        if message.kind == "template":
            self.live.mark_dirty(message.key)
        elif message.kind == "user":
            self.loader.drop(message.key)
            self.cache.drop_user(message.key)
        elif message.kind == "revocation":
            self.revocations.heard(message)  # no cached layout depends on a token
        else:
            # A (re)subscription or a bulk change: revalidate templates, reload every profile,
            # and try the store again at once (it just answered the subscriber).
            self.live.mark_all()
            self.revocations.heard(message)
            self.capabilities.heard()  # a kill switch may have changed
            self.breaker.answered()
            self.loader.clear()
            self.cache.requests.clear()
