"""Store roles that record the acts they carry out: every path that changes templates or
drafts (the admin API, the console, `uiserver publish`, `layouts/` at start, automatic rollout
steps) goes through them, so none is left out.

Templates: `before` and `after` are the page as it was and as the write left it
(`page_summary`: version, seq, rollout, archived); a publish, rollback or abort also carries a
diff summary of the live template (`summarize`, from `publishing.diff`). A write that
changed nothing (republishing the live version, archiving an archived page) records nothing.
On SQLite the entry is appended in the write's own transaction, `before` read in it: an act
and its entry commit together or not at all. On Redis it is appended right after the write,
`before` read just before it: a write another replica makes in between is its own entry, and
this one's `before` may already include it; a process death in between loses the entry.

    act                 when
    template.publish    a new version (live, or staged: `after.rollout`)
    template.rollback   a version published before, published again
    template.archive    the page taken down
    rollout.set         the rollout widened or narrowed (`before`/`after` percents)
    rollout.promote     the new version for everyone
    rollout.abort       everyone back to the previous version
    draft.create        a designer started a draft of a page
    draft.discard       a draft deleted (discarded, or published)

    policy.change       the policy in force differs from the last one recorded (at start)

Acts made elsewhere: `segments.import` (`admin.segments`: counts), `token.revoke`
(`revocation_details`), `user.erase` (`http.me`: a count, actor `user`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, Literal, cast

import msgspec

from uiserver.audit.log import AuditLog
from uiserver.policy import Policy
from uiserver.publishing.diff import Change, document_changes, structured_changes
from uiserver.store.base import (
    AtomicAuditTemplates,
    AuditEntry,
    AuditQuery,
    DraftRecord,
    DraftStore,
    PageState,
    PublishOptions,
    Revocation,
    TemplateRecord,
    TemplateStore,
)

# The components and fields a diff summary names, at most (the counts are always whole).
SUMMARY_NAMES = 20


def page_summary(state: PageState | None) -> dict[str, Any] | None:
    """`{"version", "seq", "rollout": {"version", "previous", "percent"} | None, "archived"}`
    of a page as stored, or None for a page without history."""
    if state is None:
        return None
    rollout = state.rollout
    return {
        "version": state.head.version,
        "seq": state.head.seq,
        "rollout": None
        if rollout is None
        else {"version": rollout.version, "previous": rollout.previous, "percent": rollout.percent},
        "archived": state.archived is not None,
    }


def summarize(changes: list[Change]) -> dict[str, Any]:
    """`{"added", "removed", "moved", "changed": counts, "components": [ids], "fields":
    [paths]}`: what a reviewer reads first, at most SUMMARY_NAMES names each."""
    counts = {kind: 0 for kind in ("added", "removed", "moved", "changed")}
    components: list[str] = []
    fields: list[str] = []
    for change in changes:
        counts[change["kind"]] += 1
        component = change.get("component")
        if component is not None and component not in components:
            components.append(component)
        if "field" in change:
            fields.append(change["field"])
    return {**counts, "components": components[:SUMMARY_NAMES], "fields": fields[:SUMMARY_NAMES]}


def _changed(before: PageState | None, after: PageState) -> bool:
    return page_summary(before) != page_summary(after)


class _Act:
    """The `AuditHook` of one template write: its entry from the page before and after it
    (none when the write changed nothing, unless `always`), with a diff summary of the live
    template when it changed (`diff`). Summaries computed ahead (`prepare`, in a thread) are
    used when the documents match; otherwise the hook computes it (inside the transaction)."""

    def __init__(
        self,
        audit: AuditLog,
        act: Callable[[PageState | None], str],
        author: str,
        page: str,
        details: dict[str, Any] | None = None,
        *,
        always: bool = False,
        diff: bool = True,
    ) -> None:
        self.audit = audit
        self.act = act
        self.author = author
        self.page = page
        self.details = details or {}
        self.always = always
        self.diff = diff
        self.summaries: dict[tuple[bytes, bytes], dict[str, Any]] = {}

    async def prepare(self, old: bytes, new: bytes) -> None:
        if self.diff and old != new and (old, new) not in self.summaries:
            changes = await asyncio.to_thread(document_changes, old, new)
            self.summaries[old, new] = summarize(changes)

    def entry(self, before: PageState | None, after: PageState) -> AuditEntry | None:
        if not self.always and not _changed(before, after):
            return None
        details = dict(self.details)
        if self.diff and before is not None and before.head.document != after.head.document:
            key = (before.head.document, after.head.document)
            found = self.summaries.get(key)
            details["diff"] = summarize(document_changes(*key)) if found is None else found
        summaries = page_summary(before), page_summary(after)
        return self.audit.entry(self.act(before), self.author, self.page, *summaries, details)

    def stored(self, entry: AuditEntry) -> None:
        self.audit.appended(entry)


class AuditedTemplates:
    """A `TemplateStore` that records each write it makes (reads pass through): in the
    write's own transaction when the store can (`AtomicAuditTemplates`: SQLite), else right
    after it, `before` read just before it (Redis: a failure or a process death between the
    two loses the entry, `AuditLog.record`)."""

    def __init__(self, inner: TemplateStore, audit: AuditLog) -> None:
        self.inner = inner
        self.audit = audit
        self.atomic: AtomicAuditTemplates | None = (
            cast("AtomicAuditTemplates", inner) if hasattr(inner, "audited") else None
        )

    async def _write(
        self,
        page: str,
        hook: _Act,
        write: Callable[[TemplateStore], Awaitable[PageState]],
        before: PageState | None = None,
    ) -> PageState:
        if self.atomic is not None:
            return await write(self.atomic.audited(hook))
        if before is None:
            before = (await self.inner.states(page)).get(page)
        applied = await write(self.inner)
        if before is not None:
            await hook.prepare(before.head.document, applied.head.document)
        made = hook.entry(before, applied)
        if made is not None:
            await self.audit.append(made)
        return applied

    async def publish(
        self,
        page: str,
        version: str,
        document: bytes,
        author: str,
        message: str,
        now: float,
        options: PublishOptions | None = None,
    ) -> PageState:
        before = (await self.inner.states(page)).get(page)
        earlier = await self.inner.get_version(page, version) if before is not None else None

        def act(state: PageState | None) -> str:
            rollback = earlier is not None and state is not None and state.head.version != version
            return "template.rollback" if rollback else "template.publish"

        details: dict[str, Any] = {"message": message}
        if options is not None and options.source:
            details["source"] = options.source
        hook = _Act(self.audit, act, author, page, details)
        if before is not None:  # the usual diff, computed in a thread before the transaction
            await hook.prepare(before.head.document, document)
        return await self._write(
            page,
            hook,
            lambda store: store.publish(page, version, document, author, message, now, options),
            before,
        )

    async def set_rollout(self, page: str, percent: int, author: str, now: float) -> PageState:
        hook = _Act(self.audit, lambda _: "rollout.set", author, page)
        return await self._write(
            page, hook, lambda store: store.set_rollout(page, percent, author, now)
        )

    async def end_rollout(
        self,
        page: str,
        outcome: Literal["promote", "abort"],
        author: str,
        now: float,
        message: str = "",
    ) -> PageState:
        hook = _Act(self.audit, lambda _: f"rollout.{outcome}", author, page, always=True)
        return await self._write(
            page, hook, lambda store: store.end_rollout(page, outcome, author, now, message)
        )

    async def archive(self, page: str, author: str, now: float) -> PageState:
        hook = _Act(self.audit, lambda _: "template.archive", author, page, diff=False)
        return await self._write(page, hook, lambda store: store.archive(page, author, now))

    async def live(self) -> dict[str, TemplateRecord]:
        return await self.inner.live()

    async def live_template(self, page: str) -> TemplateRecord | None:
        return await self.inner.live_template(page)

    async def states(self, page: str | None = None) -> dict[str, PageState]:
        return await self.inner.states(page)

    async def get_version(self, page: str, version: str) -> TemplateRecord | None:
        return await self.inner.get_version(page, version)

    async def history(self, page: str) -> list[TemplateRecord]:
        return await self.inner.history(page)


class AuditedDrafts:
    """A `DraftStore` that records drafts started and discarded (not every keystroke's save:
    the editor saves as the designer types)."""

    def __init__(self, inner: DraftStore, audit: AuditLog) -> None:
        self.inner = inner
        self.audit = audit

    async def put_draft(self, draft: DraftRecord) -> None:
        existed = await self.inner.get_draft(draft.author, draft.page) is not None
        await self.inner.put_draft(draft)
        if not existed:
            details = {"base_version": draft.base_version}
            await self.audit.record("draft.create", draft.author, draft.page, details=details)

    async def get_draft(self, author: str, page: str) -> DraftRecord | None:
        return await self.inner.get_draft(author, page)

    async def delete_draft(self, author: str, page: str) -> bool:
        deleted = await self.inner.delete_draft(author, page)
        if deleted:
            await self.audit.record("draft.discard", author, page)
        return deleted

    async def drafts(self, author: str) -> list[DraftRecord]:
        return await self.inner.drafts(author)


def revocation_details(record: Revocation) -> dict[str, Any]:
    """`{"kind", "jti"?, "not_before", "expires"}` of a revocation: a revoked subject is a
    token `sub`, maybe an end user's id, so it is never named; a `jti` is a token's id."""
    details: dict[str, Any] = {
        "kind": record.kind,
        "not_before": record.not_before,
        "expires": record.expires,
    }
    if record.kind == "jti":
        details["jti"] = record.value
    return details


async def record_policy(audit: AuditLog, policy: Policy, source: str) -> AuditEntry | None:
    """A `policy.change` entry (actor `server`) when the policy this process starts with
    differs from the one the last such entry recorded (the first start records it too):
    `before` and `after` the whole policies (a few KB, only when it changed), `details` the
    file (`source`) and which fields changed (`diff`). Replicas starting together on a
    changed policy may each record it. Raises StoreUnavailable."""
    current: dict[str, Any] = msgspec.json.decode(msgspec.json.encode(policy))  # as stored
    last = (await audit.entries(AuditQuery(limit=1, act="policy.change"))).entries
    before = last[0].after if last else None
    if before == current:
        return None
    details = {"source": source, "diff": summarize(structured_changes(before or {}, current))}
    return await audit.record(
        "policy.change", "server", before=before, after=current, details=details
    )
