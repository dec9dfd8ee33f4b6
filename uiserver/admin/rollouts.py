"""Rollout schedules as designers manage them (no HTTP): a publish with a ramp schedule, a
scheduled change, the rollout view (schedule, current step, each guardrail's figures and
state, the defaults), pause, resume, cancel.

    schedule, applied = await publish_ramp(scheduler, drafts, "home", template, "alice", "msg",
                                            schedule_json, options)
    view = await rollout_view(scheduler, "home")
"""

from __future__ import annotations

from typing import Any

import msgspec

from uiserver.admin.errors import Conflict, Invalid, NotFound
from uiserver.admin.templates import RolloutState, conflict, rollout_state
from uiserver.engine.guardrails import (
    DEFAULTS,
    Guardrail,
    Step,
    Verdict,
    compared,
    default_steps,
    evaluate,
)
from uiserver.publishing.rollouts import (
    NoSchedule,
    NotInState,
    Schedule,
    ScheduleConflict,
    ScheduleError,
    Scheduler,
)
from uiserver.publishing.rollouts.model import parse_change, parse_ramp
from uiserver.publishing.rollouts.scheduler import ours
from uiserver.schema import Template
from uiserver.store.base import DraftStore, PageState, PublishOptions, TemplateConflict
from uiserver.users.ids import shown


class StepView(msgspec.Struct):
    index: int
    percent: int
    min_minutes: float
    min_exposed: int
    state: str  # done, current, stopped (rolled back, cancelled, failed there), next


class ScheduleView(msgspec.Struct):
    """A schedule as the API shows it: its steps with the current one, guardrails (defaults
    filled), status, and its timeline."""

    id: str
    kind: str
    status: str
    author: str
    message: str
    created: float
    version: str
    previous: str
    start: float
    revert_at: float | None
    step: int | None
    percent: int | None
    step_started: float | None
    holding: str | None
    steps: list[StepView]
    guardrails: list[Guardrail]
    events: list[Any]


class RolloutView(msgspec.Struct):
    """`GET /v1/admin/templates/{page}/rollout`."""

    page: str
    live_version: str | None
    rollout: RolloutState | None
    schedule: ScheduleView | None
    guardrails: list[Verdict]  # each guardrail's figures and state now (running ramps)
    exposed: list[int] | None  # [previous, new] exposed users at the current step
    defaults: dict[str, Any]


DEFAULTS_SHOWN: dict[str, Any] = {
    "steps": default_steps(),
    "guardrails": list(DEFAULTS),
    "note": (
        "Guardrails left out of a schedule keep these defaults (action 'off' switches one "
        "off). Each step below 100 is compared anew; the sequential test's alpha is split over "
        "those steps, so the chance of a false alarm over the whole rollout stays within alpha "
        "per guardrail however often it is checked."
    ),
}


def _state(schedule: Schedule, index: int) -> str:
    """A step's state: done, current, stopped (where a ramp was rolled back, cancelled or
    failed), next."""
    if schedule.status == "completed" or index < schedule.step:
        return "done"
    if index > schedule.step or not schedule.started:
        return "next"
    return "current" if schedule.status in ("running", "paused") else "stopped"


def view(schedule: Schedule) -> ScheduleView:
    steps = [
        StepView(i, s.percent, s.min_minutes, s.min_exposed, _state(schedule, i))
        for i, s in enumerate(schedule.steps)
    ]
    ramp = schedule.kind == "ramp" and schedule.started
    return ScheduleView(
        schedule.id,
        schedule.kind,
        schedule.status,
        schedule.author,
        schedule.message,
        schedule.created,
        schedule.version,
        schedule.previous,
        schedule.start,
        schedule.revert_at or None,
        schedule.step if ramp else None,
        schedule.steps[schedule.step].percent if ramp else None,
        schedule.step_started if ramp else None,
        schedule.holding or None,
        steps,
        schedule.guardrails,
        [msgspec.to_builtins(e) for e in schedule.events],
    )


