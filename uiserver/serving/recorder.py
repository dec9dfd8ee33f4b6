"""Launch counters and experiment exposures, coalesced in memory and written in the background.

A layout GET never waits on these writes (DESIGN section 7: the warm path has ~12 us). Only a
cold serve (a memo miss: the first launch of a user in a day, a profile change, a new query)
calls `note`, a few dict operations; a task started on the first pending note writes everything
pending after `interval` seconds in one store call. At most one launch write per user per UTC day:
a user whose loaded counters already show a launch today is skipped, and so is one this process
already queued or wrote today (`seen`, bounded). An exposure is noted once per (user,
experiment, variant, day), with the time served and the user's cohort: the store counts a
user's first exposure to each variant exactly (its marker), the day sketches count distinct
users per day.

A failed write (store unreachable) is logged and dropped, and its users forgotten from `seen`, so
a later launch notes them again.
"""

from __future__ import annotations

import asyncio
import logging
import time
import traceback

from uiserver.datastructures import BoundedDict
from uiserver.schema import Profile
from uiserver.store.base import ActivityStore, Exposure, StoreUnavailable

log = logging.getLogger("uiserver")


class ActivityRecorder:
    """`note(profile, day, experiment, variant)` on a cold serve; `flush()` writes now."""

    def __init__(
        self, store: ActivityStore, interval: float = 1.0, seen_size: int = 100_000
    ) -> None:
        self.store = store
        self.interval = interval
        self._launches: dict[str, tuple[int, int, int]] = {}  # user -> (day, launches, epoch)
        # (user, experiment + variant) -> exposure
        self._exposures: dict[tuple[str, str], Exposure] = {}
        self._seen: BoundedDict[tuple[str, str], int] = BoundedDict(seen_size)
        self._task: asyncio.Task[None] | None = None
        # Held by each write: `close` waits for a background write already in flight before
        # the store may be closed under it.
        self._writing = asyncio.Lock()
        self.writes = 0
        self.failures = 0  # background writes that failed with an unexpected error (a bug)

    def note(
        self,
        profile: Profile,
        day: int,
        experiment: str | None,
        variant: str | None,
        cohort: str = "",
        new_user_days: int = 7,
    ) -> None:
        """A signed-in user was served a layout on `day` (and `variant` of `experiment`, the
        user in `cohort`, `engine.activity.cohort_of`).

        Every variant a user is served is noted (once per user, experiment, variant and day):
        a user moved by a weight edit is exposed to the new variant too. The store decides
        whether it is the user's first exposure to it (the marker in their counters) and
        counts it exactly then. Users with personalization off are bucketed and counted as
        exposed (an experiment is not personalization), but nothing about them is kept: no
        launch counters, no marker (only the variant's sketches count them).
        """
        user_id = profile.user_id
        if not user_id:
            return
        activity = profile.activity
        personal = profile.settings.personalization > 0
        queued = False
        if personal and (activity is None or activity.days.get(day, 0) == 0):
            pending = self._launches.get(user_id)
            if pending is not None and pending[0] == day:
                self._launches[user_id] = (day, pending[1] + 1, pending[2])
            elif self._seen.get((user_id, "")) != day:
                self._launches[user_id] = (day, 1, profile.epoch)
                self._seen[user_id, ""] = day
                queued = True
        if experiment is not None and variant is not None:
            exposed = self._expose(
                profile, day, experiment, variant, cohort, new_user_days, personal
            )
            queued = queued or exposed
        if queued:
            self._schedule()

    def expose(
        self,
        profile: Profile,
        day: int,
        experiment: str,
        variant: str,
        cohort: str = "",
        new_user_days: int = 7,
    ) -> None:
        """An exposure only (no launch counted): the arm of a staged rollout a user was served
        (`engine.guardrails.arm_experiment`), noted like a variant of an experiment."""
        if not profile.user_id:
            return
        personal = profile.settings.personalization > 0
        if self._expose(profile, day, experiment, variant, cohort, new_user_days, personal):
            self._schedule()

    def _expose(
        self,
        profile: Profile,
        day: int,
        experiment: str,
        variant: str,
        cohort: str,
        new_user_days: int,
        personal: bool,
    ) -> bool:
        user_id = profile.user_id
        key = (user_id, f"{experiment}\x1f{variant}")
        if self._seen.get(key) == day:
            return False
        self._seen[key] = day
        # The first note of a (user, experiment, variant) in this batch keeps its time.
        self._exposures.setdefault(
            (user_id, key[1]),
            Exposure(
                experiment,
                variant,
                day,
                user_id,
                personal,
                profile.epoch,
                time.time(),
                cohort,
                new_user_days,
            ),
        )
        return True

    def _schedule(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._later())

    async def _later(self) -> None:
        try:
            if self.interval > 0:
                await asyncio.sleep(self.interval)
        finally:
            self._task = None  # notes from now on start the next task
        try:
            await self.flush()
        except Exception as exc:  # nobody awaits this task: say what went wrong, keep the next
            self.failures += 1
            log.error(  # the message may quote a user id: DEBUG only
                "unexpected %s in a background activity write\n%s",
                type(exc).__qualname__,
                "".join(traceback.format_tb(exc.__traceback__)).rstrip(),
            )
            log.debug("background activity write: %r", exc)

    async def flush(self) -> None:
        """Write everything pending now (one store call), after any write in flight."""
        async with self._writing:
            await self._write_pending()

    async def _write_pending(self) -> None:
        launches, self._launches = self._launches, {}
        exposures, self._exposures = self._exposures, {}
        if not launches and not exposures:
            return
        try:
            await self.store.record_activity(launches, list(exposures.values()))
            self.writes += 1
        except StoreUnavailable as exc:
            log.warning("activity write failed, %d launches dropped: %s", len(launches), exc)
            for user_id in launches:
                self._seen.pop((user_id, ""), None)
            for key in exposures:
                self._seen.pop(key, None)

    async def close(self) -> None:
        """Write what is pending, after a background write in flight (shutdown)."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
        await self.flush()
