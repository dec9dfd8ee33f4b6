"""Layout serving: the encoded layout for (user, page, context) from the cheapest valid cache level.

Levels, cheapest first (see `uiserver.serving.cache`): the per-request memo (keyed by user, page and
the parsed context's canonical key; valid while its compiled template and profile are still
the current objects and the day has not changed), then the body
cache keyed by plan fingerprint, then a render. `LayoutServer.layout` is the hot path of every
launch: a warm hit is a few dict lookups and identity checks, with no allocation besides the key.
"""

from __future__ import annotations

import asyncio
import logging
import time
import traceback
from collections import defaultdict
from dataclasses import dataclass

from uiserver import tracing
from uiserver.engine import CompiledTemplate, Engine, Plan, encode_layout, plan_fingerprint
from uiserver.engine.activity import serve_cohort
from uiserver.engine.capability import annotate
from uiserver.engine.guardrails import ARMS, SCREEN_READER, arm_experiment
from uiserver.engine.plan import evidence_on, shared_key
from uiserver.engine.stability import enough_evidence
from uiserver.policy import Policy
from uiserver.schema import Context, Profile, Settings
from uiserver.serving.breaker import StoreBreaker
from uiserver.serving.cache import BodyEntry, LayoutCache, RequestEntry, SharedPlan
from uiserver.serving.pages import Drawn, LivePage, LivePages, UnknownPage
from uiserver.serving.profiles import ProfileLoader
from uiserver.serving.recorder import ActivityRecorder
from uiserver.store.base import ErasedMeanwhile, Rollout, StoreUnavailable, UserStore

log = logging.getLogger("uiserver")

# No token: the base layout adapted only to the context. Strength 0 says so in the layout's
# `personalization` block (strength 0, cap 0) and switches off every proposal, exploration
# included. Also what a user gets when the store cannot be read (degraded).
ANONYMOUS_PROFILE = Profile(settings=Settings(personalization=0.0))


@dataclass(slots=True)
class Served:
    """An encoded layout; `degraded` when it was made without the store (never cache it)."""

    entry: BodyEntry
    degraded: bool = False


