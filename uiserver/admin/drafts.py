"""Designers' drafts: what a designer is editing on a page, saved on the server as they type
(autosave), so it survives a reload and another browser, until they publish it or discard it.

One draft per (designer, page), holding the editor's text as typed: it may be invalid (that is
what a draft is for), so it is stored as text and never decoded here. Drafts belong to
designers, not to users of the mini-program, and live apart from users' data (`DraftStore`).

Usage:

    draft = await save(service.live, service.drafts, "dora", "home", text,
                       base_version="3f2a…", now=time.time())
    await discard(service.drafts, "dora", "home")
"""

from __future__ import annotations

import msgspec

from uiserver.admin.errors import Invalid, NotFound
from uiserver.catalog import VERSION_MAX
from uiserver.documents import DEFAULT_LIMITS
from uiserver.serving.pages import LivePages
from uiserver.store.base import DraftRecord, DraftStore
from uiserver.users.ids import shown

# A draft is at most as large as a template the admin API accepts (`documents.DEFAULT_LIMITS`).
MAX_BYTES = DEFAULT_LIMITS.max_bytes


class DraftSummary(msgspec.Struct):
    """A draft in a list: which page, from which live version, when, how large."""

    page: str
    base_version: str
    updated: float  # Unix seconds
    bytes: int
    stale: bool  # the page's live version is no longer the one the draft started from
    archived: bool = False  # the page was archived since (its draft still loads)


class DraftBody(msgspec.Struct):
    page: str
    text: str
    base_version: str
    updated: float
    live_version: str | None  # None: the page is archived (the draft is kept all the same)
    archived: bool = False


async def save(
    pages: LivePages,
    drafts: DraftStore,
    author: str,
    page: str,
    text: str,
    base_version: str,
    now: float,
) -> DraftRecord:
    """Create or replace the designer's draft of a live or archived page (NotFound for a page
    never published, Invalid for a text over `MAX_BYTES` or a base version that is not a
    version string). A draft of a page someone archived meanwhile is still saved: publishing
    it restores the page."""
    await pages.sync()
    live = pages.pages.get(page)
    if live is None and page not in pages.archived:
        raise NotFound(f"no page {shown(page)}", "page")
    if len(text.encode()) > MAX_BYTES:
        raise Invalid(f"a draft is at most {MAX_BYTES} bytes", "text")
    if len(base_version) > VERSION_MAX:
        raise Invalid(f"base_version is longer than {VERSION_MAX} characters", "base_version")
    fallback = live.record.version if live is not None else ""
    draft = DraftRecord(author, page, text, base_version or fallback, now)
    await drafts.put_draft(draft)
    return draft


async def load(pages: LivePages, drafts: DraftStore, author: str, page: str) -> DraftBody:
    """The designer's draft of `page` (NotFound when there is none). Every draft listed by
    `mine` loads: `live_version` is None when the page was archived since (publishing the
    draft restores it)."""
    draft = await drafts.get_draft(author, page)
    if draft is None:
        raise NotFound(f"no draft of {shown(page)}", "page")
    await pages.sync()
    live = pages.pages.get(page)
    version = live.record.version if live is not None else None
    return DraftBody(page, draft.text, draft.base_version, draft.updated, version, live is None)


async def discard(drafts: DraftStore, author: str, page: str) -> bool:
    """Delete the designer's draft of `page`; whether there was one."""
    return await drafts.delete_draft(author, page)


async def mine(pages: LivePages, drafts: DraftStore, author: str) -> list[DraftSummary]:
    """The designer's drafts by page, each saying whether its page moved on since."""
    await pages.sync()
    rows = []
    for draft in await drafts.drafts(author):
        live = pages.pages.get(draft.page)
        rows.append(
            DraftSummary(
                draft.page,
                draft.base_version,
                draft.updated,
                len(draft.text.encode()),
                live is None or live.record.version != draft.base_version,
                live is None,
            )
        )
    return rows
