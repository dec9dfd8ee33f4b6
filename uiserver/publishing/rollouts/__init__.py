"""Rollout schedules: ramps that advance on their own while their guardrails hold, and
scheduled changes (publish at a time, revert at a later one).

    model      the schedule as stored and shown, and the API's JSON read strictly
    scheduler  the loop every replica runs; exactly one acts on each step; the audit hook
               (`Scheduler.observers`, each receives every `RolloutAct`)

The statistics are pure functions in `uiserver.engine.guardrails`.
"""

from uiserver.publishing.rollouts.model import Schedule, ScheduleError
from uiserver.publishing.rollouts.scheduler import (
    NoSchedule,
    NotInState,
    RolloutAct,
    ScheduleConflict,
    Scheduler,
)

__all__ = [
    "NoSchedule",
    "NotInState",
    "RolloutAct",
    "Schedule",
    "ScheduleConflict",
    "ScheduleError",
    "Scheduler",
]
