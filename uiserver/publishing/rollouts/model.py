"""Rollout schedules as stored and shown: a ramp (steps and guardrails) or a scheduled change
(publish a version at a time, revert it at a later one), with the timeline of what happened.

`parse_ramp` and `parse_change` read the API's JSON strictly: every mistake is a `ScheduleError`
naming its field (422 at the edge); unknown members are refused.
"""

from __future__ import annotations

import math
import secrets
import time
from collections.abc import Mapping
from typing import Any, Literal

import msgspec

from uiserver.engine.guardrails import (
    ACTIONS,
    MAX_STEPS,
    METRICS,
    Guardrail,
    Step,
    Verdict,
    check_guardrails,
    check_steps,
    default_steps,
    resolve,
)

Kind = Literal["ramp", "change"]
Status = Literal[
    "scheduled",  # waiting for its start (a ramp) or its time (a change)
    "running",  # a ramp driving its rollout; a change waiting to revert
    "paused",  # a person paused it (or widened by hand): nothing advances until resumed
    "completed",  # a ramp promoted at 100%; a change applied (and reverted, if asked)
    "rolled_back",  # a guardrail (or a person) sent everyone back to the previous version
    "cancelled",  # a person cancelled it, or the page moved on without it
    "failed",  # it could not be applied (lint, a conflicting publish): see the last event
]
ACTIVE: frozenset[str] = frozenset({"scheduled", "running", "paused"})
# What the scheduler has decided and still has to apply to the page (a crash between the
# decision and the write is finished by whichever replica looks next).
Pending = Literal["", "start", "percent", "promote", "abort", "publish", "revert"]
MAX_FUTURE_S = 366 * 86_400.0  # a start or a change at most a year ahead


