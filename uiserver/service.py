"""The application core between the HTTP edge and the pure engine.

It owns the live templates (compiled once per version), the profile cache, the layout caches and
the store, and turns store invalidations (from this process or another replica) into cache drops.
Nothing here knows about HTTP; the CLI's `publish` uses it too.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import msgspec

from uiserver.cache import BodyEntry, Coalescer, LayoutCache, ProfileCache, RequestEntry
from uiserver.catalog import Catalog, decode_document, template_to_json, template_version
from uiserver.config import Config
from uiserver.engine import Engine, encode_layout, plan_fingerprint
from uiserver.policy import Policy
from uiserver.schema import Context, Event, Problem, Profile, Settings, Template
from uiserver.store.base import Invalidation, Store, StoreUnavailable, TemplateRecord

log = logging.getLogger("uiserver")

ANONYMOUS_PROFILE = Profile()
FILE_AUTHOR = "layouts/"  # the author of versions published from the files at start

# After a store read on the serving path fails, layouts are served degraded without asking the
# store; one request a second probes it. So a dead (or black-holed: 0.5 s timeouts) Redis costs
# one failed call a second, not one per launch. A success, or a reconnected invalidation
# subscriber (Invalidation "all"), ends it.
STORE_RETRY_SECONDS = 1.0


class PublishRefused(Exception):
    """The template fails schema or accessibility lint; nothing was stored."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(f"{p.field}: {p.message}" for p in problems))
        self.problems = problems


class UnknownPage(KeyError):
    pass


class UnknownVersion(KeyError):
    pass


@dataclass(slots=True)
class LivePage:
    """A live template version, decoded and compiled once."""

    record: TemplateRecord
    template: Template
    compiled: Any
    keys: dict[str, str]  # component id -> affinity key (its category, else the id)


@dataclass(slots=True)
class Served:
    entry: BodyEntry
    degraded: bool = False


