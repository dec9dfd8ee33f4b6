"""A person's acts on a rollout schedule in the audit log, on SQLite and on two replicas of one
real Redis (`test_guarded_rollouts`' simulation). The scheduler's own acts (a rollback by the
elderly guardrail with its figures, a healthy ramp's steps each recorded once) are asserted in
`test_guarded_rollouts`, on the traffic its scenarios already simulate."""

from __future__ import annotations

from tests.api.test_guarded_rollouts import PAGE, Sim, audit, publish, sim
from tests.helpers.app import bearer

__all__ = ["sim"]


def test_a_person_pausing_resuming_and_cancelling_a_schedule_is_recorded(sim: Sim) -> None:
    """The README's `schedule.paused`, `schedule.resumed`, `schedule.cancelled` by the person
    (they were missing: only the scheduler's own acts reached the log)."""
    steps = [{"percent": 20, "min_minutes": 10, "min_exposed": 20}, {"percent": 100}]
    assert publish(sim, {"steps": steps}).status_code == 201
    base = f"/v1/admin/templates/{PAGE}"
    bo = bearer("bo", "designer")
    for path in ("rollout/pause", "rollout/resume"):
        assert sim.client(0).post(f"{base}/{path}", headers=bo).status_code == 200
    assert (
        sim.client(0).post(f"{base}/rollout", json={"percent": 30}, headers=bo).status_code == 200
    )
    assert sim.client(0).delete(f"{base}/schedule", headers=bo).status_code == 200
    acts = [(e["act"], e["actor"]) for e in audit(sim) if e["act"].startswith("schedule.")]
    assert acts == [
        ("schedule.scheduled", "ann"),
        ("schedule.started", "ann"),
        ("schedule.paused", "bo"),
        ("schedule.resumed", "bo"),
        ("schedule.paused", "bo"),  # the widen by hand
        ("schedule.cancelled", "bo"),
    ], acts