async def publish_ramp(
    scheduler: Scheduler,
    drafts: DraftStore,
    page: str,
    template: Template,
    author: str,
    message: str,
    body: Any,
    options: PublishOptions,
) -> tuple[Schedule, PageState | None]:
    """A publish with a `schedule`: Invalid naming the field for a malformed one (or one with
    `rollout` too), Conflict `schedule_conflict` when the page has an active schedule, the
    publish's own Conflict (stale base, rollout running): nothing stays scheduled then."""
    if options.rollout is not None:
        raise Invalid("give either rollout or schedule, not both", "schedule")
    try:
        steps, guardrails, start = parse_ramp(body, scheduler.clock())
    except ScheduleError as exc:
        raise Invalid(exc.message, exc.field) from None
    try:
        created = await scheduler.create_ramp(
            page, template, author, message, steps, guardrails, start, options
        )
    except ScheduleConflict as exc:
        raise schedule_conflict(exc) from None
    except TemplateConflict as exc:
        raise await conflict(scheduler.publisher, page, exc) from None
    await drafts.delete_draft(author, page)
    return created


async def schedule_change(
    scheduler: Scheduler, page: str, template: Template, author: str, message: str, body: Any
) -> Schedule:
    """A scheduled change (`at`, `revert_at`); Invalid, Conflict `schedule_conflict`. Nothing
    is published now, so no other conflict can arise yet (one at `at` fails the schedule)."""
    try:
        at, revert_at = parse_change(body, scheduler.clock())
    except ScheduleError as exc:
        raise Invalid(exc.message, exc.field) from None
    try:
        schedule, _ = await scheduler.create_change(page, template, author, message, at, revert_at)
    except ScheduleConflict as exc:
        raise schedule_conflict(exc) from None
    return schedule


def schedule_conflict(exc: ScheduleConflict) -> Conflict:
    return Conflict(exc.code, exc.message, "schedule", {"schedule": view(exc.existing)})


async def rollout_view(scheduler: Scheduler, page: str) -> RolloutView:
    """The page's rollout, its newest schedule and each guardrail's figures now. NotFound for
    a page never published."""
    state = await scheduler.publisher.state(page)
    schedules = await scheduler.of_page(page)
    if state is None and not schedules:
        raise NotFound(f"no page {shown(page)}", "page")
    schedule = schedules[0] if schedules else None
    rollout = state.rollout if state is not None and state.archived is None else None
    verdicts: list[Verdict] = []
    exposed: list[int] | None = None
    running = (
        schedule is not None
        and schedule.kind == "ramp"
        and schedule.status in ("running", "paused")
    )
    mine = ours(schedule, state) if schedule is not None and running else None
    if schedule is not None and mine is not None:
        figures, arms = await scheduler.figures(schedule, mine)
        verdicts = evaluate(schedule.guardrails, figures, compared(schedule.steps))
        exposed = list(arms)
    return RolloutView(
        page,
        state.head.version if state is not None else None,
        rollout_state(rollout),
        view(schedule) if schedule is not None else None,
        verdicts,
        exposed,
        DEFAULTS_SHOWN,
    )


async def pause(scheduler: Scheduler, page: str, actor: str) -> Schedule:
    """Conflict `no_schedule` when the page has no active schedule, `already_paused` (with
    its `status` and `schedule`) when it is paused."""
    try:
        return await scheduler.pause(page, actor)
    except NoSchedule:
        raise _none(page) from None
    except NotInState as exc:
        raise _not_in_state(exc) from None


async def resume(scheduler: Scheduler, page: str, actor: str) -> Schedule:
    """Conflict `no_schedule` as `pause`, `not_paused` (with its `status` and `schedule`)
    when the schedule is running or waiting for its start."""
    try:
        return await scheduler.resume(page, actor)
    except NoSchedule:
        raise _none(page) from None
    except NotInState as exc:
        raise _not_in_state(exc) from None


async def cancel(scheduler: Scheduler, page: str, actor: str) -> Schedule:
    try:
        return await scheduler.cancel(page, actor)
    except NoSchedule:
        raise _none(page) from None


def _not_in_state(exc: NotInState) -> Conflict:
    extra = {"status": exc.schedule.status, "schedule": view(exc.schedule)}
    return Conflict(exc.code, exc.message, "schedule", extra)


def _none(page: str) -> Conflict:
    return Conflict("no_schedule", f"page {shown(page)} has no active schedule", "schedule")


__all__ = [
    "DEFAULTS_SHOWN",
    "RolloutView",
    "ScheduleView",
    "Step",
    "cancel",
    "pause",
    "publish_ramp",
    "resume",
    "rollout_view",
    "schedule_change",
    "view",
]
