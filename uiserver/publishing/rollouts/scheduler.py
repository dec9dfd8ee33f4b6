"""The scheduler: runs in every replica, looks at each active schedule every `interval`
seconds and takes its next step (`engine.guardrails.decide`); exactly one replica acts on each.

How exactly one acts, across replicas and restarts: every step is first decided as a
compare-and-set of the schedule's stored revision (`ScheduleStore.update_schedule`) that also
appends the timeline entry and records what is still to be applied to the page (`pending`).
Only the replica whose write won applies it (sets the percent, promotes, aborts, publishes) and
then clears `pending` with another compare-and-set. A replica killed in between leaves
`pending` set: whichever replica looks next, `APPLY_GRACE_S` later, applies it (each apply is
idempotent: it checks the page first); an intent stamped more than `APPLY_GRACE_S` ahead of the
looking replica's clock (the clock moved back) is applied at once, never held until the clock
catches up. A losing replica re-reads and decides again.

The audit hook: every administrative rollout act (each step, hold, warning, rollback, promote,
pause, resume, a scheduled publish or revert, and a person's widen, promote or abort of a
scheduled rollout) is announced once, to each observer in `Scheduler.observers`, as a
`RolloutAct` (announced by the replica whose write recorded it, after that write).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Awaitable, Callable
from typing import Literal

import msgspec

from uiserver.catalog import decode_document, template_to_json, template_version
from uiserver.engine.guardrails import (
    ARMS,
    SCREEN_READER,
    Arms,
    Decision,
    Figures,
    Guardrail,
    RenderCounts,
    Step,
    Verdict,
    arm_experiment,
    compared,
    decide,
    evaluate,
)
from uiserver.publishing.publisher import Publisher, PublishRefused
from uiserver.publishing.rollouts.model import (
    ACTIVE,
    Event,
    Kind,
    Pending,
    Schedule,
    Status,
    decode_schedule,
    encode_schedule,
    new_id,
    with_event,
)
from uiserver.schema import Template
from uiserver.store.base import (
    ActivityStore,
    NeverPublished,
    PageState,
    PublishOptions,
    Rollout,
    ScheduleRow,
    ScheduleStore,
    StoreUnavailable,
    TelemetryStore,
    TemplateConflict,
)
from uiserver.tasks import check_cancelled

log = logging.getLogger("uiserver")

SCHEDULER = "scheduler"  # the actor of automatic acts
APPLY_GRACE_S = 10.0  # an intent older than this was left by a replica that stopped: apply it
Clock = Callable[[], float]
# (page, version) -> (render errors, impressions) the SDK reported for that template version.
RenderSource = Callable[[str, str], Awaitable[tuple[int, int]]]


class RolloutAct(msgspec.Struct, frozen=True):
    """One administrative rollout act, as observers (the audit log) receive it."""

    page: str
    schedule: str
    kind: str
    actor: str
    action: str
    reason: str
    at: float
    version: str
    previous: str
    step: int
    percent: int
    guardrails: list[Verdict] = []


Observer = Callable[[RolloutAct], Awaitable[None]]


def telemetry_source(telemetry: TelemetryStore) -> RenderSource:
    """Render errors and impressions of a template version, summed over its components and
    modes, from the renderer's counters (`engine.telemetry`, reported by the SDK)."""

    async def counts(page: str, version: str) -> tuple[int, int]:
        rows = await telemetry.component_counts(page, version)
        return sum(r.render_errors for r in rows), sum(r.impressions for r in rows)

    return counts


class ScheduleConflict(Exception):
    """The page already has an active schedule (409 `schedule_conflict`)."""

    code = "schedule_conflict"

    def __init__(self, existing: Schedule) -> None:
        super().__init__(
            f"page {existing.page!r} already has an active {existing.kind} schedule "
            f"({existing.id}, {existing.status}, version {existing.version}); cancel it or "
            "wait for it to end"
        )
        self.message = str(self)
        self.existing = existing


class NoSchedule(LookupError):
    """No active schedule on the page (pause, resume, cancel)."""


