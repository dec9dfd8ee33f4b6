"""Publishing: lint before anything is stored, then make a version live; rollback; history.

Every path that makes a version live goes through `Publisher`: the admin API, the console, the
`publish` command and the files in `layouts/` at start. A template that fails schema or
accessibility lint raises PublishRefused and changes nothing; the live version keeps serving.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

from uiserver.catalog import Catalog, decode_document, template_to_json, template_version
from uiserver.engine import Engine
from uiserver.lint import lint_template, validate_document
from uiserver.pages import LivePages
from uiserver.policy import Policy
from uiserver.schema import Context, Layout, Problem, Profile, Template
from uiserver.store.base import Store, TemplateRecord

log = logging.getLogger("uiserver")

FILE_AUTHOR = "layouts/"  # the author of versions published from the files at start


class PublishRefused(Exception):
    """The template fails schema or accessibility lint; nothing was stored."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(f"{p.field}: {p.message}" for p in problems))
        self.problems = problems


class UnknownVersion(KeyError):
    """The page has no such version (rollback target)."""


class Publisher:
    """Lint-gated writes of template versions, and reads of their history."""

    def __init__(
        self, store: Store, catalog: Catalog, policy: Policy, engine: Engine, pages: LivePages
    ) -> None:
        self.store = store
        self.catalog = catalog
        self.policy = policy
        self.engine = engine
        self.pages = pages

    def lint(self, template: Template) -> list[Problem]:
        """Schema and accessibility problems of a template (empty: publishable)."""
        return lint_template(template, self.catalog, self.policy)

    def decode_template(self, data: Any) -> tuple[Template | None, list[Problem]]:
        """A template from a parsed JSON document, or the problems that prevent it."""
        return validate_document(data, "json", self.catalog, self.policy)

    async def publish(
        self, page: str, template: Template, author: str, message: str
    ) -> TemplateRecord:
        """Lint, then store a new live version atomically; refused templates change nothing.

        Raises PublishRefused (lint problems, or a template for another page) and
        StoreUnavailable.
        """
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

    async def rollback(self, page: str, version: str, author: str) -> TemplateRecord:
        """Publish an earlier version anew (a new history entry with a new seq).

        The stored bytes are republished as they are (versions are immutable), after the
        current lint: a version that no longer passes today's policy is not brought back.
        Raises UnknownVersion, PublishRefused, StoreUnavailable.
        """
        old = await self.store.get_version(page, version)
        if old is None:
            raise UnknownVersion(version)
        template = decode_document(old.document, Template, name=page, fmt="json")
        problems = self.lint(template)
        if problems:
            raise PublishRefused(problems)
        return await self._store_version(
            page, old.version, old.document, author, f"rollback to {version}"
        )

    async def _store_version(
        self, page: str, version: str, document: bytes, author: str, message: str
    ) -> TemplateRecord:
        record = await self.store.publish(page, version, document, author, message, time.time())
        await self.pages.reload_page(page)
        return record

    async def publish_files(self, templates: Mapping[str, Template]) -> None:
        """Publish the files of `layouts/` whose version changed since last published from there.

        A file counts as changed when its version differs from the one last published from
        `layouts/`. So a restart (of this process, or of any replica on a shared store) never
        undoes a later publish from the console or a rollback, while editing or reverting the
        file in git still takes effect on the next start. A file failing lint is logged and
        skipped (the live version keeps serving).
        """
        for page, template in sorted(templates.items()):
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

    async def history(self, page: str) -> list[TemplateRecord]:
        """Every version of the page, newest first (empty: no such page)."""
        return await self.store.history(page)

    async def version(self, page: str, version: str) -> TemplateRecord | None:
        """The newest history entry of that version of the page, or None."""
        return await self.store.get_version(page, version)

    def preview(
        self, template: Template, version: str, profile: Profile, context: Context, day: int
    ) -> Layout:
        """A layout (not encoded) for a persona, from a live or draft template.

        Raises CompileError or LayoutRuleError when the engine cannot build a layout.
        """
        compiled = self.engine.compile(template, version)
        return self.engine.layout(compiled, profile, context, day=day)
