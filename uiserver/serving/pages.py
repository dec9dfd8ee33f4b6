"""The live-pages registry: each page's live template version, decoded and compiled once.

Each compiled version serves the bucket allocation stored with its record (`store.allocations`),
so every replica and process maps a user's bucket to the same variant; during a staged rollout
both live versions serve their own.

The store is the source of truth; this process holds a compiled copy of every live version and
learns of changes through template invalidations (`mark_dirty`, or `mark_all` after a
resubscription). `sync()` brings the copies up to date before serving, cheaply when nothing
moved. Publishing lives in `uiserver.publishing`; serving in `uiserver.serving`.
"""

from __future__ import annotations

import functools
import logging
import time
from dataclasses import dataclass, field

import msgspec

from uiserver.datastructures import Coalescer, Generation
from uiserver.engine import CompiledTemplate, CompileError, Engine
from uiserver.engine.capability import Substitution, substitute
from uiserver.engine.hashing import rollout_bucket
from uiserver.schema import Template
from uiserver.serving.breaker import StoreBreaker
from uiserver.store.allocations import served
from uiserver.store.base import (
    InvalidationSource,
    PageState,
    PublishOptions,
    Rollout,
    StoreUnavailable,
    TemplateRecord,
    TemplateStore,
)

log = logging.getLogger("uiserver")


class UnknownPage(LookupError):
    """No live template for the page (404 at the edge)."""

    def __init__(self, page: str) -> None:
        super().__init__(f"no live page {page!r}")
        self.page = page


@dataclass(slots=True)
class LivePage:
    """A live template version, decoded and compiled once.

    During a staged rollout the page's LivePage is the new version, with `rollout` and
    `previous` (the LivePage of the version the other users keep); `pick` chooses per user.
    """

    record: TemplateRecord
    template: Template
    compiled: CompiledTemplate
    keys: dict[str, str]  # interactive component id -> affinity key (category, else page/id)
    rollout: Rollout | None = None
    previous: LivePage | None = None
    served_key: tuple[str, str] = field(default=("", ""))  # (page, version) for the metric
    others: frozenset[str] = frozenset()  # ids of the page's components that are not interactive
    types: frozenset[str] = frozenset()  # the component types the template uses
    # What a client that cannot draw every type gets: drawable set -> (the substituted
    # template compiled, its substitutions), or the reason it cannot be drawn (at most
    # MAX_DRAWN sets a version; `engine.capability`).
    drawn: dict[frozenset[str], Drawn | NotDrawable] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.types:
            self.types = frozenset(c.type for c in self.template.components)

    def pick(self, user_id: str) -> LivePage:
        """The version this user gets: the new one for `percent`% of users (by bucket), the
        previous one for the rest and for anonymous callers until 100%."""
        rollout, previous = self.rollout, self.previous
        if rollout is None or previous is None or rollout.percent >= 100:
            return self
        if user_id and rollout_bucket(self.record.page, user_id) < rollout.percent * 100:
            return self
        return previous


MAX_DRAWN = 16  # substituted compilations kept per live version


class NotDrawable(Exception):
    """The page cannot be drawn by this client: its fallbacks leave a layout that fails a rule
    or does not compile (406 at the edge: no acceptable representation, RFC 9110 15.5.7)."""

    def __init__(self, page: str, message: str) -> None:
        super().__init__(f"{page}: {message}")
        self.page = page
        self.message = message


@dataclass(slots=True, frozen=True)
class Drawn:
    """A live version as a client with fewer types gets it."""

    compiled: CompiledTemplate
    substitutions: tuple[Substitution, ...]
    fingerprint: str  # the version and the substitutions: the body cache's version part


