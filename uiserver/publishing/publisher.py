"""Publishing: lint before anything is stored, then make a version live; rollback; staged
rollouts; archiving; history.

Every path that makes a version live goes through `Publisher`: the admin API, the console, the
`publish` command and the files in `layouts/` at start. A template that fails schema or
accessibility lint raises PublishRefused and changes nothing; the live version keeps serving.
Preconditions (`PublishOptions`: If-Match, rollout) are checked by the store in the same
transaction as the write, and raise a TemplateConflict that changes nothing.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any, Literal

from uiserver.catalog import Catalog, decode_document, template_to_json, template_version
from uiserver.engine import Engine
from uiserver.lint.templates import lint_template, validate_document
from uiserver.policy import Policy
from uiserver.publishing.filesync import FILE_AUTHOR, FILE_SOURCE, FileConflict, decide
from uiserver.schema import Context, Layout, Problem, Profile, Template
from uiserver.serving.pages import LivePages
from uiserver.store.base import (
    PageState,
    PublishOptions,
    StaleBase,
    StoreUnavailable,
    TemplateRecord,
    TemplateStore,
)

log = logging.getLogger("uiserver")

__all__ = ["FILE_AUTHOR", "PublishRefused", "Publisher", "UnknownVersion"]


class PublishRefused(Exception):
    """The template fails schema or accessibility lint; nothing was stored."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(f"{p.field}: {p.message}" for p in problems))
        self.problems = problems


class UnknownVersion(LookupError):
    """The page has no such version (rollback target)."""

    def __init__(self, page: str, version: str) -> None:
        super().__init__(f"page {page!r} has no version {version!r}")
        self.page = page
        self.version = version


