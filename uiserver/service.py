"""The application core between the HTTP edge and the pure engine.

It owns the live templates (compiled once per version), the profile cache, the layout caches and
the store, and turns store invalidations (from this process or another replica) into cache drops.
Nothing here knows about HTTP; the CLI's `publish` uses it too.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import msgspec
from cachetools import LRUCache

from uiserver.cache import BodyEntry, Coalescer, LayoutCache, RequestEntry
from uiserver.catalog import Catalog, decode_document, template_to_json, template_version
from uiserver.config import Config
from uiserver.engine import Engine, encode_layout, plan_fingerprint
from uiserver.policy import Policy
from uiserver.schema import Context, Event, Problem, Profile, Settings, Template
from uiserver.store.base import Invalidation, Store, StoreUnavailable, TemplateRecord

log = logging.getLogger("uiserver")

ANONYMOUS_PROFILE = Profile()


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
        self.profiles: LRUCache[str, Profile] = LRUCache(maxsize=config.profile_cache_size)
        self._profile_loads: Coalescer[str, Profile] = Coalescer()
        self._page_loads: Coalescer[str, None] = Coalescer()
        self.stats = {"hits": 0, "misses": 0, "renders": 0, "degraded": 0}
        self.ready = False
        self._background: set[asyncio.Task[None]] = set()
        store.add_listener(self.invalidate)

    # ------------------------------------------------------------------ lifecycle

    async def start(self, file_templates: dict[str, Template] | None = None) -> None:
        """Open the store, publish changed files from `layouts/`, load every live page."""
        await self.store.open()
        for page, template in sorted((file_templates or {}).items()):
            live = await self.store.live_template(page)
            version = template_version(template)
            if live is None or live.version != version:
                problems = self.lint(template)
                if problems:
                    log.error("layouts/%s not published: %s", page, problems)
                    continue
                await self.store.publish(
                    page, version, template_to_json(template), "layouts/", "from layouts/",
                    time.time(),
                )
                log.info("published layouts/%s as %s", page, version)
        await self.reload_pages()
        self.ready = True

    async def close(self) -> None:
        await self.store.close()

    async def reload_pages(self) -> None:
        records = await self.store.live()
        pages = {page: self._compile(record) for page, record in records.items()}
        self.pages = pages
        self._reload_all = False
        self._dirty.clear()

    def _compile(self, record: TemplateRecord) -> LivePage:
        template = msgspec.json.decode(record.document, type=Template)
        keys = {c.id: c.category or c.id for c in template.components}
        return LivePage(record, template, self.engine.compile(template, record.version), keys)

    async def _reload_page(self, page: str) -> None:
        self._dirty.discard(page)
        record = await self.store.live_template(page)
        if record is None:
            self.pages.pop(page, None)
        elif page not in self.pages or self.pages[page].record.version != record.version:
            self.pages[page] = self._compile(record)

    async def sync(self) -> None:
        """Bring templates up to date with the store before serving (cheap when nothing moved)."""
        self.store.poll()
        if self._reload_all:
            await self._page_loads.run("*", self.reload_pages)
        for page in list(self._dirty):
            await self._page_loads.run(page, lambda page=page: self._reload_page(page))

    def invalidate(self, message: Invalidation) -> None:
        """A store listener: drop exactly what the change affects."""
        if message.kind == "template":
            self._dirty.add(message.key)
        elif message.kind == "user":
            self.profiles.pop(message.key, None)
            self.cache.drop_user(message.key)
        else:
            self._reload_all = True
            self.profiles.clear()
            self.cache.requests.clear()

    # ------------------------------------------------------------------ layouts

    async def profile(self, user_id: str) -> Profile:
        cached = self.profiles.get(user_id)
        if cached is not None:
            return cached

        async def load() -> Profile:
            profile = await self.store.get_profile(user_id)
            self.profiles[user_id] = profile
            return profile

        return await self._profile_loads.run(user_id, load)

    def page(self, page: str) -> LivePage:
        live = self.pages.get(page)
        if live is None:
            raise UnknownPage(page)
        return live

    async def layout(self, user_id: str, page: str, query: bytes, context: Context) -> Served:
        """The encoded layout for a user, from the cheapest cache level that is still valid."""
        await self.sync()
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
            return Served(memo.entry)
        degraded = False
        if profile is None:
            try:
                profile = await self.profile(user_id)
            except StoreUnavailable:
                # Degraded: the base layout for this context is always a valid answer.
                profile, degraded = ANONYMOUS_PROFILE, True
                self.stats["degraded"] += 1
        plan = self.engine.plan(live.compiled, profile, context, day=day)
        entry = self._render(live, plan)
        if not degraded:
            self.cache.requests[key] = RequestEntry(live.compiled, profile, day, entry)
            if profile.evidence >= self.policy.min_evidence:
                self._remember_order(user_id, live, profile, plan)
        return Served(entry, degraded)

    def _remember_order(self, user_id: str, live: LivePage, profile: Profile, plan: Any) -> None:
        """Store the order served, so the next launch keeps it unless affinity clearly moved.

        Written in the background and only when it changed: a launch never waits on it.
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
