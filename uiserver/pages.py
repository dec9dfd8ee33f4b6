"""The live-pages registry: each page's live template version, decoded and compiled once.

The store is the source of truth; this process holds a compiled copy of every live version and
learns of changes through template invalidations (`mark_dirty`, or `mark_all` after a
resubscription). `sync()` brings the copies up to date before serving, cheaply when nothing
moved. Publishing lives in `uiserver.publishing`; serving in `uiserver.serving`.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass

import msgspec

from uiserver.breaker import StoreBreaker
from uiserver.cache import Coalescer
from uiserver.engine import CompiledTemplate, Engine
from uiserver.schema import Template
from uiserver.store.base import Store, StoreUnavailable, TemplateRecord

log = logging.getLogger("uiserver")


class UnknownPage(KeyError):
    """No live template for the page (404 at the edge)."""


@dataclass(slots=True)
class LivePage:
    """A live template version, decoded and compiled once."""

    record: TemplateRecord
    template: Template
    compiled: CompiledTemplate
    keys: dict[str, str]  # interactive component id -> affinity key (category, else page/id)
    others: frozenset[str]  # ids of the page's components that are not interactive


class LivePages:
    """page -> LivePage for one process, kept in step with the store.

    `pages` is replaced (never mutated in place) by a full reload, so readers may hold the dict
    they got for the duration of one request.
    """

    def __init__(self, store: Store, engine: Engine, breaker: StoreBreaker) -> None:
        self.store = store
        self.engine = engine
        self.breaker = breaker
        self.pages: dict[str, LivePage] = {}
        self.dirty: set[str] = set()  # pages a template invalidation named, not reloaded yet
        self.reload_all = False  # a resubscription or bulk change: revalidate every page
        self.loads: Coalescer[str, None] = Coalescer()

    def page(self, page: str) -> LivePage:
        """The live page; raises UnknownPage."""
        live = self.pages.get(page)
        if live is None:
            raise UnknownPage(page)
        return live

    def event_key(self, page: str, component: str) -> tuple[str | None, str]:
        """(the affinity key an event on `component` counts under, or None; why not).

        Only events on interactive components of a live page count: a tap on a footer note
        says nothing about what the user wants, and unknown names would only grow the profile.
        """
        live = self.pages.get(page)
        if live is None:
            return None, "unknown_page"
        key = live.keys.get(component)
        if key is not None:
            return key, "stored"
        return None, "not_interactive" if component in live.others else "unknown_component"

    # ------------------------------------------------------------------ invalidation

    def mark_dirty(self, page: str) -> None:
        """A template invalidation: reload `page` on the next `sync()`."""
        self.dirty.add(page)

    def mark_all(self) -> None:
        """Revalidate every page on the next `sync()` (messages may have been missed)."""
        self.reload_all = True

    async def sync(self) -> bool:
        """Bring templates up to date with the store before serving (cheap when nothing moved).

        Returns False when a reload is due but the store is unreachable: the current compiled
        templates keep serving (possibly one version behind) and the reload is retried later.
        """
        self.store.poll()
        if not (self.reload_all or self.dirty):
            return True
        if not self.breaker.may_ask():
            return False
        try:
            if self.reload_all:
                await self.loads.run("*", self.reload)
            for page in list(self.dirty):
                await self.loads.run(page, functools.partial(self.reload_page, page))
        except StoreUnavailable as exc:
            self.breaker.failed(exc)
            return False
        self.breaker.answered()
        return True

    # ------------------------------------------------------------------ loading

    async def reload(self) -> None:
        """Revalidate every live page (at start, and after a reconnect).

        The flags are cleared before the store read, so an invalidation arriving while it is in
        flight is not lost; they are set again if the read fails. Unchanged versions keep their
        compiled template (and with it the memo entries made from it). Raises StoreUnavailable.
        """
        self.reload_all = False
        dirty, self.dirty = self.dirty, set()
        try:
            records = await self.store.live()
        except BaseException:
            self.reload_all = True
            self.dirty |= dirty
            raise
        pages = {page: self._refresh(page, record) for page, record in records.items()}
        self.pages = {**self._vanished(set(self.pages) - set(pages)), **pages}

    async def reload_page(self, page: str) -> None:
        """Reload one page (after a publish here or a template invalidation).

        Raises StoreUnavailable; the current version keeps serving meanwhile.
        """
        self.dirty.discard(page)
        try:
            record = await self.store.live_template(page)
        except BaseException:
            self.dirty.add(page)  # still to do
            raise
        if record is None:
            self._vanished({page} & set(self.pages))  # logged; the page keeps serving
        else:
            self.pages[page] = self._refresh(page, record)

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
            return LivePage(record, live.template, live.compiled, live.keys, live.others)
        return live

    def _compile(self, record: TemplateRecord) -> LivePage:
        template = msgspec.json.decode(record.document, type=Template)
        compiled = self.engine.compile(template, record.version)
        comps = compiled.views[None, "standard"].comps
        keys = {c.id: c.key for c in comps if c.interactive}
        others = frozenset(c.id for c in comps if not c.interactive)
        return LivePage(record, template, compiled, keys, others)
