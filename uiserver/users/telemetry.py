"""Telemetry counters (taps, impressions, render errors: `engine.telemetry`) folded in memory and
written behind, in groups, as launch counters are (`serving.recorder`).

Every events batch with a tap added its counts in a transaction of its own (three Redis
commands, or a SQLite transaction, a batch). The counters carry no user id and only grow, so
batches from every user fold into one pending table here, and a task writes all of it
`interval` seconds after the first pending count: one transaction for many batches. Reads add
what is still pending, so this process (a rollout guardrail reading render errors, the console)
sees its own counts at once; another replica sees them after at most `interval`.

A read and a write exclude each other (one lock): a write takes the pending table before the
store has it, so a read in that moment would see neither, and the store may commit a write
before its call returns, so a read cannot add an in-flight table without counting it twice
when the store already has it. A read during a write waits for it (one store call) and then
sees stored + pending exactly.

Nothing acknowledged is lost on a clean stop: `close()` (the server's shutdown, SIGTERM) writes
what is pending. A failed write (store unreachable) keeps its counts pending for the next one.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping

from uiserver.engine.telemetry import ComponentCounts, CounterKey, rows
from uiserver.store.base import StoreUnavailable, TelemetryStore
from uiserver.types import EventKind

log = logging.getLogger("uiserver")


class BufferedTelemetry:
    """A `TelemetryStore` in front of the store's: `add_counts` folds, a task writes behind."""

    def __init__(self, store: TelemetryStore, interval: float = 1.0) -> None:
        self.store = store
        self.interval = interval
        self._pending: dict[CounterKey, int] = {}
        self._task: asyncio.Task[None] | None = None
        self._writing = asyncio.Lock()  # held by a write and by a read (see the module doc)
        self.writes = 0

    async def add_counts(self, counts: Mapping[CounterKey, int]) -> None:
        """Fold `counts` into the pending table; the write follows within `interval` s."""
        pending = self._pending
        for key, n in counts.items():
            pending[key] = pending.get(key, 0) + n
        if pending and (self._task is None or self._task.done()):
            self._task = asyncio.get_running_loop().create_task(self._write_later())

    async def component_counts(
        self, page: str, version: str | None = None
    ) -> list[ComponentCounts]:
        """The store's counters plus what this process has not written yet; after a write in
        flight (so its counts are neither missed nor counted twice). StoreUnavailable."""
        async with self._writing:
            stored = await self.store.component_counts(page, version)
            mine = {
                key: n
                for key, n in self._pending.items()
                if key.page == page and (version is None or key.version == version)
            }
        if not mine:
            return stored
        merged: dict[CounterKey, int] = dict(mine)
        for row in stored:
            kinds: tuple[tuple[EventKind, int], ...] = (
                ("impression", row.impressions),
                ("click", row.clicks),
                ("render_error", row.render_errors),
            )
            for kind, n in kinds:
                if n:
                    key = CounterKey(row.page, row.version, row.component, row.mode, kind)
                    merged[key] = merged.get(key, 0) + n
        return rows(merged)

    async def _write_later(self) -> None:
        await asyncio.sleep(self.interval)
        try:
            await self.flush()
        except StoreUnavailable as exc:  # kept pending: the next batch schedules a new write
            log.warning("telemetry counters not written yet: %s", exc)

    async def flush(self) -> None:
        """Write everything pending in one store call. Raises StoreUnavailable (the counts stay
        pending)."""
        async with self._writing:
            batch, self._pending = self._pending, {}
            if not batch:
                return
            try:
                await self.store.add_counts(batch)
            except BaseException:
                for key, n in batch.items():  # back in front of whatever came meanwhile
                    self._pending[key] = self._pending.get(key, 0) + n
                raise
            self.writes += 1

    async def close(self) -> None:
        """Write what is pending (shutdown); the background task is not needed any more."""
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
        await self.flush()
