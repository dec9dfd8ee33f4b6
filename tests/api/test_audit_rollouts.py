"""Automatic rollout steps in the audit log (the scheduler's hook), simulated as in
`test_guarded_rollouts` (injected clock, real traffic) on SQLite and on two replicas of one
real Redis: a rollback by the elderly guardrail is one `schedule.rolled_back` entry by
`scheduler` naming the guardrail with its figures, beside the page change it made
(`rollout.abort` by `scheduler`); a healthy ramp's steps are each recorded once, at the
scheduler's time."""

from __future__ import annotations

from typing import Any

from tests.api.test_guarded_rollouts import (
    DESIGNER,
    ELDERLY_WORSE,
    HEALTHY,
    PAGE,
    START,
    Sim,
    Users,
    publish,
    sim,
)
from tests.helpers.app import bearer

__all__ = ["sim"]


def audit(sim: Sim, query: str = "") -> list[dict[str, Any]]:
    response = sim.client(1).get(f"/v1/admin/audit?page={PAGE}&limit=200{query}", headers=DESIGNER)
    assert response.status_code == 200, response.text
    entries: list[dict[str, Any]] = response.json()["entries"]
    return entries[::-1]  # oldest first


def test_a_rollback_by_a_guardrail_is_recorded_with_its_figures(sim: Sim) -> None:
    schedule = {"steps": [{"percent": 50, "min_minutes": 30, "min_exposed": 100}, {"percent": 100}]}
    response = publish(sim, schedule)
    assert response.status_code == 201, response.text
    new, previous = response.json()["version"], response.json()["rollout"]["previous"]
    Users(sim, "w", standard=200, elderly=800).visit(50, ELDERLY_WORSE)
    sim.now += 5 * 60
    assert sim.look() == 1
    entries = audit(sim)
    rolled = [e for e in entries if e["act"] == "schedule.rolled_back"]
    assert len(rolled) == 1, [e["act"] for e in entries]
    (entry,) = rolled
    assert entry["actor"] == "scheduler" and entry["time"] == START + 5 * 60
    assert "elderly_conversion" in entry["details"]["reason"]
    assert entry["after"] == {"version": new, "previous": previous}
    fired = {g["metric"]: g for g in entry["details"]["guardrails"] if g["state"] == "fired"}
    figures = fired["elderly_conversion"]["figures"]
    assert figures["new_rate"] < figures["previous_rate"]
    aborts = [e for e in entries if e["act"] == "rollout.abort"]
    assert len(aborts) == 1 and aborts[0]["actor"] == "scheduler"
    assert aborts[0]["before"]["rollout"]["version"] == new
    assert aborts[0]["after"]["version"] == previous and aborts[0]["after"]["rollout"] is None
    assert aborts[0]["details"]["diff"]["fields"] == ["title"]
    staged = [e for e in entries if e["act"] == "template.publish"][-1]
    assert staged["actor"] == "ann" and staged["after"]["rollout"]["percent"] == 50


def test_each_automatic_step_is_recorded_once(sim: Sim) -> None:
    schedule = {
        "steps": [
            {"percent": 20, "min_minutes": 10, "min_exposed": 20},
            {"percent": 50, "min_minutes": 10, "min_exposed": 20},
            {"percent": 100},
        ]
    }
    assert publish(sim, schedule, "Cart, healthy").status_code == 201
    users = Users(sim, "h", standard=160, elderly=40)
    users.visit(20, HEALTHY)
    sim.now += 11 * 60
    assert sim.look() == 1
    users.visit(50, HEALTHY)
    sim.now += 11 * 60
    assert sim.look() == 1
    sim.now += 3600
    assert sim.look() == 0
    acts = [
        (e["act"], e["actor"]) for e in audit(sim) if e["act"].startswith(("schedule.", "rollout."))
    ]
    assert acts == [
        ("schedule.scheduled", "ann"),
        ("schedule.started", "ann"),
        ("schedule.advanced", "scheduler"),  # the decision, then the change it makes
        ("rollout.set", "scheduler"),
        ("schedule.promoted", "scheduler"),
        ("rollout.promote", "scheduler"),
    ], acts
    widened = next(e for e in audit(sim) if e["act"] == "rollout.set")
    assert (widened["before"]["rollout"]["percent"], widened["after"]["rollout"]["percent"]) == (
        20,
        50,
    )


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
