"""The audit log: every administrative act, recorded after it committed, kept in the store's
audit role (`store.base.AuditStore`) for `retention` seconds
(`Config.audit_retention`, `UISERVER_AUDIT_RETENTION`; six months by default).

A template write on the SQLite store (publish, rollback, rollout, archive: `audit.acts`)
appends its entry in the write's own transaction: both commit or neither does (an audit append
that fails undoes the act, answered as the store failure it is). Every other act (on Redis,
and drafts, segments, revocations, erasure, schedules on both) is recorded right after the
write it describes committed, never before (an act that failed or changed nothing leaves no
entry). A store failure or a process death between the two loses that one entry: a failure
is logged at ERROR and counted in `lost`, and the act's answer is unchanged (it was applied).
Listeners (`Outbox.wake`) hear of each entry appended in this process.

    audit = AuditLog(store.audit)
    await audit.record("template.archive", "dora", page="home", before={...}, after={...})
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

import msgspec

from uiserver.config import AUDIT_RETENTION
from uiserver.publishing.rollouts.scheduler import RolloutAct
from uiserver.store.base import AuditEntry, AuditPage, AuditQuery, AuditStore, StoreUnavailable
from uiserver.tasks import check_cancelled

log = logging.getLogger("uiserver")

# How often a process prunes the log (seconds).
PRUNE_EVERY = 3_600.0


class AuditLog:
    """Records acts and reads them back; `clock` (Unix seconds) is injectable in tests."""

    def __init__(
        self,
        store: AuditStore,
        retention: float = AUDIT_RETENTION,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.retention = retention
        self.clock = clock
        self.lost = 0  # entries not recorded because the store failed
        self.listeners: list[Callable[[AuditEntry], None]] = []

    async def record(
        self,
        act: str,
        actor: str,
        page: str = "",
        before: dict[str, Any] | None = None,
        after: dict[str, Any] | None = None,
        details: dict[str, Any] | None = None,
        at: float | None = None,
    ) -> AuditEntry | None:
        """Append one entry (the act already happened, at `at`, default now); the entry as
        stored, or None when the store failed (logged, counted in `lost`; never raised: the
        act stands)."""
        return await self.append(self.entry(act, actor, page, before, after, details, at))

    async def append(self, entry: AuditEntry) -> AuditEntry | None:
        """Append `entry` (made by `entry`) as `record` does: the entry as stored, or None
        when the store failed (logged, counted in `lost`)."""
        try:
            stored = await self.store.append(entry)
        except StoreUnavailable as exc:
            self.lost += 1
            log.error(
                "audit entry %s on %r by %s not recorded: %s",
                entry.act,
                entry.page,
                entry.actor,
                exc,
            )
            return None
        self.appended(stored)
        return stored

    def entry(
        self,
        act: str,
        actor: str,
        page: str = "",
        before: dict[str, Any] | None = None,
        after: dict[str, Any] | None = None,
        details: dict[str, Any] | None = None,
        at: float | None = None,
    ) -> AuditEntry:
        """The entry `record` would append (id 0), for a store that appends it in the act's
        own transaction (`store.base.AuditHook`); then `appended`."""
        when = self.clock() if at is None else at
        return AuditEntry(0, when, actor, act, page, before, after, details or {})

    def appended(self, stored: AuditEntry) -> None:
        """An entry was appended (here or in an act's transaction): the listeners hear it."""
        for listener in self.listeners:
            listener(stored)

    async def rollout_act(self, act: RolloutAct) -> None:
        """The rollout scheduler's hook (`Scheduler.observers`): each act of a schedule as
        `schedule.<action>` (`advanced`, `held`, `warned`, `rolled_back`, `promoted`,
        `paused`, `resumed`...) by its actor (`scheduler` for automatic ones), at the time it
        was taken, with the schedule, its step and percent, the reason and every guardrail's
        verdict and figures. The page change a step makes is an entry of its own
        (`rollout.set`, `rollout.abort`... through `audit.acts`)."""
        details: dict[str, Any] = {
            "schedule": act.schedule,
            "kind": act.kind,
            "reason": act.reason,
            "step": act.step,
            "percent": act.percent,
        }
        if act.guardrails:
            details["guardrails"] = msgspec.to_builtins(act.guardrails)
        state = {"version": act.version, "previous": act.previous}
        await self.record(
            f"schedule.{act.action}", act.actor, act.page, after=state, details=details, at=act.at
        )

    async def entries(self, query: AuditQuery) -> AuditPage:
        """A page of entries, newest first. Raises StoreUnavailable."""
        return await self.store.entries(query)

    async def prune(self) -> int:
        """Delete the entries older than the retention; how many. Raises StoreUnavailable."""
        return await self.store.prune(self.clock() - self.retention)

    async def keep_pruning(self, every: float = PRUNE_EVERY) -> None:
        """Prune now and then every `every` seconds, until cancelled (a failing store is
        logged and tried again next time; a cancel a store call swallowed ends it at the next
        turn: `uiserver.tasks`)."""
        while True:
            check_cancelled()
            try:
                removed = await self.prune()
            except StoreUnavailable as exc:
                log.warning("audit log not pruned: %s", exc)
            else:
                if removed:
                    log.info("audit log: %d entries past the retention pruned", removed)
            await asyncio.sleep(every)
