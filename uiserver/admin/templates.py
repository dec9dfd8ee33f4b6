"""Templates as designers manage them: live pages with their lint status, drafts checked,
publish, rollback, staged rollouts, archive, history and diff (no HTTP).

Each function takes the `Publisher` (and, to publish, the draft store) and plain values, and
returns msgspec Structs or raises an `admin.errors.AdminError` (see `uiserver.admin`).

    template, problems = check_draft(publisher, "home", decode_text(editor_text))
    if not problems:
        record = await publish(publisher, drafts, "home", template, "alice", "bigger buttons")
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any, Literal

import msgspec

from uiserver.admin.errors import BadRequest, Conflict, NotFound, no_live_page
from uiserver.documents import DEFAULT_LIMITS, DocumentError, decode, format_of_text
from uiserver.publishing.diff import Change, diff_documents, document_changes
from uiserver.publishing.publisher import Publisher, UnknownVersion
from uiserver.schema import Problem, Template
from uiserver.serving.pages import LivePage, LivePages, UnknownPage
from uiserver.store.base import (
    DraftStore,
    NeverPublished,
    NoRollout,
    PageState,
    PublishOptions,
    Rollout,
    RolloutRunning,
    StaleBase,
    TemplateConflict,
    TemplateRecord,
)
from uiserver.users.ids import shown


class PageSummary(msgspec.Struct):
    """A live page with its lint status (rules may have tightened since it was published)."""

    page: str
    title: str
    live_version: str
    lint: str  # "ok" or "failing"
    problems: int
    published_by: str
    published_at: float
    message: str
    variants: int


class HistoryEntry(msgspec.Struct):
    version: str
    seq: int
    author: str
    message: str
    created: float
    live: bool  # only the newest entry is live (a rollback repeats a version)
    # Percent of users this version is served to now (on the newest entry of each version;
    # during a staged rollout the new and the previous version share 100).
    share: int = 0


class RolloutState(msgspec.Struct):
    """A running staged rollout as the API shows it."""

    version: str
    previous: str
    percent: int
    author: str
    started: float
    updated: float


def rollout_state(rollout: Rollout | None) -> RolloutState | None:
    if rollout is None:
        return None
    return RolloutState(
        rollout.version,
        rollout.previous,
        rollout.percent,
        rollout.author,
        rollout.started,
        rollout.updated,
    )


class Diff(msgspec.Struct):
    page: str
    from_: str = msgspec.field(name="from")
    to: str
    unified: str
    changes: list[Change]
    # False when the versions are too large for a text diff (`publishing.diff`): `unified` is
    # empty and `changes` is still complete.
    unified_complete: bool = True


def problems_json(problems: list[Problem]) -> list[dict[str, str]]:
    return [{"field": p.field, "message": p.message} for p in problems]


# --------------------------------------------------------------------------- templates


async def summaries(publisher: Publisher) -> list[PageSummary]:
    """Every live page with its lint status, by page name."""
    await publisher.pages.sync()
    rows = []
    for page, live in sorted(publisher.pages.pages.items()):
        problems = publisher.lint(live.template)
        rows.append(
            PageSummary(
                page=page,
                title=live.template.title,
                live_version=live.record.version,
                lint="failing" if problems else "ok",
                problems=len(problems),
                published_by=live.record.author,
                published_at=live.record.created,
                message=live.record.message,
                variants=len(live.template.variants),
            )
        )
    return rows


async def live_page(pages: LivePages, page: str) -> LivePage:
    """The page's live version; NotFound when there is none (saying so when the page was
    archived: its history is kept, and the console's tabs lead here from it)."""
    await pages.sync()
    try:
        return pages.page(page)
    except UnknownPage:
        raise no_live_page(shown(page), page in pages.archived) from None


def document(record: TemplateRecord) -> dict[str, Any]:
    """A stored version as the JSON document the API returns and the editor shows."""
    value: dict[str, Any] = msgspec.json.decode(record.document)
    return value


def template_field(body: Any) -> Any:
    """The `template` member of a request body (BadRequest when it is missing)."""
    if not isinstance(body, Mapping) or "template" not in body:
        raise BadRequest('the body must be {"template": {...}}', "template")
    return body["template"]


def check_draft(
    publisher: Publisher, page: str, data: Any
) -> tuple[Template | None, list[Problem]]:
    """Schema and accessibility lint of a decoded draft, plus: it must be a template of `page`."""
    if not isinstance(data, Mapping):
        return None, [Problem("template", "must be a JSON object (the template document)")]
    template, problems = publisher.decode_template(data)
    if template is not None and template.page != page:
        problems.insert(0, Problem("page", f"template is for page {template.page!r}, not {page!r}"))
    return template, problems


def decode_text(text: str) -> Any:
    """An editor's text as a document: JSON, or YAML as in `layouts/` (DocumentError)."""
    if not text.strip():
        raise DocumentError("the template is empty", "template")
    return decode(text, format_of_text(text), None, DEFAULT_LIMITS)


