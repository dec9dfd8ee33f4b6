"""Store roles that record the acts they carry out: every path that changes templates or
drafts (the admin API, the console, `uiserver publish`, `layouts/` at start, automatic rollout
steps) goes through them, so none is left out.

Templates: `before` and `after` are the page as it was and as the write left it
(`page_summary`: version, seq, rollout, archived); a publish, rollback or abort also carries a
diff summary of the live template (`diff_summary`, from `publishing.diff`). A write that
changed nothing (republishing the live version, archiving an archived page) records nothing.
`before` is read just before the write, outside its transaction: a write another replica
makes in between is its own entry, and this one's `before` may already include it.

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
from typing import Any, Literal

import msgspec

from uiserver.audit.log import AuditLog
from uiserver.policy import Policy
from uiserver.publishing.diff import Change, document_changes, structured_changes
from uiserver.store.base import (
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


async def diff_summary(old: TemplateRecord, new: TemplateRecord) -> dict[str, Any]:
    """The summary of what changed from `old` to `new` (computed in a thread: CPU-bound)."""
    changes = await asyncio.to_thread(document_changes, old.document, new.document)
    return summarize(changes)


def _changed(before: PageState | None, after: PageState) -> bool:
    return page_summary(before) != page_summary(after)


class AuditedTemplates:
    """A `TemplateStore` that records each write it makes (reads pass through)."""

    def __init__(self, inner: TemplateStore, audit: AuditLog) -> None:
        self.inner = inner
        self.audit = audit

    async def _state(self, page: str) -> PageState | None:
        return (await self.inner.states(page)).get(page)

    async def _record(
        self,
        act: str,
        author: str,
        page: str,
        before: PageState | None,
        after: PageState,
        details: dict[str, Any],
    ) -> None:
        if before is not None and before.head.document != after.head.document:
            details["diff"] = await diff_summary(before.head, after.head)
        await self.audit.record(
            act, author, page, page_summary(before), page_summary(after), details
        )

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
        before = await self._state(page)
        earlier = await self.inner.get_version(page, version) if before is not None else None
        applied = await self.inner.publish(page, version, document, author, message, now, options)
        if not _changed(before, applied):
            return applied
        rollback = earlier is not None and before is not None and before.head.version != version
        details: dict[str, Any] = {"message": message}
        if options is not None and options.source:
            details["source"] = options.source
        act = "template.rollback" if rollback else "template.publish"
        await self._record(act, author, page, before, applied, details)
        return applied

    async def set_rollout(self, page: str, percent: int, author: str, now: float) -> PageState:
        before = await self._state(page)
        applied = await self.inner.set_rollout(page, percent, author, now)
        if _changed(before, applied):
            await self._record("rollout.set", author, page, before, applied, {})
        return applied

    async def end_rollout(
        self,
        page: str,
        outcome: Literal["promote", "abort"],
        author: str,
        now: float,
        message: str = "",
    ) -> PageState:
        before = await self._state(page)
        applied = await self.inner.end_rollout(page, outcome, author, now, message)
        await self._record(f"rollout.{outcome}", author, page, before, applied, {})
        return applied

    async def archive(self, page: str, author: str, now: float) -> PageState:
        before = await self._state(page)
        applied = await self.inner.archive(page, author, now)
        if _changed(before, applied):
            await self.audit.record(
                "template.archive", author, page, page_summary(before), page_summary(applied)
            )
        return applied

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