class LivePages:
    """page -> LivePage for one process, kept in step with the store.

    `pages` is replaced (never mutated in place) by a full reload, so readers may hold the dict
    they got for the duration of one request.
    """

    def __init__(
        self,
        templates: TemplateStore,
        invalidations: InvalidationSource,
        engine: Engine,
        breaker: StoreBreaker,
        generation: Generation | None = None,
    ) -> None:
        self.templates = templates
        self.invalidations = invalidations
        self.engine = engine
        self.breaker = breaker
        # Bumped by every change of what is served (a page marked, a reload done, whether it
        # changed anything or failed): the RSGI edge's table of warm answers trusts an entry
        # only while it is unchanged (`http.rsgi`).
        self.generation = generation or Generation()
        self.pages: dict[str, LivePage] = {}
        self.archived: set[str] = set()  # pages taken down (their history is kept)
        self.dirty: set[str] = set()  # pages a template invalidation named, not reloaded yet
        self.reload_all = False  # a resubscription or bulk change: revalidate every page
        # Pages served from what this process holds because the store lost them (a Redis that
        # came back empty): not ready until they are republished (`restore`, or from files).
        self.lost: set[str] = set()
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
        if key is None and live.previous is not None:  # a staged rollout serves both versions
            key = live.previous.keys.get(component)
        if key is not None:
            return key, "stored"
        others = live.others | (live.previous.others if live.previous is not None else frozenset())
        return None, "not_interactive" if component in others else "unknown_component"

    def for_client(self, live: LivePage, can_draw: frozenset[str]) -> Drawn | None:
        """The live version as a client that can draw only `can_draw` gets it: None when it
        draws every type the page uses; else its fallbacks substituted and compiled (once per
        drawable set, `MAX_DRAWN` kept). NotDrawable when the substituted template does not
        compile; a layout of it that fails the final check raises LayoutRuleError at render."""
        if live.types <= can_draw:
            return None
        found = live.drawn.get(can_draw)
        if found is None:
            found = self._substituted(live, can_draw)
            if len(live.drawn) >= MAX_DRAWN:
                live.drawn.pop(next(iter(live.drawn)))
            live.drawn[can_draw] = found
        if isinstance(found, NotDrawable):
            raise found
        return found

    def _substituted(self, live: LivePage, can_draw: frozenset[str]) -> Drawn | NotDrawable:
        template, subs = substitute(live.template, self.engine.catalog.types, can_draw)
        try:
            compiled = self.engine.compile(
                template, live.record.version, served(live.record, template)
            )
        except CompileError as exc:
            return NotDrawable(live.record.page, str(exc))
        marks = ",".join(f"{s.component}={s.fallback or '-'}" for s in subs)
        return Drawn(compiled, subs, f"{live.record.version}+{marks}")

    def drawn(
        self, user_id: str, page: str, component: str, version: str | None
    ) -> tuple[str | None, str]:
        """(the template version a telemetry event on `component` counts under, or None; why
        not: `unknown_page`, `unknown_version`, `unknown_component`).

        `version`: the one the client says it drew, which must be live (the new or the previous
        one during a staged rollout); None: the one this user is served (`LivePage.pick`). The
        component must be one of that version's ids. So the counters' keys are bounded by what
        was published (`engine.telemetry`)."""
        live = self.pages.get(page)
        if live is None:
            return None, "unknown_page"
        if version is None:
            found: LivePage | None = live.pick(user_id)
        else:
            found = next(
                (v for v in (live, live.previous) if v is not None and v.record.version == version),
                None,
            )
        if found is None:
            return None, "unknown_version"
        if component not in found.keys and component not in found.others:
            return None, "unknown_component"
        return found.record.version, "stored"

    # ------------------------------------------------------------------ invalidation

    def mark_dirty(self, page: str) -> None:
        """A template invalidation: reload `page` on the next `sync()`."""
        self.dirty.add(page)
        self.generation.bump()

    def mark_all(self) -> None:
        """Revalidate every page on the next `sync()` (messages may have been missed)."""
        self.reload_all = True
        self.generation.bump()

    async def sync(self) -> bool:
        """Bring templates up to date with the store before serving (cheap when nothing moved).

        Returns False when a reload is due but the store is unreachable: the current compiled
        templates keep serving (possibly one version behind) and the reload is retried later.
        """
        self.invalidations.poll()
        if not (self.reload_all or self.dirty or self.lost):
            return True
        if not self.breaker.may_ask():
            return False
        try:
            if self.reload_all:
                await self.loads.run("*", self.reload)
            for page in list(self.dirty):
                await self.loads.run(page, functools.partial(self.reload_page, page))
            if self.lost:
                await self.loads.run("restore", self.restore)
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
            states = await self.templates.states()
        except BaseException:
            self.reload_all = True
            self.dirty |= dirty
            self.generation.bump()
            raise
        self.archived = {page for page, state in states.items() if state.archived is not None}
        pages = {
            page: self._refresh(page, state)
            for page, state in states.items()
            if state.archived is None
        }
        lost = set(self.pages) - set(states)
        self.lost = lost
        self.pages = {**self._vanished(lost), **pages}
        self.generation.bump()

    async def reload_page(self, page: str) -> None:
        """Reload one page (after a publish here or a template invalidation).

        Raises StoreUnavailable; the current version keeps serving meanwhile.
        """
        try:
            await self._reload_page(page)
        finally:
            self.generation.bump()

    async def _reload_page(self, page: str) -> None:
        self.dirty.discard(page)
        try:
            state = (await self.templates.states(page)).get(page)
        except BaseException:
            self.dirty.add(page)  # still to do
            raise
        if state is None:
            self.lost |= {page} & set(self.pages)
            self._vanished({page} & set(self.pages))  # logged; the page keeps serving
            return
        self.lost.discard(page)
        if state.archived is not None:
            self.archived.add(page)
            self.pages = {name: live for name, live in self.pages.items() if name != page}
        else:
            self.archived.discard(page)
            self.pages[page] = self._refresh(page, state)

    async def restore(self) -> None:
        """Republish the last-known-good version of every page the store lost, so the store
        serves every replica (and the next one to start) what this process serves: the version
        everyone gets (during a staged rollout below 100%, the previous one), with its author,
        message and source (`files` stays `files`, so `layouts/` keeps its say). A page the
        store has again meanwhile (another replica restored it, or published files) is left as
        it is. Raises StoreUnavailable (the pages stay lost; `sync` tries again)."""
        for page in sorted(self.lost):
            held = self.pages.get(page)
            if held is None or await self.templates.states(page):
                self.lost.discard(page)
                continue
            record = held.pick("").record  # what anonymous callers get: everyone's version
            await self.templates.publish(
                page,
                record.version,
                record.document,
                record.author,
                record.message,
                time.time(),
                PublishOptions(source=record.source),
            )
            log.warning(
                "republished template %s version %s from the last-known-good copy "
                "(the store had lost it)",
                page,
                record.version,
            )
            await self.reload_page(page)

    def _vanished(self, missing: set[str]) -> dict[str, LivePage]:
        """Pages the store no longer has (not archived: gone). Templates are never deleted, so
        this is a store that lost its data (a Redis restarted without persistence): keep
        serving what we hold."""
        if missing:
            log.error(
                "the store has lost the live templates of %s; still serving the versions "
                "loaded before (republish them: restart with layouts/ or uiserver publish)",
                ", ".join(sorted(missing)),
            )
        return {page: self.pages[page] for page in missing}

    def _refresh(self, page: str, state: PageState) -> LivePage:
        """The LivePage for a page's state, compiling only versions this process does not hold
        (so memo entries made from an unchanged version stay valid)."""
        held = self.pages.get(page)
        known = (
            {}
            if held is None
            else {live.record.version: live for live in (held, held.previous) if live is not None}
        )
        live = self._one(state.head, known)
        rollout = state.rollout
        if rollout is None or state.previous is None or rollout.version != state.head.version:
            return live if live.rollout is None else self._plain(live)
        previous = self._one(state.previous, known)
        if previous.rollout is not None or previous.previous is not None:
            previous = self._plain(previous)
        return LivePage(
            live.record,
            live.template,
            live.compiled,
            live.keys,
            rollout,
            previous,
            live.served_key,
            live.others,
        )

    def _one(self, record: TemplateRecord, known: dict[str, LivePage]) -> LivePage:
        live = known.get(record.version)
        if live is None:
            return self._compile(record)
        if live.record != record:  # same content republished (rollback): new seq, author...
            compiled = live.compiled
            if live.record.allocation != record.allocation:  # ... and its own allocation
                compiled = compiled.allocated(served(record, live.template))
            return LivePage(
                record,
                live.template,
                compiled,
                live.keys,
                served_key=live.served_key,
                others=live.others,
            )
        return live

    @staticmethod
    def _plain(live: LivePage) -> LivePage:
        return LivePage(
            live.record,
            live.template,
            live.compiled,
            live.keys,
            served_key=live.served_key,
            others=live.others,
        )

    def _compile(self, record: TemplateRecord) -> LivePage:
        template = msgspec.json.decode(record.document, type=Template)
        compiled = self.engine.compile(template, record.version, served(record, template))
        comps = compiled.views[None, "standard"].comps
        keys = {c.id: c.key for c in comps if c.interactive}
        others = frozenset(c.id for c in comps if not c.interactive)
        return LivePage(
            record,
            template,
            compiled,
            keys,
            served_key=(record.page, record.version),
            others=others,
        )