class NotInState(Exception):
    """A person's act that the schedule's status forbids: pausing a paused schedule
    (`already_paused`), resuming one that is not paused (`not_paused`); 409 naming `status`."""

    def __init__(self, schedule: Schedule, act: Literal["pause", "resume"]) -> None:
        self.code = "already_paused" if act == "pause" else "not_paused"
        done = "nothing to pause" if act == "pause" else "nothing to resume"
        super().__init__(
            f"the {schedule.kind} schedule {schedule.id} of page {schedule.page!r} is "
            f"{schedule.status}" + ("" if act == "pause" else ", not paused") + f": {done}"
        )
        self.message = str(self)
        self.schedule = schedule


class Scheduler:
    """Create schedules, look at them (`tick`, or `run` in the background), pause and resume.

    scheduler = Scheduler(store.schedules, publisher, store.activity)
    scheduler.observers.append(audit_log.rollout_act)   # the audit hook
    schedule, applied = await scheduler.create_ramp(page, template, "alice", "new banner",
                                                    steps, guardrails, start)
    task = asyncio.create_task(scheduler.run())
    """

    def __init__(
        self,
        schedules: ScheduleStore,
        publisher: Publisher,
        counts: ActivityStore,
        *,
        clock: Clock | None = None,
        interval: float = 5.0,
        render: RenderSource | None = None,
    ) -> None:
        self.schedules = schedules
        self.publisher = publisher
        self.counts = counts
        if clock is not None:
            self.clock = clock
        self.interval = interval
        self.render = render
        self.observers: list[Observer] = []
        self.replica = f"{socket.gethostname()}:{os.getpid()}"
        self.failures = 0  # looks that failed with an unexpected error (a bug)

    @property
    def clock(self) -> Clock:
        """Unix seconds now: the publisher's clock (`Publisher.clock`), so the times a manual
        rollout route stamps (`rollout.started`/`updated`) and the scheduler's steps agree.
        Setting it sets the publisher's."""
        return self.publisher.clock

    @clock.setter
    def clock(self, clock: Clock) -> None:
        self.publisher.clock = clock

    def _event(
        self,
        at: float,
        actor: str,
        action: str,
        reason: str,
        step: int = -1,
        percent: int = 0,
        guardrails: list[Verdict] | None = None,
    ) -> Event:
        return Event(at, actor, action, reason, step, percent, guardrails or [], self.replica)

    # ------------------------------------------------------------------ reading

    async def active(self, page: str) -> tuple[ScheduleRow, Schedule] | None:
        for row in await self.schedules.schedules(page):
            if row.active:
                return row, decode_schedule(row.document)
        return None

    async def of_page(self, page: str) -> list[Schedule]:
        """The page's schedules, newest first."""
        return [decode_schedule(r.document) for r in await self.schedules.schedules(page)]

    # ------------------------------------------------------------------ creating

    async def create_ramp(
        self,
        page: str,
        template: Template,
        author: str,
        message: str,
        steps: list[Step],
        guardrails: list[Guardrail],
        start: float,
        options: PublishOptions | None = None,
    ) -> tuple[Schedule, PageState | None]:
        """Claim the page for a ramp schedule; publish the new version at its first step now
        when `start` has come (else the scheduler does at `start`). ScheduleConflict when the
        page has an active schedule; a publish refused (lint, TemplateConflict) marks the
        schedule failed and raises."""
        schedule = self._new(page, "ramp", template, author, message, start)
        schedule = msgspec.structs.replace(schedule, steps=steps, guardrails=guardrails)
        return await self._create(schedule, options, f"ramp {_percents(steps)} scheduled")

    def _new(
        self, page: str, kind: Kind, template: Template, author: str, message: str, start: float
    ) -> Schedule:
        version, document = template_version(template), template_to_json(template)
        now = self.clock()
        return Schedule(
            new_id(), page, kind, author, message, now, "scheduled", version, document, start=start
        )

    async def create_change(
        self,
        page: str,
        template: Template,
        author: str,
        message: str,
        at: float,
        revert_at: float,
    ) -> tuple[Schedule, PageState | None]:
        """Claim the page for a scheduled change: publish `template` at `at`, revert to the
        version live before it at `revert_at` (0: never). ScheduleConflict as `create_ramp`."""
        schedule = self._new(page, "change", template, author, message, at)
        schedule = msgspec.structs.replace(schedule, revert_at=revert_at)
        reason = "publish scheduled" + (", with a revert" if revert_at else "")
        return await self._create(schedule, None, reason)

    async def _create(
        self, schedule: Schedule, options: PublishOptions | None, reason: str
    ) -> tuple[Schedule, PageState | None]:
        now = schedule.created
        due = schedule.start <= now
        pending: Pending = ("start" if schedule.kind == "ramp" else "publish") if due else ""
        schedule = with_event(
            schedule,
            self._event(now, schedule.author, "scheduled", reason),
            pending=pending,
            pending_at=now,
        )
        row = ScheduleRow(schedule.page, schedule.id, 1, True, now, encode_schedule(schedule))
        existing = await self.schedules.create_schedule(row)
        if existing is not None:
            raise ScheduleConflict(decode_schedule(existing.document))
        await self._announce(schedule, schedule.events[-1])
        if not due:
            return schedule, None
        return await self._apply(row, schedule, schedule.author, options, raising=True)

    # ------------------------------------------------------------------ a person's acts

    async def pause(self, page: str, actor: str) -> Schedule:
        """Stop the page's schedule advancing until resumed. NoSchedule; NotInState when it
        is paused already."""
        return await self._person(page, actor, "paused", "paused by hand")

    async def resume(self, page: str, actor: str) -> Schedule:
        """Resume a paused schedule: it continues at the first step at or above the rollout's
        percent now, its minutes counted from now. NoSchedule; NotInState when it is not
        paused (running, or waiting for its start)."""
        return await self._person(page, actor, "running", "resumed by hand")

    async def cancel(self, page: str, actor: str) -> Schedule:
        """End the page's schedule; the rollout (if any) stays where it is. NoSchedule."""
        return await self._person(page, actor, "cancelled", "cancelled by hand")

    async def archived(self, page: str, actor: str) -> None:
        """The page was taken down: its active schedule (if any) is cancelled, so neither a
        later step nor a scheduled change publishes it again."""
        with contextlib.suppress(NoSchedule):
            await self._person(page, actor, "cancelled", "page archived")

    async def _person(self, page: str, actor: str, status: Status, reason: str) -> Schedule:
        for _ in range(5):
            found = await self.active(page)
            if found is None:
                raise NoSchedule(page)
            row, schedule = found
            # A misuse is said, never answered as if it were done (it changes nothing).
            if status == "running" and schedule.status != "paused":
                raise NotInState(schedule, "resume")
            if status == "paused" and schedule.status == "paused":
                raise NotInState(schedule, "pause")
            if status == "running" and not schedule.started:
                status = "scheduled"  # paused before it began: it begins at its time
            changes = await self._person_changes(schedule, status)
            action = {"paused": "paused", "cancelled": "cancelled"}.get(status, "resumed")
            new = with_event(
                schedule,
                self._event(self.clock(), actor, action, reason, schedule.step, _percent(schedule)),
                status=status,
                **changes,
            )
            if await self._save(row, new):
                await self._announce(new, new.events[-1])
                return new
        raise StoreUnavailable("the schedule kept changing under this write; try again")

    async def _person_changes(self, schedule: Schedule, status: Status) -> dict[str, object]:
        if status != "running" or schedule.kind != "ramp" or schedule.status != "paused":
            return {}
        state = await self.publisher.state(schedule.page)
        rollout = state.rollout if state is not None else None
        percent = rollout.percent if rollout is not None else schedule.steps[schedule.step].percent
        step = next(
            (i for i, s in enumerate(schedule.steps) if s.percent >= percent),
            len(schedule.steps) - 1,
        )
        return {"step": step, "step_started": self.clock(), "warned": [], "holding": ""}

    async def manual(
        self, page: str, actor: str, act: Literal["percent", "promote", "abort"], percent: int = 0
    ) -> None:
        """A person widened, narrowed, promoted or aborted the page's rollout by hand (the
        existing rollout routes): a widen or narrow pauses the schedule (it resumes from the
        step at or above the new percent), a promote completes it, an abort rolls it back.
        A step the scheduler decided but had not applied yet is dropped: the person's act
        came after it. Retried when a look changed the schedule meanwhile."""
        for _ in range(5):
            found = await self.active(page)
            if found is None or found[1].kind != "ramp" or found[1].status == "scheduled":
                return
            row, schedule = found
            now = self.clock()
            if act == "percent":
                event = self._event(
                    now, actor, "paused", f"rollout set to {percent}% by hand", -1, percent
                )
                status: Status = "paused"
            elif act == "promote":
                event = self._event(now, actor, "promoted", "promoted by hand", schedule.step, 100)
                status = "completed"
            else:
                event = self._event(now, actor, "rolled_back", "aborted by hand", schedule.step, 0)
                status = "rolled_back"
            new = with_event(schedule, event, status=status, pending="")
            if await self._save(row, new):
                await self._announce(new, event)
                return

    # ------------------------------------------------------------------ looking

    async def run(self) -> None:
        """Look at every active schedule every `interval` seconds, until cancelled (a cancel
        a store call swallowed ends it at the next turn: `uiserver.tasks`)."""
        while True:
            check_cancelled()
            await asyncio.sleep(self.interval)
            try:
                await self.tick()
            except Exception:  # a bug: logged, and the next look still comes
                self.failures += 1
                log.exception("unexpected error in the rollout scheduler")

    async def tick(self) -> int:
        """One look at every active schedule; how many acts this replica recorded. A store
        that cannot be reached is logged and tried at the next look."""
        acts = 0
        try:
            rows = await self.schedules.schedules()
        except StoreUnavailable as exc:
            log.warning("schedules could not be read (%s); trying again later", exc)
            return 0
        for row in rows:
            try:
                acts += await self._look(row, decode_schedule(row.document))
            except StoreUnavailable as exc:
                log.warning("schedule of %s: store unavailable (%s)", row.page, exc)
            except Exception:
                self.failures += 1
                log.exception("unexpected error looking at the schedule of %s", row.page)
        return acts

    async def _look(self, row: ScheduleRow, schedule: Schedule) -> int:
        now = self.clock()
        if schedule.pending:
            # Within the grace either way, its decider is applying it. Stamped further in the
            # future, the clock moved back (or the decider's ran ahead): waiting for this clock
            # to catch up would hold the step for as long, so it counts as left behind.
            if abs(now - schedule.pending_at) < APPLY_GRACE_S:
                return 0
            await self._apply(row, schedule, SCHEDULER)
            return 1
        if schedule.status == "scheduled" and schedule.start <= now:
            pending: Pending = "start" if schedule.kind == "ramp" else "publish"
            return await self._decide(row, schedule, pending, "start time reached", "starting")
        if schedule.status != "running":
            return 0
        if schedule.kind == "change":
            if schedule.revert_at and now >= schedule.revert_at:
                return await self._decide(
                    row, schedule, "revert", "revert time reached", "reverting"
                )
            return 0
        return await self._look_ramp(row, schedule)

    async def _decide(
        self,
        row: ScheduleRow,
        schedule: Schedule,
        pending: Pending,
        reason: str,
        action: str,
        verdicts: list[Verdict] | None = None,
        **changes: object,
    ) -> int:
        now = self.clock()
        after = msgspec.structs.replace(schedule, pending=pending, pending_at=now, **changes)
        # The step and percent the act leads to (a promote: 100).
        percent = 100 if pending == "promote" else _percent(after)
        event = self._event(now, SCHEDULER, action, reason, after.step, percent, verdicts or [])
        new = with_event(after, event)
        if not await self._save(row, new):
            return 0
        await self._announce(new, event)
        if pending:
            await self._apply(_next(row, new), new, SCHEDULER)
        return 1

    async def _look_ramp(self, row: ScheduleRow, schedule: Schedule) -> int:
        state = await self.publisher.state(schedule.page)
        rollout = ours(schedule, state)
        if rollout is None:
            return await self._ended(row, schedule, state)
        if rollout.percent != schedule.steps[schedule.step].percent:
            reason = f"the rollout was set to {rollout.percent}% outside the schedule"
            return await self._decide(row, schedule, "", reason, "paused", status="paused")
        figures, exposed = await self.figures(schedule, rollout)
        verdicts = evaluate(schedule.guardrails, figures, compared(schedule.steps))
        now = self.clock()
        decision = decide(
            schedule.steps, schedule.step, schedule.step_started, now, exposed, verdicts
        )
        total = sum(exposed)
        if total != schedule.exposed:  # traffic: remembered for the no_traffic guardrail
            updated = msgspec.structs.replace(schedule, exposed=total, exposed_at=now)
            if not await self._save(row, updated):
                return 0
            row, schedule = _next(row, updated), updated
        return await self._act(row, schedule, decision, verdicts)

    async def _act(
        self, row: ScheduleRow, schedule: Schedule, decision: Decision, verdicts: list[Verdict]
    ) -> int:
        move = decision.move
        if move == "rollback":
            return await self._decide(
                row,
                schedule,
                "abort",
                decision.reason,
                "rolled_back",
                verdicts,
                status="rolled_back",
                holding="",
            )
        if move == "hold":
            if schedule.holding == decision.metric:
                return 0
            return await self._decide(
                row, schedule, "", decision.reason, "held", verdicts, holding=decision.metric
            )
        if schedule.holding:
            return await self._decide(
                row, schedule, "", "no guardrail holds any more", "released", verdicts, holding=""
            )
        warn = next(
            (
                v
                for v in verdicts
                if v.state == "fired" and v.action == "warn" and v.metric not in schedule.warned
            ),
            None,
        )
        if warn is not None:
            return await self._decide(
                row,
                schedule,
                "",
                f"guardrail {warn.metric}: {warn.reason}",
                "warned",
                verdicts,
                warned=[*schedule.warned, warn.metric],
            )
        if move == "promote":
            return await self._decide(
                row,
                schedule,
                "promote",
                decision.reason,
                "promoted",
                verdicts,
                status="completed",
                step=len(schedule.steps) - 1,
            )
        if move == "advance":
            return await self._decide(
                row,
                schedule,
                "percent",
                decision.reason,
                "advanced",
                verdicts,
                step=schedule.step + 1,
                step_started=self.clock(),
                warned=[],
            )
        return 0

    async def _ended(self, row: ScheduleRow, schedule: Schedule, state: PageState | None) -> int:
        """The rollout the schedule drove is gone, and not by the scheduler: a person promoted,
        aborted, archived or published over it."""
        promoted = (
            state is not None and state.rollout is None and state.head.version == schedule.version
        )
        status: Status = "completed" if promoted else "cancelled"
        reason = (
            "the rollout was promoted outside the schedule"
            if promoted
            else "the rollout was ended or replaced outside the schedule"
        )
        return await self._decide(row, schedule, "", reason, status, status=status)

    async def figures(
        self, schedule: Schedule, rollout: Rollout
    ) -> tuple[Figures, tuple[int, int]]:
        """What the guardrails read now, and the two arms' exposed users."""
        experiment = arm_experiment(rollout.page, rollout.started, rollout.percent)
        overall = await self.counts.experiment_counts(experiment, ARMS)
        elderly = await self.counts.experiment_counts(experiment, ARMS, "elderly")
        reader = await self.counts.experiment_counts(experiment + SCREEN_READER, ARMS)
        render = await self._render_counts(schedule)
        arms = Arms.of(overall)
        quiet_since = schedule.exposed_at or schedule.step_started
        figures = Figures(
            rollout.percent,
            arms,
            Arms.of(elderly),
            Arms.of(reader),
            render,
            max(0.0, (self.clock() - quiet_since) / 60),
        )
        return figures, arms.exposed

    async def _render_counts(self, schedule: Schedule) -> RenderCounts | None:
        if self.render is None:
            return None
        previous = await self.render(schedule.page, schedule.previous)
        new = await self.render(schedule.page, schedule.version)
        base = schedule.render_base or [0, 0, 0, 0]
        return RenderCounts(
            (max(0, previous[0] - base[0]), max(0, new[0] - base[2])),
            (max(0, previous[1] - base[1]), max(0, new[1] - base[3])),
        )

    # ------------------------------------------------------------------ applying

    async def _apply(
        self,
        row: ScheduleRow,
        schedule: Schedule,
        actor: str,
        options: PublishOptions | None = None,
        *,
        raising: bool = False,
    ) -> tuple[Schedule, PageState | None]:
        """Apply `schedule.pending` to the page, then clear it (compare-and-set). A refused
        write marks the schedule failed (re-raised when `raising`: the request that made it)."""
        applied: PageState | None = None
        changes: dict[str, object] = {}
        try:
            applied, changes = await self._write(schedule, actor, options)
        except (TemplateConflict, PublishRefused, NeverPublished) as exc:
            reason = getattr(exc, "message", None) or str(exc)
            event = self._event(
                self.clock(), actor, "failed", f"not applied: {reason}", schedule.step
            )
            failed = with_event(schedule, event, status="failed", pending="")
            if await self._save(row, failed):
                await self._announce(failed, event)
            if raising:
                raise
            return failed, None
        done = msgspec.structs.replace(schedule, pending="", **changes)
        if await self._save(row, done):  # else a replica applies it again later (idempotent)
            for event in done.events[len(schedule.events) :]:
                await self._announce(done, event)
        return done, applied

    async def _write(
        self, schedule: Schedule, actor: str, options: PublishOptions | None
    ) -> tuple[PageState | None, dict[str, object]]:
        """The page write of `schedule.pending` (idempotent: the page is checked first), and
        the schedule's changes after it."""
        page, pending = schedule.page, schedule.pending
        state = await self.publisher.state(page)
        if pending == "start":
            return await self._start(schedule, state, actor, options)
        if pending == "publish":
            return await self._publish_change(schedule, state, actor)
        if pending == "revert":
            return await self._revert(schedule, state)
        if ours(schedule, state) is None:
            return None, {}  # already applied (or a person ended it meanwhile)
        if pending == "percent":
            percent = schedule.steps[schedule.step].percent
            return await self.publisher.set_rollout(page, percent, SCHEDULER), {}
        outcome: Literal["promote", "abort"] = "promote" if pending == "promote" else "abort"
        message = schedule.events[-1].reason if outcome == "abort" else ""
        return await self.publisher.end_rollout(page, outcome, SCHEDULER, message[:500]), {}

    async def _start(
        self,
        schedule: Schedule,
        state: PageState | None,
        actor: str,
        options: PublishOptions | None,
    ) -> tuple[PageState | None, dict[str, object]]:
        rollout = state.rollout if state is not None else None
        if rollout is None or rollout.version != schedule.version:
            template = decode_document(schedule.document, Template, name=schedule.page, fmt="json")
            first = schedule.steps[0].percent
            opts = options or PublishOptions()
            staged = msgspec.structs.replace(opts, rollout=first if first < 100 else None)
            state = await self.publisher.publish(
                schedule.page, template, actor, schedule.message, staged
            )
            rollout = state.rollout
        now = self.clock()
        if rollout is None:  # a single step of 100: live for everyone at once
            event = self._event(
                now, actor, "promoted", "published for everyone (one step of 100%)", 0, 100
            )
            return state, {"status": "completed", "events": [*schedule.events, event]}
        event = self._event(
            now, actor, "started", f"rollout started at {rollout.percent}%", 0, rollout.percent
        )
        base = await self._render_base(schedule.page, rollout)
        return state, {
            "status": "running",
            "step": 0,
            "step_started": now,
            "rollout_started": rollout.started,
            "previous": rollout.previous,
            "render_base": base,
            "events": [*schedule.events, event],
        }

    async def _render_base(self, page: str, rollout: Rollout) -> list[int]:
        if self.render is None:
            return [0, 0, 0, 0]
        previous = await self.render(page, rollout.previous)
        new = await self.render(page, rollout.version)
        return [previous[0], previous[1], new[0], new[1]]

    async def _publish_change(
        self, schedule: Schedule, state: PageState | None, actor: str
    ) -> tuple[PageState | None, dict[str, object]]:
        now = self.clock()
        previous = schedule.previous
        if state is not None and state.head.version == schedule.version:
            applied: PageState | None = state  # live already (a replica that stopped published)
        else:
            previous = state.head.version if state is not None else ""
            template = decode_document(schedule.document, Template, name=schedule.page, fmt="json")
            applied = await self.publisher.publish(
                schedule.page, template, actor, schedule.message or "scheduled change"
            )
        event = self._event(
            now, actor, "published", f"version {schedule.version} published as scheduled"
        )
        status: Status = "running" if schedule.revert_at else "completed"
        return applied, {
            "status": status,
            "previous": previous,
            "events": [*schedule.events, event],
        }

    async def _revert(
        self, schedule: Schedule, state: PageState | None
    ) -> tuple[PageState | None, dict[str, object]]:
        now = self.clock()
        if state is None or state.head.version != schedule.version or not schedule.previous:
            live = state.head.version if state is not None else "none"
            reason = f"not reverted: version {live} was published since"
            event = self._event(now, SCHEDULER, "skipped", reason)
            return None, {"status": "completed", "events": [*schedule.events, event]}
        applied = await self.publisher.rollback(schedule.page, schedule.previous, SCHEDULER)
        event = self._event(
            now, SCHEDULER, "reverted", f"reverted to {schedule.previous} as scheduled"
        )
        return applied, {"status": "completed", "events": [*schedule.events, event]}

    # ------------------------------------------------------------------ storing, announcing

    async def _save(self, row: ScheduleRow, schedule: Schedule) -> bool:
        """Compare-and-set the schedule on `row.rev`; False when another write came first."""
        new = ScheduleRow(
            row.page,
            row.id,
            row.rev + 1,
            schedule.status in ACTIVE,
            row.created,
            encode_schedule(schedule),
        )
        return await self.schedules.update_schedule(new, row.rev)

    async def _announce(self, schedule: Schedule, event: Event) -> None:
        act = RolloutAct(
            schedule.page,
            schedule.id,
            schedule.kind,
            event.actor,
            event.action,
            event.reason,
            event.at,
            schedule.version,
            schedule.previous,
            event.step,
            event.percent,
            event.guardrails,
        )
        for observer in self.observers:
            try:
                await observer(act)
            except Exception:  # an observer's failure never stops the rollout
                log.exception("rollout observer failed on %s %s", act.page, act.action)


def ours(schedule: Schedule, state: PageState | None) -> Rollout | None:
    """The rollout the schedule drives, if it still runs."""
    rollout = state.rollout if state is not None and state.archived is None else None
    if (
        rollout is None
        or rollout.version != schedule.version
        or abs(rollout.started - schedule.rollout_started) > 1e-6
    ):
        return None
    return rollout


def _next(row: ScheduleRow, schedule: Schedule) -> ScheduleRow:
    """The row as `_save` stored it (its next revision)."""
    return ScheduleRow(
        row.page,
        row.id,
        row.rev + 1,
        schedule.status in ACTIVE,
        row.created,
        encode_schedule(schedule),
    )


def _percent(schedule: Schedule) -> int:
    return schedule.steps[schedule.step].percent if schedule.steps else 0


def _percents(steps: list[Step]) -> str:
    return " -> ".join(f"{s.percent}%" for s in steps)
