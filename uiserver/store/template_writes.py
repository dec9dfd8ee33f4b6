"""What every template write does, decided once for both backends.

Each backend reads the page's state inside its transaction (SQLite: `BEGIN IMMEDIATE`; Redis:
WATCH ... MULTI/EXEC), asks a `plan_*` function here what to write, and writes it. So the
compare-and-set of `If-Match`, the rules of staged rollouts and archiving, and each new entry's
bucket allocation (`store.allocations`: an edit of the predecessor's, read in the same
transaction, so a concurrent publish cannot make it skip an edit) are the same whatever the
store, and a refusal (an exception) leaves nothing written.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import msgspec

from uiserver.store._common import check_same_document
from uiserver.store.allocations import following
from uiserver.store.base import (
    Archived,
    NeverPublished,
    NoRollout,
    PageState,
    PublishOptions,
    Rollout,
    RolloutRunning,
    StaleBase,
    TemplateRecord,
)

NO_OPTIONS = PublishOptions()
UNCHANGED: Literal["unchanged"] = "unchanged"


@dataclass(slots=True)
class Writes:
    """What to write: history entries to append (in order), the page's rollout afterwards
    (`UNCHANGED`, None: none, or a Rollout, with `previous`: the record of the version the
    others keep), the archive marker to set or clear."""

    result: TemplateRecord
    appends: list[TemplateRecord] = field(default_factory=list)
    rollout: Rollout | Literal["unchanged"] | None = UNCHANGED
    archive: Archived | None = None
    unarchive: bool = False
    previous: TemplateRecord | None = None

    @property
    def changed(self) -> bool:
        return (
            bool(self.appends)
            or self.rollout != UNCHANGED
            or self.archive is not None
            or self.unarchive
        )

    def after(self, state: PageState | None) -> PageState:
        """The page as these writes leave `state` (the state they were planned on)."""
        head = self.appends[-1] if self.appends else self.result
        if state is None:
            return PageState(head, self.archive, _new(self.rollout), self.previous)
        archived = self.archive or (None if self.unarchive else state.archived)
        if self.rollout == UNCHANGED:
            return PageState(head, archived, state.rollout, state.previous)
        return PageState(head, archived, self.rollout, self.previous if self.rollout else None)


def _new(rollout: Rollout | Literal["unchanged"] | None) -> Rollout | None:
    return rollout if isinstance(rollout, Rollout) else None


def _entry(
    record: TemplateRecord, seq: int, author: str, message: str, now: float, source: str = ""
) -> TemplateRecord:
    return msgspec.structs.replace(
        record, seq=seq, author=author, message=message, created=now, source=source
    )


def plan_publish(
    page: str,
    version: str,
    document: bytes,
    author: str,
    message: str,
    now: float,
    options: PublishOptions | None,
    state: PageState | None,
    earlier: TemplateRecord | None,
    history: Sequence[TemplateRecord] = (),
) -> Writes:
    """A publish (or rollback): see `TemplateStore.publish`. `earlier` is the newest entry of
    `version`, if any (versions are immutable); `history` the page's entries, read in the
    same transaction (an experiment id changed back edits its own last allocation)."""
    options = options or NO_OPTIONS
    head = state.head if state is not None else None
    archived = state is not None and state.archived is not None
    running = state.rollout if state is not None and not archived else None
    # The precondition first: a stale base is refused even when the content happens to be
    # the live version (the caller's edit was made on something else; RFC 9110 13.1.1).
    if options.base is not None and (head is None or head.version not in options.base):
        raise StaleBase(page, options.base, head)
    if head is not None and head.version == version and not archived and running is None:
        check_same_document(head, document)
        return Writes(head)  # idempotent: nothing to do
    if earlier is not None:
        check_same_document(earlier, document)
    writes = Writes(head) if head is not None else Writes(_placeholder(page))
    seq = head.seq if head is not None else 0
    keep = head  # the version the others keep if this publish is staged
    if running is not None:
        if options.running == "refuse":
            raise RolloutRunning(running)
        writes.rollout = None
        if options.running == "abort":
            assert state is not None and state.previous is not None
            seq += 1
            keep = _entry(state.previous, seq, author, f"rollout of {running.version} aborted", now)
            writes.appends.append(keep)
    staged = options.rollout is not None and options.rollout < 100
    if staged and (keep is None or archived):
        raise NoRollout(
            f"page {page!r} has no live version for the other users to keep; "
            "publish it without a rollout"
        )
    if keep is not None and keep.version == version and not archived:
        writes.result = keep  # e.g. promoting the rollout of this very version
        return writes
    record = TemplateRecord(
        page,
        version,
        bytes(document),
        author,
        message,
        now,
        seq + 1,
        options.source,
        following(document, keep, history),  # an edit of what the others are served now
    )
    writes.appends.append(record)
    writes.result = record
    writes.unarchive = archived
    if staged:
        assert keep is not None and options.rollout is not None
        writes.rollout = Rollout(page, version, keep.version, options.rollout, author, now, now)
        writes.previous = keep
    return writes


def _placeholder(page: str) -> TemplateRecord:
    return TemplateRecord(page, "", b"", "", "", 0.0, 0)


def _running(page: str, state: PageState | None) -> tuple[PageState, Rollout]:
    if state is None:
        raise NeverPublished(page)
    if state.rollout is None or state.archived is not None:
        raise NoRollout(f"page {page!r} has no rollout running")
    return state, state.rollout


def plan_percent(page: str, percent: int, now: float, state: PageState | None) -> Writes:
    """The running rollout at a new share (1..100); NoRollout when none runs, NeverPublished
    for a page without history."""
    state, rollout = _running(page, state)
    changed = msgspec.structs.replace(rollout, percent=percent, updated=now)
    return Writes(state.head, rollout=changed, previous=state.previous)


def plan_end(
    page: str,
    outcome: Literal["promote", "abort"],
    author: str,
    now: float,
    state: PageState | None,
    message: str = "",
) -> Writes:
    """Promote (the new version stays, for everyone) or abort (the previous one is
    republished as a new entry, with `message` or a default one); NoRollout when none runs,
    NeverPublished for a page without history."""
    state, rollout = _running(page, state)
    if outcome == "promote":
        return Writes(state.head, rollout=None)
    assert state.previous is not None
    text = message or f"rollout of {rollout.version} aborted"
    back = _entry(state.previous, state.head.seq + 1, author, text, now)
    return Writes(back, appends=[back], rollout=None)


def plan_archive(page: str, author: str, now: float, state: PageState | None) -> Writes:
    """Archive the page and end its rollout; NeverPublished when it was never published."""
    if state is None:
        raise NeverPublished(page)
    if state.archived is not None:
        return Writes(state.head)
    return Writes(
        state.head,
        archive=Archived(page, author, now),
        rollout=None if state.rollout is not None else UNCHANGED,
    )