class Publisher:
    """Lint-gated writes of template versions, and reads of their history."""

    def __init__(
        self,
        templates: TemplateStore,
        catalog: Catalog,
        policy: Policy,
        engine: Engine,
        pages: LivePages,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.templates = templates
        # Unix seconds stamped on every write (a version's `published`, a rollout's `started`
        # and `updated`): one clock with the rollout scheduler (`Scheduler.clock` is this one),
        # so a test or a scheduler that sets it sees the same time on manual and timed acts.
        self.clock = clock
        self.catalog = catalog
        self.policy = policy
        self.engine = engine
        self.pages = pages
        self.file_conflicts: dict[str, FileConflict] = {}  # from the last start, by page

    def lint(self, template: Template) -> list[Problem]:
        """Schema and accessibility problems of a template (empty: publishable)."""
        return lint_template(template, self.catalog, self.policy)

    def decode_template(self, data: Mapping[str, Any]) -> tuple[Template | None, list[Problem]]:
        """A template from a parsed JSON object, or the problems that prevent it."""
        return validate_document(data, "json", self.catalog, self.policy)

    async def publish(
        self,
        page: str,
        template: Template,
        author: str,
        message: str,
        options: PublishOptions | None = None,
    ) -> PageState:
        """Lint, then store a new live (or staged) version atomically; refused templates
        change nothing. The page as the write left it (`head`: the version published).

        Raises PublishRefused (lint problems, or a template for another page), a
        TemplateConflict (stale base, rollout running) and StoreUnavailable.
        """
        problems = self.lint(template)
        if template.page != page:
            problems.append(
                Problem("page", f"template is for page {template.page!r}, not {page!r}")
            )
        if problems:
            raise PublishRefused(problems)
        return await self._store_version(
            page,
            template_version(template),
            template_to_json(template),
            author,
            message,
            options,
        )

    async def rollback(
        self, page: str, version: str, author: str, options: PublishOptions | None = None
    ) -> PageState:
        """Publish an earlier version anew (a new history entry with a new seq).

        The stored bytes are republished as they are (versions are immutable), after the
        current lint: a version that no longer passes today's policy is not brought back.
        Raises UnknownVersion, PublishRefused, StoreUnavailable.
        """
        old = await self.templates.get_version(page, version)
        if old is None:
            raise UnknownVersion(page, version)
        template = decode_document(old.document, Template, name=page, fmt="json")
        problems = self.lint(template)
        if problems:
            raise PublishRefused(problems)
        return await self._store_version(
            page, old.version, old.document, author, f"rollback to {version}", options
        )

    async def _store_version(
        self,
        page: str,
        version: str,
        document: bytes,
        author: str,
        message: str,
        options: PublishOptions | None = None,
    ) -> PageState:
        applied = await self.templates.publish(
            page, version, document, author, message, self.clock(), options
        )
        await self._refresh(page)
        return applied

    async def _refresh(self, page: str) -> None:
        """Bring this process's copy of the page up to date after a write here. The write is
        committed: a store that fails now leaves the page marked for the next `sync()` and the
        caller still gets the answer of its write (never a 5xx for something applied)."""
        try:
            await self.pages.reload_page(page)
        except StoreUnavailable as exc:
            log.warning("page %s written; reloading it failed (%s), retried later", page, exc)

    async def set_rollout(self, page: str, percent: int, author: str) -> PageState:
        """Widen or narrow the running rollout; the page after it. NoRollout when none runs,
        NeverPublished for a page without history."""
        applied = await self.templates.set_rollout(page, percent, author, self.clock())
        await self._refresh(page)
        return applied

    async def end_rollout(
        self, page: str, outcome: Literal["promote", "abort"], author: str, message: str = ""
    ) -> PageState:
        """Promote or abort the running rollout (an abort's history entry says `message`, if
        given); the page after it. NoRollout when none runs, NeverPublished for a page
        without history."""
        applied = await self.templates.end_rollout(page, outcome, author, self.clock(), message)
        await self._refresh(page)
        return applied

    async def archive(self, page: str, author: str) -> PageState:
        """Take the page down (clients get 404); the page after it (`archived` set).
        NeverPublished when it was never published."""
        applied = await self.templates.archive(page, author, self.clock())
        await self._refresh(page)
        return applied

    async def state(self, page: str) -> PageState | None:
        """The page as stored (archived pages too), or None when it was never published."""
        return (await self.templates.states(page)).get(page)

    async def publish_files(
        self, templates: Mapping[str, Template], bases: Mapping[str, str] | None = None
    ) -> None:
        """Publish the files of `layouts/` that changed, where `filesync.decide` allows it.

        A restart (of this process, or of any replica on a shared store) never undoes a later
        publish from the console: a file that changed while the console published too is left
        unpublished, logged as a WARNING naming both versions and kept in `file_conflicts`
        (shown by /readyz). `bases`: page -> the version a file was exported from. A file
        failing lint is logged and skipped (the live version keeps serving).
        """
        self.file_conflicts = {}
        for page, template in sorted(templates.items()):
            version = template_version(template)
            decision = await decide(self.templates, page, version, (bases or {}).get(page))
            if isinstance(decision, FileConflict):
                self.file_conflicts[page] = decision
                log.warning("layouts/%s", decision.message)
                continue
            if decision == "unchanged":
                log.info("layouts/%s unchanged since published; the live version stays", page)
                continue
            if decision == "same":
                continue
            problems = self.lint(template)
            if problems:
                log.error("layouts/%s not published: %s", page, problems)
                continue
            # The base is what `decide` saw: another replica starting at the same time
            # publishes the same file once, and a console publish in between is kept.
            base = (decision.base,) if decision.base is not None else None
            try:
                await self.templates.publish(
                    page,
                    version,
                    template_to_json(template),
                    FILE_AUTHOR,
                    "from layouts/",
                    self.clock(),
                    PublishOptions(base=base, source=FILE_SOURCE),
                )
            except StaleBase as exc:
                log.warning("layouts/%s not published: %s", page, exc.message)
                continue
            log.info("published layouts/%s as %s", page, version)

    async def history(self, page: str) -> list[TemplateRecord]:
        """Every version of the page, newest first (empty: no such page)."""
        return await self.templates.history(page)

    async def version(self, page: str, version: str) -> TemplateRecord | None:
        """The newest history entry of that version of the page, or None."""
        return await self.templates.get_version(page, version)

    def preview(
        self, template: Template, version: str, profile: Profile, context: Context, day: int
    ) -> Layout:
        """A layout (not encoded) for a persona, from a live or draft template.

        Raises CompileError or LayoutRuleError when the engine cannot build a layout.
        """
        compiled = self.engine.compile(template, version)
        return self.engine.layout(compiled, profile, context, day=day)