class ScheduleError(ValueError):
    """A schedule the API refuses (422), naming the field."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class Event(msgspec.Struct, frozen=True):
    """One entry of a schedule's timeline: when, who (`scheduler` or a person's user id), what,
    at which step and percent, why, and the guardrail verdicts behind it (figures per cohort)."""

    at: float
    actor: str
    action: str  # created, started, advanced, promoted, held, released, warned, rolled_back...
    reason: str
    step: int = -1
    percent: int = 0
    guardrails: list[Verdict] = []
    replica: str = ""  # which process recorded it (host:pid), for operators and tests


class Schedule(msgspec.Struct, frozen=True):
    """A schedule as stored (`ScheduleRow.document`)."""

    id: str
    page: str
    kind: Kind
    author: str
    message: str
    created: float
    status: Status
    version: str  # the version the schedule publishes or ramps
    document: bytes = b""  # the template to publish at its start (canonical JSON)
    previous: str = ""  # the version live before it (what a rollback or a revert restores)
    start: float = 0.0  # Unix seconds: when it begins (ramp) or publishes (change)
    revert_at: float = 0.0  # a change: when it reverts (0: never)
    steps: list[Step] = []
    guardrails: list[Guardrail] = []
    step: int = 0  # index of the current step
    step_started: float = 0.0
    rollout_started: float = 0.0  # the `Rollout.started` of the rollout it drives
    pending: Pending = ""
    pending_at: float = 0.0
    holding: str = ""  # the guardrail holding it now ("" when none)
    warned: list[str] = []  # guardrails that warned at the current step
    exposed: int = 0  # exposed users of both arms at the last look, and when they last grew
    exposed_at: float = 0.0
    render_base: list[int] = []  # render errors and impressions (previous, new) at the start
    events: list[Event] = []

    @property
    def started(self) -> bool:
        """Whether it has touched the page yet (a ramp's rollout began, a change published)."""
        return any(e.action in ("started", "published") for e in self.events)


encode_schedule = msgspec.json.Encoder().encode
decode_schedule = msgspec.json.Decoder(Schedule).decode
MAX_EVENTS = 200  # timeline entries kept per schedule (the first ones and the newest)


def with_event(schedule: Schedule, event: Event, **changes: Any) -> Schedule:
    """`schedule` with `changes` and one more timeline entry (bounded: the first 20 and the
    newest kept)."""
    events = [*schedule.events, event]
    if len(events) > MAX_EVENTS:
        events = events[:20] + events[-(MAX_EVENTS - 20) :]
    return msgspec.structs.replace(schedule, events=events, **changes)


def new_id() -> str:
    """A schedule id that sorts by creation (stores order a page's schedules by creation time,
    then id): 16 hex digits of nanoseconds, then 8 random ones."""
    return f"{time.time_ns():016x}{secrets.token_hex(4)}"


# --------------------------------------------------------------------------- parsing


def _object(value: Any, field: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ScheduleError("must be a JSON object", field)
    return value


def _unknown(value: Mapping[str, Any], allowed: tuple[str, ...], field: str) -> None:
    for name in value:
        if name not in allowed:
            raise ScheduleError(
                f"unknown member {str(name)[:40]!r}; allowed: {', '.join(allowed)}",
                f"{field}.{str(name)[:40]}",
            )


def _number(value: Any, field: str, *, whole: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ScheduleError("must be a number", field)
    if whole and (not isinstance(value, int) and not float(value).is_integer()):
        raise ScheduleError("must be a whole number", field)
    try:
        number = float(value)  # JSON integers have no bound: OverflowError past 1.8e308
    except OverflowError:
        number = math.inf
    if not math.isfinite(number):
        raise ScheduleError("must be a finite number", field)
    return number


def _time(value: Any, field: str, now: float) -> float:
    """A Unix time in seconds, not more than a year ahead (0 or a past time: now)."""
    at = _number(value, field)
    if at > now + MAX_FUTURE_S:
        raise ScheduleError("must be Unix seconds within a year from now", field)
    return max(at, now) if at > 0 else now


def _steps(value: Any) -> list[Step]:
    if value is None:
        return default_steps()
    if not isinstance(value, list) or not 1 <= len(value) <= MAX_STEPS:
        raise ScheduleError(f"must be a list of 1 to {MAX_STEPS} steps", "schedule.steps")
    steps = []
    for i, item in enumerate(value):
        where = f"schedule.steps[{i}]"
        data = _object(item, where)
        _unknown(data, ("percent", "min_minutes", "min_exposed"), where)
        if "percent" not in data:
            raise ScheduleError("percent is required", f"{where}.percent")
        percent = _number(data["percent"], f"{where}.percent", whole=True)
        last = i == len(value) - 1 and percent == 100
        minutes = _number(data.get("min_minutes", 0 if last else 60), f"{where}.min_minutes")
        exposed = data.get("min_exposed", 0 if last else 200)
        exposed_n = _number(exposed, f"{where}.min_exposed", whole=True)
        steps.append(Step(int(percent), minutes, int(exposed_n)))
    for field, message in check_steps(steps):
        raise ScheduleError(message, field)
    return steps


def _guardrails(value: Any) -> list[Guardrail]:
    if value is None:
        return resolve([])
    if not isinstance(value, list) or len(value) > len(METRICS):
        raise ScheduleError(
            f"must be a list of at most {len(METRICS)} guardrails", "schedule.guardrails"
        )
    given = []
    for i, item in enumerate(value):
        where = f"schedule.guardrails[{i}]"
        data = _object(item, where)
        _unknown(
            data,
            ("metric", "action", "alpha", "tolerance", "threshold", "max_quiet_minutes"),
            where,
        )
        metric, action = data.get("metric"), data.get("action")
        if metric not in METRICS:
            raise ScheduleError(f"metric must be one of {', '.join(METRICS)}", f"{where}.metric")
        if action not in ACTIONS:
            raise ScheduleError(f"action must be one of {', '.join(ACTIONS)}", f"{where}.action")
        numbers = {
            name: _number(data[name], f"{where}.{name}")
            for name in ("alpha", "tolerance", "threshold", "max_quiet_minutes")
            if name in data
        }
        given.append(Guardrail(metric, action, **numbers))
    for field, message in check_guardrails(given):
        raise ScheduleError(message, field)
    return resolve(given)


def parse_ramp(value: Any, now: float) -> tuple[list[Step], list[Guardrail], float]:
    """(steps, guardrails with defaults filled, start) of a publish's `schedule` member.
    Raises ScheduleError naming the field."""
    data = _object(value, "schedule")
    _unknown(data, ("steps", "start", "guardrails"), "schedule")
    start = _time(data.get("start", 0), "schedule.start", now)
    return _steps(data.get("steps")), _guardrails(data.get("guardrails")), start


def parse_change(value: Any, now: float) -> tuple[float, float]:
    """(at, revert_at or 0) of a scheduled change (`POST .../schedule`). ScheduleError."""
    data = _object(value, "body")
    if "at" not in data:
        raise ScheduleError("at (Unix seconds) is required", "at")
    at = _time(data["at"], "at", now)
    revert = data.get("revert_at")
    if revert is None:
        return at, 0.0
    revert_at = _time(revert, "revert_at", now)
    if revert_at <= at:
        raise ScheduleError("revert_at must be after at", "revert_at")
    return at, revert_at