def today() -> int:
    """The day number that scopes deterministic exploration (so it varies by day, not launch)."""
    return int(time.time() // 86_400)


class Service:
    """Templates, profiles and layouts for one process."""

    def __init__(
        self, config: Config, store: Store, catalog: Catalog, policy: Policy
    ) -> None:
        self.config = config
        self.store = store
        self.catalog = catalog
        self.policy = policy
        self.engine = Engine(catalog, policy)
        self.pages: dict[str, LivePage] = {}
        self._dirty: set[str] = set()
        self._reload_all = False
        self.cache = LayoutCache(config.layout_cache_size, config.request_cache_size)
        self.profiles = ProfileCache(config.profile_cache_size, self.cache.requests)
        self._profile_loads: Coalescer[str, Profile] = Coalescer()
        # Users whose profile load was in flight when an invalidation for them arrived: the
        # value read may predate the change, so it is served once but not cached.
        self._loading: set[str] = set()
        self._raced: set[str] = set()
        self._page_loads: Coalescer[str, None] = Coalescer()
        self.stats = {"hits": 0, "misses": 0, "renders": 0, "degraded": 0}
        self.ready = False
        self._store_retry_at = 0.0  # 0: healthy; else when serving may probe the store again
        self._background: set[asyncio.Task[None]] = set()
        store.add_listener(self.invalidate)

    # ------------------------------------------------------------------ lifecycle

    async def start(self, file_templates: dict[str, Template] | None = None) -> None:
        """Open the store, publish changed files from `layouts/`, load every live page.

        A file counts as changed when its version differs from the one last published from
        `layouts/`. So a restart (of this process, or of any replica on a shared store) never
        undoes a later publish from the console or a rollback, while editing or reverting the
        file in git still takes effect on the next start.
        """
        await self.store.open()
        for page, template in sorted((file_templates or {}).items()):
            live = await self.store.live_template(page)
            version = template_version(template)
            if live is not None and live.version != version:
                from_files = next(
                    (r for r in await self.store.history(page) if r.author == FILE_AUTHOR), None
                )
                if from_files is not None and from_files.version == version:
                    log.info("layouts/%s unchanged since published; live stays %s (by %s)",
                             page, live.version, live.author)
                    continue
            if live is None or live.version != version:
                problems = self.lint(template)
                if problems:
                    log.error("layouts/%s not published: %s", page, problems)
                    continue
                await self.store.publish(
                    page, version, template_to_json(template), FILE_AUTHOR, "from layouts/",
                    time.time(),
                )
                log.info("published layouts/%s as %s", page, version)
        await self.reload_pages()
        self.ready = True

    async def close(self) -> None:
        await self.store.close()

    async def reload_pages(self) -> None:
        """Revalidate every live page (after a reconnect: messages may have been missed).

        The flags are cleared before the store read, so an invalidation arriving while it is in
        flight is not lost; they are set again if the read fails. Unchanged versions keep their
        compiled template (and with it the memo entries made from it).
        """
        self._reload_all = False
        dirty, self._dirty = self._dirty, set()
        try:
            records = await self.store.live()
        except BaseException:
            self._reload_all = True
            self._dirty |= dirty
            raise
        pages = {page: self._refresh(page, record) for page, record in records.items()}
        self.pages = {**self._vanished(set(self.pages) - set(pages)), **pages}

    def _vanished(self, missing: set[str]) -> dict[str, LivePage]:
        """Pages the store no longer has. Templates are never deleted, so this is a store that
        lost its data (a Redis restarted without persistence): keep serving what we hold."""
        if missing:
            log.error("the store has lost the live templates of %s; still serving the versions "
                      "loaded before (republish them: restart with layouts/ or uiserver publish)",
                      ", ".join(sorted(missing)))
        return {page: self.pages[page] for page in missing}

    def _refresh(self, page: str, record: TemplateRecord) -> LivePage:
        """The LivePage for `record`, compiling only a version this process does not hold."""
        live = self.pages.get(page)
        if live is None or live.record.version != record.version:
            return self._compile(record)
        if live.record != record:  # same content republished (rollback): new seq, author...
            return LivePage(record, live.template, live.compiled, live.keys)
        return live

    def _compile(self, record: TemplateRecord) -> LivePage:
        template = msgspec.json.decode(record.document, type=Template)
        keys = {c.id: c.category or c.id for c in template.components}
        return LivePage(record, template, self.engine.compile(template, record.version), keys)

    async def _reload_page(self, page: str) -> None:
        self._dirty.discard(page)
        try:
            record = await self.store.live_template(page)
        except BaseException:
            self._dirty.add(page)  # still to do: the current version keeps serving meanwhile
            raise
        if record is None:
            self._vanished({page} & set(self.pages))  # logged; the page keeps serving
        else:
            self.pages[page] = self._refresh(page, record)

    async def sync(self) -> bool:
        """Bring templates up to date with the store before serving (cheap when nothing moved).

        Returns False when a reload is due but the store is unreachable: the current compiled
        templates keep serving (possibly one version behind) and the reload is retried later.
        """
        self.store.poll()
        if not (self._reload_all or self._dirty):
            return True
        if not self._may_ask_store():
            return False
        try:
            if self._reload_all:
                await self._page_loads.run("*", self.reload_pages)
            for page in list(self._dirty):
                await self._page_loads.run(page, functools.partial(self._reload_page, page))
        except StoreUnavailable as exc:
            self._store_failed(exc)
            return False
        self._store_answered()
        return True

    @property
    def store_healthy(self) -> bool:
        """False from a failed serving-path read until the store answers again."""
        return self._store_retry_at == 0.0

    def _may_ask_store(self) -> bool:
        """Whether serving may call the store now. While it is failing, one caller a second gets
        to probe it (and moves the next probe a second on); everyone else serves degraded."""
        if self._store_retry_at == 0.0:
            return True
        now = time.monotonic()
        if now < self._store_retry_at:
            return False
        self._store_retry_at = now + STORE_RETRY_SECONDS
        return True

    def _store_failed(self, exc: StoreUnavailable) -> None:
        if self.store_healthy:
            log.warning("store unreachable, serving degraded layouts: %s", exc)
        self._store_retry_at = time.monotonic() + STORE_RETRY_SECONDS

    def _store_answered(self) -> None:
        if not self.store_healthy:
            log.info("store reachable again, degraded mode over")
            self._store_retry_at = 0.0

    def invalidate(self, message: Invalidation) -> None:
        """A store listener: drop exactly what the change affects."""
        if message.kind == "template":
            self._dirty.add(message.key)
        elif message.kind == "user":
            self.profiles.pop(message.key, None)
            self.cache.drop_user(message.key)
            if message.key in self._loading:
                self._raced.add(message.key)
        else:
            # A (re)subscription or a bulk change: revalidate templates, reload every profile,
            # and try the store again at once (it just answered the subscriber).
            self._reload_all = True
            self._store_answered()
            self.profiles.clear()
            self.cache.requests.clear()
            self._raced |= self._loading

    # ------------------------------------------------------------------ layouts

    async def profile(self, user_id: str) -> Profile:
        cached = self.profiles.get(user_id)
        if cached is not None:
            return cached

        async def load() -> Profile:
            self._loading.add(user_id)
            try:
                profile = await self.store.get_profile(user_id)
            except BaseException:
                self._raced.discard(user_id)
                raise
            finally:
                self._loading.discard(user_id)
            if user_id in self._raced:
                # Changed while we read (pub/sub and the reply travel on different connections,
                # so either can arrive first): do not cache what may be the old profile.
                self._raced.discard(user_id)
            else:
                self.profiles[user_id] = profile
            return profile

        return await self._profile_loads.run(user_id, load)

    def page(self, page: str) -> LivePage:
        live = self.pages.get(page)
        if live is None:
            raise UnknownPage(page)
        return live

    async def layout(self, user_id: str, page: str, query: bytes, context: Context) -> Served:
        """The encoded layout for a user, from the cheapest cache level that is still valid.

        Degraded (store unreachable): a user whose profile is cached is served as usual; anyone
        else gets the base layout for the context. Degraded answers are not memoized, so the
        user's own layout comes back with the store. A template reload that failed also marks
        the answer degraded: it may be one version behind.
        """
        current = await self.sync()
        live = self.page(page)
        day = today()
        key = (user_id, page, query)
        profile = self.profiles.get(user_id) if user_id else ANONYMOUS_PROFILE
        memo = self.cache.requests.get(key)
        if (
            memo is not None
            and profile is not None
            and memo.profile is profile
            and memo.compiled is live.compiled
            and memo.day == day
        ):
            self.stats["hits"] += 1
            if current:
                return Served(memo.entry)
            self.stats["degraded"] += 1
            return Served(memo.entry, True)
        degraded = not current
        if profile is None:
            if not self._may_ask_store():
                profile, degraded = ANONYMOUS_PROFILE, True
            else:
                try:
                    profile = await self.profile(user_id)
                except StoreUnavailable as exc:
                    # The base layout for this context is always a valid answer.
                    self._store_failed(exc)
                    profile, degraded = ANONYMOUS_PROFILE, True
                else:
                    self._store_answered()
        plan = self.engine.plan(live.compiled, profile, context, day=day)
        entry = self._render(live, plan)
        if degraded:
            self.stats["degraded"] += 1
            return Served(entry, True)
        self.cache.requests[key] = RequestEntry(live.compiled, profile, day, entry)
        if profile.evidence >= self.policy.min_evidence and self.store_healthy:
            self._remember_order(user_id, live, profile, plan)
        return Served(entry)

    def _remember_order(self, user_id: str, live: LivePage, profile: Profile, plan: Any) -> None:
        """Store the order served, so the next launch keeps it unless affinity clearly moved.

        Written in the background and only when it changed: a launch never waits on it, and a
        failed write (store unreachable) is only logged; the next launch tries again.
        """
        ids = live.compiled.ids
        order = [ids[i] for i in plan.order]
        if profile.last_order.get(live.record.page) == order:
            return
        task = asyncio.get_running_loop().create_task(
            self.store.set_last_order(user_id, live.record.page, order)
        )
        self._background.add(task)
        task.add_done_callback(self._background_done)

    def _background_done(self, task: asyncio.Task[None]) -> None:
        self._background.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.debug("background store write failed: %s", task.exception())

    def _render(self, live: LivePage, plan: Any) -> BodyEntry:
        fingerprint = plan_fingerprint(live.record.version, plan)
        entry = self.cache.bodies.get(fingerprint)
        if entry is not None:
            self.stats["hits"] += 1
            return entry
        self.stats["misses"] += 1
        self.stats["renders"] += 1
        layout = self.engine.render(live.compiled, plan)
        entry = BodyEntry.of(encode_layout(layout), layout.mode)
        self.cache.bodies[fingerprint] = entry
        return entry

    def preview(self, template: Template, version: str, profile: Profile, context: Context) -> Any:
        """A layout (not encoded) for a persona, from a live or draft template."""
        compiled = self.engine.compile(template, version)
        return self.engine.layout(compiled, profile, context, day=today())

    # ------------------------------------------------------------------ users

    async def put_settings(self, user_id: str, settings: Settings) -> None:
        await self.store.put_settings(user_id, settings)
        self.invalidate(Invalidation("user", user_id))

    async def record_events(self, user_id: str, events: Sequence[Event]) -> int:
        """Fold events into affinities under the key the engine reads (the category)."""
        settings = await self.store.get_settings(user_id)
        if settings.personalization == 0:
            return 0
        keyed = []
        for event in events:
            live = self.pages.get(event.page)
            key = live.keys.get(event.component, event.component) if live else event.component
            keyed.append(event if key == event.component
                         else msgspec.structs.replace(event, component=key))
        stored = await self.store.record_events(user_id, keyed, time.time())
        self.invalidate(Invalidation("user", user_id))
        return stored

    async def erase(self, user_id: str) -> None:
        await self.store.erase_user(user_id)
        self.invalidate(Invalidation("user", user_id))

    # ------------------------------------------------------------------ templates

    def lint(self, template: Template) -> list[Problem]:
        from uiserver.lint import lint_template

        return lint_template(template, self.catalog, self.policy)

    def decode_template(self, data: Any) -> tuple[Template | None, list[Problem]]:
        """A template from a parsed JSON document, or the problems that prevent it."""
        from uiserver.lint import validate_document

        return validate_document(data, "json", self.catalog, self.policy)

    async def publish(
        self, page: str, template: Template, author: str, message: str
    ) -> TemplateRecord:
        """Lint, then store a new live version atomically; refused templates change nothing."""
        problems = self.lint(template)
        if template.page != page:
            problems.append(
                Problem("page", f"template is for page {template.page!r}, not {page!r}")
            )
        if problems:
            raise PublishRefused(problems)
        return await self._store_version(
            page, template_version(template), template_to_json(template), author, message
        )

    async def _store_version(
        self, page: str, version: str, document: bytes, author: str, message: str
    ) -> TemplateRecord:
        record = await self.store.publish(page, version, document, author, message, time.time())
        await self._reload_page(page)
        return record

    async def rollback(self, page: str, version: str, author: str) -> TemplateRecord:
        old = await self.store.get_version(page, version)
        if old is None:
            raise UnknownVersion(version)
        # The stored bytes are republished as they are (versions are immutable), after the
        # current lint: a version that no longer passes today's policy is not brought back.
        template = decode_document(old.document, Template, name=page, fmt="json")
        problems = self.lint(template)
        if problems:
            raise PublishRefused(problems)
        return await self._store_version(
            page, old.version, old.document, author, f"rollback to {version}"
        )


async def wait_ready(service: Service, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not service.ready and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