def problem_of(exc: DocumentError, text: str) -> Problem:
    """A decoding failure as the editor shows it: where, and what."""
    if exc.field == "template":
        return Problem("template", exc.message)
    what = "not valid JSON" if format_of_text(text) == "json" else "not valid YAML or JSON"
    return Problem(exc.where or "template", f"{what}: {exc.detail}")


async def publish(
    publisher: Publisher,
    drafts: DraftStore,
    page: str,
    template: Template,
    author: str,
    message: str,
    options: PublishOptions | None = None,
) -> PageState:
    """Store a new live (or staged) version; the page as the write left it (`head`: the
    version). PublishRefused: nothing stored, the live one keeps serving; Conflict (409):
    stale base or a rollout running, nothing stored. The author's draft of the page is done
    with once it is published (`uiserver.admin.drafts`)."""
    try:
        applied = await publisher.publish(page, template, author, message, options)
    except TemplateConflict as exc:
        raise await conflict(publisher, page, exc) from None
    await drafts.delete_draft(author, page)
    return applied


async def rollback(
    publisher: Publisher,
    page: str,
    version: str,
    author: str,
    options: PublishOptions | None = None,
) -> PageState:
    """Publish an earlier version anew (the page after it); NotFound for an unknown version,
    PublishRefused when it fails today's lint, Conflict as for `publish`."""
    try:
        return await publisher.rollback(page, version, author, options)
    except UnknownVersion:
        raise NotFound(f"page {shown(page)} has no version {shown(version)}", "version") from None
    except TemplateConflict as exc:
        raise await conflict(publisher, page, exc) from None


async def conflict(publisher: Publisher, page: str, exc: TemplateConflict) -> Conflict:
    """A store's refusal as the API answers it: a stale base names the live version and what
    changed since the base (the structured form of `/diff`; empty when the base is not a
    version of the page)."""
    extra: dict[str, Any] = {}
    if isinstance(exc, StaleBase):
        extra["live_version"] = exc.live.version if exc.live is not None else None
        changes: list[Change] = []
        base = await publisher.version(page, exc.base[0]) if exc.base else None
        if base is not None and exc.live is not None:
            changes = await asyncio.to_thread(document_changes, base.document, exc.live.document)
        extra["changes"] = changes
    elif isinstance(exc, RolloutRunning):
        extra["live_version"] = exc.rollout.version
        extra["rollout"] = rollout_state(exc.rollout)
    return Conflict(exc.code, exc.message, exc.field, extra)


async def set_rollout(publisher: Publisher, page: str, percent: int, author: str) -> PageState:
    """Widen or narrow the page's rollout (the page after it); Conflict `no_rollout` when
    none runs, NotFound for a page never published."""
    try:
        return await publisher.set_rollout(page, percent, author)
    except NoRollout as exc:
        raise await conflict(publisher, page, exc) from None
    except NeverPublished:
        raise NotFound(f"no page {shown(page)}", "page") from None


async def end_rollout(
    publisher: Publisher, page: str, outcome: Literal["promote", "abort"], author: str
) -> PageState:
    """Promote or abort the page's rollout (the page after it); Conflict `no_rollout` when
    none runs, NotFound for a page never published."""
    try:
        return await publisher.end_rollout(page, outcome, author)
    except NoRollout as exc:
        raise await conflict(publisher, page, exc) from None
    except NeverPublished:
        raise NotFound(f"no page {shown(page)}", "page") from None


async def archive(publisher: Publisher, page: str, author: str) -> PageState:
    """Take the page down (clients get 404; history kept); the page after it (`archived`
    set). NotFound: never published."""
    try:
        return await publisher.archive(page, author)
    except NeverPublished:
        raise NotFound(f"no page {shown(page)}", "page") from None


# --------------------------------------------------------------------------- history and diff


async def history(publisher: Publisher, page: str) -> list[HistoryEntry]:
    """Versions newest first, each with its share of users now; NotFound when the page has
    none."""
    records = await publisher.history(page)
    if not records:
        raise NotFound(f"no page {shown(page)}", "page")
    state = await publisher.state(page)
    shares: dict[str, int] = {}
    if state is not None and state.archived is None:
        rollout = state.rollout
        if rollout is not None and rollout.version == state.head.version:
            shares = {rollout.previous: 100 - rollout.percent, rollout.version: rollout.percent}
        else:
            shares = {state.head.version: 100}
    entries = []
    for i, r in enumerate(records):
        entries.append(
            HistoryEntry(
                r.version, r.seq, r.author, r.message, r.created, i == 0, shares.pop(r.version, 0)
            )
        )
    return entries


async def version_record(
    publisher: Publisher, page: str, version: str, field: str
) -> TemplateRecord:
    if not version:
        raise BadRequest(f"{field} is required", field)
    record = await publisher.version(page, version)
    if record is None:
        raise NotFound(f"page {shown(page)} has no version {shown(version)}", field)
    return record


async def diff(publisher: Publisher, page: str, old: str, new: str) -> Diff:
    before = await version_record(publisher, page, old, "from")
    after = await version_record(publisher, page, new, "to")
    result = await asyncio.to_thread(
        diff_documents, before.document, after.document, f"{page}@{old}", f"{page}@{new}"
    )
    return Diff(page, old, new, result["unified"], result["changes"], result["unified_complete"])