def today() -> int:
    """The day number that scopes deterministic exploration (so it varies by day, not launch)."""
    return int(time.time() // 86_400)


class LayoutServer:
    """Serves layouts from the live pages, the profile cache and the layout caches.

    `stats` counts hits, misses, renders and degraded answers (exported as metrics).
    """

    def __init__(
        self,
        users: UserStore,
        engine: Engine,
        policy: Policy,
        pages: LivePages,
        profiles: ProfileLoader,
        cache: LayoutCache,
        breaker: StoreBreaker,
        recorder: ActivityRecorder,
    ) -> None:
        self.users = users
        self.engine = engine
        self.policy = policy
        self.pages = pages
        self.profiles = profiles
        self.cache = cache
        self.breaker = breaker
        self.recorder = recorder
        self.stats = {"hits": 0, "misses": 0, "renders": 0, "degraded": 0, "background_errors": 0}
        # Layouts served per (page, template version): one dict increment per request, read
        # by /metrics at scrape time.
        self.served: defaultdict[tuple[str, str], int] = defaultdict(int)
        self.background: set[asyncio.Task[None]] = set()  # last-order writes in flight
        # Bound once: the warm path pays no attribute chain for these.
        self._sync = pages.sync
        self._profile_cache = profiles.cache
        self._memo = cache.requests

    async def layout(
        self,
        user_id: str,
        page: str,
        key: bytes,
        context: Context,
        can_draw: frozenset[str] | None = None,
    ) -> Served:
        """The encoded layout for a user (`""`: anonymous). Raises UnknownPage.

        `key` is `serving.context.context_key(context)`, the memo's key for the context: the
        caller usually has it memoized with the parsed context (never the raw query string,
        which a client can make unique on every request).

        Degraded (store unreachable): a user whose profile is cached is served as usual; anyone
        else gets the base layout for the context. Degraded answers are not memoized, so the
        user's own layout comes back with the store. A template reload that failed also marks
        the answer degraded: it may be one version behind.

        `can_draw`: the types the client may be sent (`serving.capabilities`; None: every type).
        A component of another type is served as its fallback or left out
        (`LivePages.for_client`), the whole pipeline run on that; `key` must then name the
        capability too. Raises NotDrawable, LayoutRuleError when no layout of the page can be
        drawn by the client.
        """
        current = await self._sync()
        live = self.pages.pages.get(page)
        if live is None:
            raise UnknownPage(page)
        rollout = live.rollout
        new_arm = True
        if rollout is not None:
            picked = live.pick(user_id)  # the memo below is keyed by the version picked
            new_arm, live = picked is live, picked
        self.served[live.served_key] += 1
        drawn = None if can_draw is None else self.pages.for_client(live, can_draw)
        compiled = live.compiled if drawn is None else drawn.compiled
        day = today()
        memo_key = (user_id, page, key)
        profile = self._profile_cache.get(user_id) if user_id else ANONYMOUS_PROFILE
        memo = self._memo.get(memo_key)
        if (
            memo is not None
            and profile is not None
            and memo.profile is profile
            and memo.compiled is compiled
            and memo.day == day
            and memo.rollout is rollout
        ):
            self.stats["hits"] += 1
            if current:
                return Served(memo.entry)
            self.stats["degraded"] += 1
            return Served(memo.entry, True)
        degraded = not current
        if profile is None:
            if not self.breaker.may_ask():
                profile, degraded = ANONYMOUS_PROFILE, True
            else:
                try:
                    with tracing.span("store.profile"):
                        profile = await self.profiles.get(user_id)
                except StoreUnavailable as exc:
                    # The base layout for this context is always a valid answer.
                    self.breaker.failed(exc)
                    profile, degraded = ANONYMOUS_PROFILE, True
                else:
                    self.breaker.answered()
        plan, entry, personal = self._planned(live, compiled, drawn, profile, context, day, user_id)
        if degraded:
            self.stats["degraded"] += 1
            return Served(entry, True)
        self._memo.put(memo_key, RequestEntry(compiled, profile, day, entry, rollout), personal)
        if user_id:  # counters and exposures: queued here, written in the background
            self._note(profile, day, live, plan, rollout, new_arm)
        evidence = evidence_on(profile, day)
        if enough_evidence(evidence, self.policy.min_evidence) and self.breaker.healthy:
            self._remember_order(user_id, live, profile, plan, compiled)
        return Served(entry)

    def warm(self, user_id: str, page: str, key: bytes) -> BodyEntry | None:
        """The body `layout` would answer from the request memo, found without awaiting: the
        templates current (nothing to reload), the page not in a staged rollout, no capability
        (`key` as `layout` takes it), and the memo's entry valid (same compiled template and
        profile objects, same day). Counted as `layout` counts a hit. None otherwise: ask
        `layout`, which counts nothing twice since nothing was counted here."""
        found = self.warm_memo(user_id, page, key)
        if found is None:
            return None
        self.count_warm(found[1])
        return found[0].entry

    def warm_memo(
        self, user_id: str, page: str, key: bytes
    ) -> tuple[RequestEntry, LivePage] | None:
        """`warm`'s checks, counting nothing: the memo entry and the live page it is valid
        for, or None."""
        pages = self.pages
        pages.invalidations.poll()
        if pages.reload_all or pages.dirty or pages.lost:
            return None
        live = pages.pages.get(page)
        if live is None or live.rollout is not None:
            return None
        memo = self._memo.get((user_id, page, key))
        if (
            memo is None
            or memo.compiled is not live.compiled
            or memo.profile
            is not (self._profile_cache.get(user_id) if user_id else ANONYMOUS_PROFILE)
            or memo.day != today()
            or memo.rollout is not None
        ):
            return None
        return memo, live

    def count_warm(self, live: LivePage) -> None:
        """Count a warm answer of `live` as `layout` counts a memo hit."""
        self.served[live.served_key] += 1
        self.stats["hits"] += 1

    def _note(
        self,
        profile: Profile,
        day: int,
        live: LivePage,
        plan: Plan,
        rollout: Rollout | None,
        new_arm: bool,
    ) -> None:
        """Queue the user's launch, variant exposure and rollout arm (written in the
        background)."""
        new_days = self.policy.new_user_days
        cohort = serve_cohort(plan.mode, profile.activity, day, new_days)
        self.recorder.note(profile, day, live.compiled.experiment, plan.variant, cohort, new_days)
        if rollout is not None:  # the arm this user is in, for the rollout's guardrails
            self._expose_arm(profile, day, rollout, new_arm, cohort)

    def _expose_arm(
        self, profile: Profile, day: int, rollout: Rollout, new: bool, cohort: str
    ) -> None:
        """Note the rollout arm a user was served (`engine.guardrails.arm_experiment`), and
        again under the screen-reader arm experiment for screen-reader users."""
        experiment = arm_experiment(rollout.page, rollout.started, rollout.percent)
        arm = ARMS[1] if new else ARMS[0]
        days = self.policy.new_user_days
        self.recorder.expose(profile, day, experiment, arm, cohort, days)
        if profile.settings.screen_reader:
            self.recorder.expose(profile, day, experiment + SCREEN_READER, arm, cohort, days)

    def _planned(
        self,
        live: LivePage,
        compiled: CompiledTemplate,
        drawn: Drawn | None,
        profile: Profile,
        context: Context,
        day: int,
        user_id: str = "",
    ) -> tuple[Plan, BodyEntry, bool]:
        """The plan, its body, and whether it was planned for this user alone: shared with
        every user of the same inputs (`shared_key`, plus what the client can draw) when the
        user's affinities move nothing, else planned for this user. A shared plan is used only
        while its compiled template is the one being served (identity)."""
        key = shared_key(compiled, profile, context, day, self.policy)
        if key is not None:
            key = (*key, None if drawn is None else drawn.fingerprint)
            shared = self.cache.plans.get(key)
            if shared is not None and shared.compiled is compiled:
                # Its body (a hit), unless the body cache evicted it since: then rendered again.
                return (
                    shared.plan,
                    self._render(live, shared.plan, drawn, shared.fingerprint),
                    False,
                )
        with tracing.span("engine.plan", page=compiled.page):
            plan = self.engine.plan(compiled, profile, context, day=day)
        fingerprint = self._fingerprint(live, plan, drawn)
        entry = self._render(live, plan, drawn, fingerprint, None if key is not None else user_id)
        if key is not None:
            self.cache.plans[key] = SharedPlan(compiled, plan, fingerprint)
        return plan, entry, key is None

    @staticmethod
    def _fingerprint(live: LivePage, plan: Plan, drawn: Drawn | None) -> bytes:
        # A client that cannot draw every type shares bodies with every client that gets the
        # same substitutions, never with one that gets others (the fingerprint names them).
        version = live.record.version if drawn is None else drawn.fingerprint
        return plan_fingerprint(version, plan)

    def _render(
        self,
        live: LivePage,
        plan: Plan,
        drawn: Drawn | None = None,
        fingerprint: bytes | None = None,
        planned_for: str | None = None,
    ) -> BodyEntry:
        """The body of `plan` by its fingerprint (computed when not given): from the body
        cache, else (`planned_for` a user id: planned for that user alone) from the personal
        bodies memo entries hold, else rendered and encoded. A shared plan's body (None) is
        kept in the body cache; a personal one only once another user than the first is
        planned it (`LayoutCache.personal`, `LayoutCache.seen`), until then held by its user's
        memo entry alone: the same user planned it again (a profile change that moved nothing,
        a degraded answer) is still one user."""
        if fingerprint is None:
            fingerprint = self._fingerprint(live, plan, drawn)
        cache = self.cache
        entry = cache.bodies.get(fingerprint)
        first = who = None
        if entry is None and planned_for is not None:
            # Users told apart by a hash: `seen` holds no user id (erasure leaves none behind).
            who = hash(planned_for)
            first = cache.seen.get(fingerprint)
            entry = cache.personal.get(fingerprint)
            if entry is not None:
                if first is None:  # `seen` let it go: its first user from now on
                    cache.seen[fingerprint] = who
                elif first != who:  # a second user's plan: shared after all
                    cache.bodies[fingerprint] = entry
        if entry is not None:
            self.stats["hits"] += 1
            return entry
        self.stats["misses"] += 1
        self.stats["renders"] += 1
        with tracing.span("engine.render"):
            if drawn is None:
                layout = self.engine.render(live.compiled, plan)
            else:
                layout = annotate(self.engine.render(drawn.compiled, plan), drawn.substitutions)
            entry = BodyEntry.of(encode_layout(layout))
        if who is None or (first is not None and first != who):
            cache.bodies[fingerprint] = entry
        else:
            cache.personal[fingerprint] = entry
            cache.seen[fingerprint] = who
        return entry

    def _remember_order(
        self,
        user_id: str,
        live: LivePage,
        profile: Profile,
        plan: Plan,
        compiled: CompiledTemplate,
    ) -> None:
        """Store the order served, so the next launch keeps it unless affinity clearly moved.

        Written in the background and only when it changed: a launch never waits on it, and a
        failed write (store unreachable) is only logged; the next launch tries again. It carries
        the profile's erasure epoch: if the user was erased since the profile was read, the
        store refuses it (ErasedMeanwhile) and nothing comes back.
        """
        ids = compiled.ids  # the version as served (fallbacks substituted)
        order = [ids[i] for i in plan.order]
        if profile.last_order.get(live.record.page) == order:
            return
        task = asyncio.get_running_loop().create_task(
            self.users.set_last_order(user_id, live.record.page, order, profile.epoch)
        )
        self.background.add(task)
        task.add_done_callback(self._background_done)

    async def drain(self) -> None:
        """Wait for the background order writes still in flight (shutdown: before the store
        closes under them). Their failures were already logged by `_background_done`."""
        while self.background:
            await asyncio.gather(*self.background, return_exceptions=True)

    def _background_done(self, task: asyncio.Task[None]) -> None:
        """An unreachable store is expected (logged at debug, retried on a later launch); any
        other error is a bug: counted in `stats["background_errors"]` and logged once at ERROR
        with its traceback frames (its message, which may quote a user id, at DEBUG)."""
        self.background.discard(task)
        if task.cancelled():
            return
        error = task.exception()
        if error is None or isinstance(error, ErasedMeanwhile):
            return
        if isinstance(error, StoreUnavailable):
            log.debug("background store write failed: %s", error)
            return
        self.stats["background_errors"] += 1
        log.error(
            "unexpected %s in a background order write\n%s",
            type(error).__qualname__,
            "".join(traceback.format_tb(error.__traceback__)).rstrip(),
        )
        log.debug("background order write: %r", error)
