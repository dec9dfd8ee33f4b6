"""Guarded rollouts, simulated (issue 21): a ramp schedule published through the API, traffic
from real layout GETs and convert events, the scheduler's clock injected and its looks called
by the test. On SQLite, and on two replicas of one real Redis (each look alternates between
them; both race for each step).

- a version that converts 30% worse for elderly users only is rolled back, the history naming
  the elderly guardrail and its figures, and the audit log holding one `schedule.rolled_back`
  by `scheduler` with those figures beside the `rollout.abort` it made;
- a healthy version reaches 100% on schedule (each step after its minutes and exposures), each
  automatic step recorded once in the audit log, at the scheduler's time.

(`test_audit_rollouts` checked the audit entries of these two scenarios on a run of its own,
the same traffic again: 1,000 simulated users for the rollback; they are asserted here now.)
- the API's validation and conflicts: every mistake a 4xx naming the field, a second schedule
  on a page a 409 `schedule_conflict`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient

from tests.helpers.app import ELDERLY, bearer, make_app, on_the_apps_loop
from uiserver.engine.hashing import rollout_bucket
from uiserver.publishing.rollouts.model import Event, encode_schedule, with_event
from uiserver.publishing.rollouts.scheduler import APPLY_GRACE_S, RolloutAct
from uiserver.store.base import ScheduleRow

DESIGNER = bearer("ann", "designer")
PAGE = "cart"
BASE = f"/v1/admin/templates/{PAGE}"
START = 1_800_000_000.0


class Sim:
    """Replicas of one server with one injected clock; the test drives traffic and looks."""

    def __init__(self, clients: list[TestClient]) -> None:
        self.clients = clients
        self.now = START
        self.looks = 0
        for client in clients:
            client.app.service.scheduler.clock = lambda: self.now  # type: ignore[attr-defined]

    def client(self, n: int) -> TestClient:
        return self.clients[n % len(self.clients)]

    def on_replicas(
        self,
        plan: list[tuple[int, str, bool]],
        request: Callable[[httpx.AsyncClient, str, bool], Awaitable[None]],
    ) -> None:
        """`request(http, user, flag)` for each (n, user, flag) of `plan` on replica
        `client(n)`, in order, on that replica's own loop (`on_the_apps_loop`): each replica's
        share in one go, one replica after the other."""
        for index, client in enumerate(self.clients):
            mine = [(user, flag) for n, user, flag in plan if n % len(self.clients) == index]

            async def run(http: httpx.AsyncClient, mine: list[tuple[str, bool]] = mine) -> None:
                for user, flag in mine:
                    await request(http, user, flag)

            on_the_apps_loop(client, run)

    def flush(self) -> None:
        for client in self.clients:
            service = client.app.service  # type: ignore[attr-defined]
            client.portal.call(service.recorder.flush)  # type: ignore[union-attr]

    def look(self) -> int:
        """One look by each replica in turn (the next one starts the round)."""
        acts = 0
        order = self.clients[self.looks % len(self.clients) :] + self.clients[: self.looks]
        self.looks += 1
        for client in order[: len(self.clients)]:
            service = client.app.service  # type: ignore[attr-defined]
            acts += client.portal.call(service.scheduler.tick)  # type: ignore[union-attr]
        return acts

    def rollout(self) -> dict[str, Any]:
        response = self.client(self.looks).get(f"{BASE}/rollout", headers=DESIGNER)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body


@pytest.fixture(params=["sqlite", pytest.param("redis", marks=pytest.mark.redis)])
def sim(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Sim]:
    if request.param == "sqlite":
        app = make_app(tmp_path, activity_flush_s=0.0, schedule_interval_s=0.0)
        with TestClient(app) as client:
            yield Sim([client])
        return
    url = request.getfixturevalue("redis_url")
    apps = [
        make_app(tmp_path / name, store_url=url, activity_flush_s=0.0, schedule_interval_s=0.0)
        for name in ("a", "b")
    ]
    with TestClient(apps[0]) as first, TestClient(apps[1]) as second:
        yield Sim([first, second])


def new_version(sim: Sim, title: str) -> dict[str, Any]:
    template: dict[str, Any] = sim.client(0).get(BASE, headers=DESIGNER).json()["template"]
    template["title"] = title
    return template


def audit(sim: Sim, query: str = "") -> list[dict[str, Any]]:
    response = sim.client(1).get(f"/v1/admin/audit?page={PAGE}&limit=200{query}", headers=DESIGNER)
    assert response.status_code == 200, response.text
    entries: list[dict[str, Any]] = response.json()["entries"]
    return entries[::-1]  # oldest first


def publish(sim: Sim, schedule: dict[str, Any], title: str = "Cart, redesigned") -> Any:
    body = {"template": new_version(sim, title), "message": "redesign", "schedule": schedule}
    return sim.client(0).post(f"{BASE}/publish", json=body, headers=DESIGNER)


class Users:
    """Simulated users: `elderly` of them in elderly mode; the rest standard."""

    def __init__(self, sim: Sim, prefix: str, standard: int, elderly: int) -> None:
        self.sim = sim
        self.names = [f"{prefix}s{n}" for n in range(standard)]
        self.elderly = {f"{prefix}e{n}" for n in range(elderly)}
        self.names += sorted(self.elderly)
        self.sim.on_replicas(
            [(n, user, False) for n, user in enumerate(sorted(self.elderly))], Users._elderly
        )

    @staticmethod
    async def _elderly(http: httpx.AsyncClient, user: str, _: bool) -> None:
        response = await http.put("/v1/me/settings", json=ELDERLY, headers=bearer(user))
        assert response.status_code == 200, response.text

    def visit(self, percent: int, rates: dict[tuple[str, str], float]) -> dict[str, int]:
        """Every user launches the page (on replicas in turn); a deterministic share of each
        (cohort, arm) converts: the first `rate` of each 20 users. Arms seen, by name."""
        seen = {"new": 0, "previous": 0}
        plan: list[tuple[int, str, bool]] = []  # (replica, user, converts)
        for n, user in enumerate(self.names):
            arm = "new" if rollout_bucket(PAGE, user) < percent * 100 else "previous"
            seen[arm] += 1
            cohort = "elderly" if user in self.elderly else "standard"
            plan.append((n, user, (seen[arm] % 20) < rates[cohort, arm] * 20))
        self.sim.on_replicas(plan, Users._launch)
        self.sim.flush()
        return seen

    @staticmethod
    async def _launch(http: httpx.AsyncClient, user: str, converts: bool) -> None:
        assert (await http.get(f"/v1/layouts/{PAGE}", headers=bearer(user))).status_code == 200
        if converts:
            event = {"page": PAGE, "component": "checkout", "kind": "convert"}
            response = await http.post(
                "/v1/me/events", json={"events": [event]}, headers=bearer(user)
            )
            assert response.status_code == 202, response.text
            assert response.json()["stored"] == 1, response.text


HEALTHY = {
    ("standard", "previous"): 0.5,
    ("standard", "new"): 0.5,
    ("elderly", "previous"): 0.6,
    ("elderly", "new"): 0.6,
}
# 30% worse for elderly users only (0.6 -> 0.42); standard users convert alike.
ELDERLY_WORSE = HEALTHY | {("elderly", "new"): 0.42}


def test_a_version_worse_for_elderly_users_only_is_rolled_back(sim: Sim) -> None:
    schedule = {
        "steps": [
            {"percent": 50, "min_minutes": 30, "min_exposed": 100},
            {"percent": 100},
        ]
    }
    response = publish(sim, schedule)
    assert response.status_code == 201, response.text
    new = response.json()["version"]
    assert response.json()["rollout"]["percent"] == 50
    previous = response.json()["rollout"]["previous"]
    users = Users(sim, "w", standard=200, elderly=800)
    users.visit(50, ELDERLY_WORSE)
    sim.now += 5 * 60  # well before the step's 30 minutes: the guardrail acts on its own
    assert sim.look() == 1
    view = sim.rollout()
    schedule_view = view["schedule"]
    assert schedule_view["status"] == "rolled_back"
    assert [s["state"] for s in schedule_view["steps"]] == ["stopped", "next"]
    assert view["rollout"] is None and view["live_version"] == previous
    last = schedule_view["events"][-1]
    assert last["action"] == "rolled_back" and last["actor"] == "scheduler"
    assert "elderly_conversion" in last["reason"], last
    fired = {g["metric"]: g for g in last["guardrails"] if g["state"] == "fired"}
    assert "elderly_conversion" in fired and "conversion" not in fired, fired
    figures = fired["elderly_conversion"]["figures"]
    assert figures["new_rate"] < figures["previous_rate"]
    assert figures["new_exposed"] + figures["previous_exposed"] == 800
    assert figures["sequential_p_value"] < 0.05
    history = sim.client(1).get(f"{BASE}/history", headers=DESIGNER).json()
    top = history["versions"][0]
    assert top["version"] == previous and top["author"] == "scheduler"
    assert "elderly_conversion" in top["message"]
    assert [v["version"] for v in history["versions"][:2]] == [previous, new]
    # The audit log: the decision, by the scheduler with its figures, beside the change it made.
    entries = audit(sim)
    rolled = [e for e in entries if e["act"] == "schedule.rolled_back"]
    assert len(rolled) == 1, [e["act"] for e in entries]
    (entry,) = rolled
    assert entry["actor"] == "scheduler" and entry["time"] == START + 5 * 60
    assert "elderly_conversion" in entry["details"]["reason"]
    assert entry["after"] == {"version": new, "previous": previous}
    fired = {g["metric"]: g for g in entry["details"]["guardrails"] if g["state"] == "fired"}
    assert fired["elderly_conversion"]["figures"] == figures
    aborts = [e for e in entries if e["act"] == "rollout.abort"]
    assert len(aborts) == 1 and aborts[0]["actor"] == "scheduler"
    assert aborts[0]["before"]["rollout"]["version"] == new
    assert aborts[0]["after"]["version"] == previous and aborts[0]["after"]["rollout"] is None
    assert aborts[0]["details"]["diff"]["fields"] == ["title"]
    staged = [e for e in entries if e["act"] == "template.publish"][-1]
    assert staged["actor"] == "ann" and staged["after"]["rollout"]["percent"] == 50
    # Later looks change nothing: the schedule is over.
    sim.now += 3600
    assert sim.look() == 0
    assert audit(sim) == entries


def test_a_healthy_version_reaches_100_percent_on_schedule(sim: Sim) -> None:
    schedule = {
        "steps": [
            {"percent": 20, "min_minutes": 10, "min_exposed": 20},
            {"percent": 50, "min_minutes": 10, "min_exposed": 20},
            {"percent": 100},
        ]
    }
    response = publish(sim, schedule, "Cart, healthy")
    assert response.status_code == 201, response.text
    new = response.json()["version"]
    users = Users(sim, "h", standard=160, elderly=40)
    users.visit(20, HEALTHY)
    sim.now += 5 * 60
    assert sim.look() == 0  # 5 of 10 minutes: waits
    assert sim.rollout()["schedule"]["step"] == 0
    sim.now += 6 * 60
    assert sim.look() == 1  # minutes and exposures met: 50%
    view = sim.rollout()
    assert view["rollout"]["percent"] == 50 and view["schedule"]["step"] == 1
    assert view["schedule"]["steps"][0]["state"] == "done"
    users.visit(50, HEALTHY)
    sim.now += 11 * 60
    assert sim.look() == 1  # promoted
    view = sim.rollout()
    assert view["rollout"] is None and view["live_version"] == new
    events = view["schedule"]["events"]
    assert [e["action"] for e in events] == ["scheduled", "started", "advanced", "promoted"]
    assert [e["actor"] for e in events] == ["ann", "ann", "scheduler", "scheduler"]
    assert events[2]["at"] == START + 11 * 60 and events[3]["at"] == START + 22 * 60
    assert all(v["state"] in ("ok", "waiting") for v in events[-1]["guardrails"])
    assert view["schedule"]["status"] == "completed"
    sim.now += 3600
    assert sim.look() == 0
    # The audit log: each automatic step once, the decision then the change it makes.
    entries = audit(sim)
    acts = [
        (e["act"], e["actor"]) for e in entries if e["act"].startswith(("schedule.", "rollout."))
    ]
    assert acts == [
        ("schedule.scheduled", "ann"),
        ("schedule.started", "ann"),
        ("schedule.advanced", "scheduler"),
        ("rollout.set", "scheduler"),
        ("schedule.promoted", "scheduler"),
        ("rollout.promote", "scheduler"),
    ], acts
    widened = next(e for e in entries if e["act"] == "rollout.set")
    assert (widened["before"]["rollout"]["percent"], widened["after"]["rollout"]["percent"]) == (
        20,
        50,
    )


def test_schedules_are_validated_field_by_field(sim: Sim) -> None:
    client = sim.client(0)
    s, g = "schedule.steps", "schedule.guardrails"
    hundred = {"percent": 100}
    srm = {"metric": "srm", "action": "hold"}
    cases = [
        ({"steps": [{"percent": 50}]}, f"{s}[0].percent"),
        ({"steps": [{"percent": 50}, {"percent": 40}, hundred]}, f"{s}[1].percent"),
        ({"steps": [{"percent": 50, "min_minutes": -1}, hundred]}, f"{s}[0].min_minutes"),
        ({"steps": [{"percent": 50, "min_exposed": 1.5}, hundred]}, f"{s}[0].min_exposed"),
        ({"steps": [{"percent": 50}, {"percent": 100, "min_minutes": 5}]}, f"{s}[1]"),
        ({"steps": []}, s),
        ({"steps": "5,100"}, s),
        ({"stpes": []}, "schedule.stpes"),
        ({"start": "tomorrow"}, "schedule.start"),
        ({"start": START + 10 * 366 * 86_400}, "schedule.start"),
        ({"guardrails": [{"metric": "revenue", "action": "warn"}]}, f"{g}[0].metric"),
        ({"guardrails": [{**srm, "action": "explode"}]}, f"{g}[0].action"),
        ({"guardrails": [{**srm, "alpha": 2}]}, f"{g}[0].alpha"),
        ({"guardrails": [srm, srm]}, f"{g}[1].metric"),
        ({"guardrails": srm}, g),
        ([], "schedule"),
        # Integers too large for a float (JSON allows them; they were a 500).
        ({"start": 10**400}, "schedule.start"),
        ({"steps": [{"percent": 10**400}, hundred]}, f"{s}[0].percent"),
        ({"steps": [{"percent": 5, "min_minutes": 10**400}, hundred]}, f"{s}[0].min_minutes"),
        ({"steps": [{"percent": 5, "min_exposed": -(10**400)}, hundred]}, f"{s}[0].min_exposed"),
        ({"guardrails": [{**srm, "threshold": 10**400}]}, f"{g}[0].threshold"),
    ]
    for schedule, field in cases:
        response = publish(sim, schedule)  # type: ignore[arg-type]
        assert response.status_code == 422, (schedule, response.text)
        assert response.json()["error"]["field"] == field, (schedule, response.json())
    body = {"template": new_version(sim, "x"), "message": "m", "schedule": {}, "rollout": 10}
    response = client.post(f"{BASE}/publish", json=body, headers=DESIGNER)
    assert response.status_code == 422 and response.json()["error"]["field"] == "schedule"
    # Nothing was scheduled or published by any of them.
    assert sim.rollout()["schedule"] is None and sim.rollout()["rollout"] is None


def test_a_misspelt_member_is_refused_not_dropped(sim: Sim) -> None:
    """A publish whose `schedule` is misspelt published the version to everyone at once (the
    member was ignored), and a scheduled change whose `revert_at` is misspelt never reverted:
    each is a 422 naming the member, and nothing is published or scheduled."""
    client = sim.client(0)
    live = client.get(BASE, headers=DESIGNER).json()["live_version"]
    steps = {"steps": [{"percent": 5}, {"percent": 100}]}
    for name in ("schedul", "Schedule", "rollout_schedule"):
        body: dict[str, Any] = {"template": new_version(sim, "Cart, ramped"), "message": "m"}
        body[name] = steps
        response = client.post(f"{BASE}/publish", json=body, headers=DESIGNER)
        assert response.status_code == 422, (name, response.text)
        assert response.json()["error"]["field"] == name, response.json()
    change: dict[str, Any] = {"template": new_version(sim, "Cart, sale"), "at": START + 60}
    for name in ("revertAt", "revert", "until"):
        body = {**change, name: START + 600}
        response = client.post(f"{BASE}/schedule", json=body, headers=DESIGNER)
        assert response.status_code == 422, (name, response.text)
        assert response.json()["error"]["field"] == name, response.json()
    view = sim.rollout()
    assert view["live_version"] == live and view["rollout"] is None and view["schedule"] is None
    # The members of the contract still pass.
    body = {**change, "revert_at": START + 600, "message": "sale"}
    assert client.post(f"{BASE}/schedule", json=body, headers=DESIGNER).status_code == 201


def test_a_second_schedule_on_a_page_is_a_conflict(sim: Sim) -> None:
    later = {"start": START + 3600}
    response = publish(sim, later, "Cart, later")
    assert response.status_code == 202, response.text
    assert response.json()["schedule"]["status"] == "scheduled"
    response = publish(sim, {}, "Cart, other")
    assert response.status_code == 409, response.text
    error = response.json()["error"]
    assert error["code"] == "schedule_conflict" and error["field"] == "schedule"
    change = {"template": new_version(sim, "Cart, sale"), "at": START + 60}
    response = sim.client(1).post(f"{BASE}/schedule", json=change, headers=DESIGNER)
    assert response.status_code == 409 and response.json()["error"]["code"] == "schedule_conflict"
    # The first one starts at its time, on whichever replica looks.
    sim.now += 3600
    assert sim.look() == 1
    view = sim.rollout()
    assert view["schedule"]["status"] == "running" and view["rollout"]["percent"] == 5
    assert [g["metric"] for g in view["schedule"]["guardrails"]] == [
        "conversion",
        "elderly_conversion",
        "screen_reader_conversion",
        "render_errors",
        "srm",
        "no_traffic",
    ]
    assert view["defaults"]["steps"][0] == {"percent": 5, "min_minutes": 60.0, "min_exposed": 200}


def test_pause_resume_and_a_manual_widen(sim: Sim) -> None:
    schedule = {
        "steps": [
            {"percent": 10, "min_minutes": 1, "min_exposed": 0},
            {"percent": 30, "min_minutes": 1, "min_exposed": 0},
            {"percent": 60, "min_minutes": 1, "min_exposed": 0},
            {"percent": 100},
        ]
    }
    assert publish(sim, schedule).status_code == 201
    client = sim.client(1)
    response = client.post(f"{BASE}/rollout/pause", headers=DESIGNER)
    assert response.status_code == 200 and response.json()["schedule"]["status"] == "paused"
    sim.now += 120
    assert sim.look() == 0  # paused: nothing advances
    # A person widens by hand: recorded with their name; it resumes from the step at or
    # above the new percent.
    response = client.post(
        f"{BASE}/rollout", json={"percent": 25}, headers=bearer("bo", "designer")
    )
    assert response.status_code == 200
    response = client.post(f"{BASE}/rollout/resume", headers=DESIGNER)
    assert response.status_code == 200
    resumed = response.json()["schedule"]
    assert resumed["status"] == "running" and resumed["step"] == 1
    assert sim.look() == 1  # the rollout is at 25, the step says 30: paused as outside
    assert sim.rollout()["schedule"]["status"] == "paused"
    client.post(f"{BASE}/rollout", json={"percent": 30}, headers=DESIGNER)
    client.post(f"{BASE}/rollout/resume", headers=DESIGNER)
    sim.now += 120
    assert sim.look() == 1
    assert sim.rollout()["rollout"]["percent"] == 60
    response = client.post(f"{BASE}/abort", headers=bearer("cy", "designer"))
    assert response.status_code == 200
    view = sim.rollout()
    actions = [(e["action"], e["actor"]) for e in view["schedule"]["events"]]
    assert ("paused", "ann") in actions and ("resumed", "ann") in actions
    assert actions[-1] == ("rolled_back", "cy")
    assert any(e["actor"] == "bo" and "25%" in e["reason"] for e in view["schedule"]["events"])
    assert view["schedule"]["status"] == "rolled_back"
    response = client.post(f"{BASE}/rollout/pause", headers=DESIGNER)
    assert response.status_code == 409 and response.json()["error"]["code"] == "no_schedule"


def test_resuming_what_runs_and_pausing_what_is_paused_are_409_naming_the_state(
    sim: Sim,
) -> None:
    """State-machine misuse is said (409 with the schedule's `status`), never a 200 that
    reads as if it were done; the schedule is left as it was."""
    steps = [{"percent": 10, "min_minutes": 1, "min_exposed": 0}, {"percent": 100}]
    assert publish(sim, {"steps": steps}).status_code == 201
    client = sim.client(0)
    before = sim.rollout()["schedule"]
    response = client.post(f"{BASE}/rollout/resume", headers=DESIGNER)
    assert response.status_code == 409, response.text
    body = response.json()
    assert body["error"]["code"] == "not_paused" and body["error"]["field"] == "schedule"
    assert body["status"] == "running" and "running" in body["error"]["message"]
    assert body["schedule"]["events"] == before["events"]
    assert client.post(f"{BASE}/rollout/pause", headers=DESIGNER).status_code == 200
    response = client.post(f"{BASE}/rollout/pause", headers=DESIGNER)
    assert response.status_code == 409, response.text
    body = response.json()
    assert body["error"]["code"] == "already_paused" and body["status"] == "paused"
    paused = sim.rollout()["schedule"]
    assert [e["action"] for e in paused["events"]].count("paused") == 1
    assert client.post(f"{BASE}/rollout/resume", headers=DESIGNER).status_code == 200


def test_a_scheduled_change_publishes_then_reverts(sim: Sim) -> None:
    before = sim.client(0).get(BASE, headers=DESIGNER).json()["live_version"]
    change = {
        "template": new_version(sim, "Cart, holiday"),
        "at": START + 600,
        "revert_at": START + 1200,
        "message": "holiday sale",
    }
    response = sim.client(0).post(f"{BASE}/schedule", json=change, headers=DESIGNER)
    assert response.status_code == 201, response.text
    version = response.json()["schedule"]["version"]
    bad = [
        ({**change, "revert_at": START + 300}, "revert_at"),
        ({"template": change["template"]}, "at"),
        ({"at": START + 60}, "template"),
        ({**change, "version": before}, "template"),
        ({**change, "revert_at": 10**400}, "revert_at"),  # too large for a float: was a 500
    ]
    for body, field in bad:
        response = sim.client(1).post(f"{BASE}/schedule", json=body, headers=DESIGNER)
        assert response.status_code in (409, 422), response.text
        if response.status_code == 422:
            assert response.json()["error"]["field"] == field, (body, response.json())
    sim.now += 601
    assert sim.look() == 1
    assert sim.client(1).get(BASE, headers=DESIGNER).json()["live_version"] == version
    sim.now += 600
    assert sim.look() == 1
    assert sim.client(0).get(BASE, headers=DESIGNER).json()["live_version"] == before
    events = sim.rollout()["schedule"]["events"]
    assert [e["action"] for e in events] == [
        "scheduled",
        "starting",
        "published",
        "reverting",
        "reverted",
    ]


def test_a_broken_renderer_is_rolled_back(sim: Sim) -> None:
    """The SDK reports render errors: the new version's components fail to draw for about one
    launch in two, the previous version's almost never; the render_errors guardrail rolls it
    back before the step's minutes are up."""
    schedule = {"steps": [{"percent": 50, "min_minutes": 60, "min_exposed": 50}, {"percent": 100}]}
    response = publish(sim, schedule, "Cart, broken renderer")
    assert response.status_code == 201, response.text
    new, previous = response.json()["version"], response.json()["rollout"]["previous"]
    seen = {"new": 0, "previous": 0}
    for n in range(160):
        user = f"r{n}"
        client = sim.client(n)
        served = client.get(f"/v1/layouts/{PAGE}", headers=bearer(user)).json()
        arm = "new" if served["template_version"] == new else "previous"
        seen[arm] += 1
        ids = [c["id"] for c in served["components"]][:5]
        events = [{"page": PAGE, "component": c, "kind": "impression"} for c in ids]
        broken = seen[arm] % 2 == 0 if arm == "new" else seen[arm] % 80 == 0
        if broken:
            events.append({"page": PAGE, "component": ids[0], "kind": "render_error"})
        response = client.post("/v1/me/events", json={"events": events}, headers=bearer(user))
        assert response.status_code == 202, response.text
    assert min(seen.values()) > 40, seen
    sim.flush()
    sim.now += 60
    assert sim.look() == 1
    view = sim.rollout()
    assert view["schedule"]["status"] == "rolled_back" and view["live_version"] == previous
    last = view["schedule"]["events"][-1]
    assert last["action"] == "rolled_back" and "render_errors" in last["reason"]
    (render,) = [g for g in last["guardrails"] if g["metric"] == "render_errors"]
    assert render["state"] == "fired"
    assert render["figures"]["new_errors"] > render["figures"]["previous_errors"]
    assert render["figures"]["new_impressions"] >= 5 * 40


def test_a_step_decided_by_a_replica_that_died_is_applied_once_by_another(sim: Sim) -> None:
    """A replica recorded its decision (the next step, `pending`) and died before setting the
    percent: within APPLY_GRACE_S nobody touches it; after it, whichever replica looks first
    applies it, once."""
    schedule = {"steps": [{"percent": 10, "min_minutes": 1, "min_exposed": 0}, *STEPS_TAIL]}
    assert publish(sim, schedule).status_code == 201
    service = sim.client(0).app.service  # type: ignore[attr-defined]
    portal = sim.client(0).portal
    assert portal is not None
    found = portal.call(service.scheduler.active, PAGE)
    assert found is not None
    row, current = found
    dead = "other-host:4242"
    event = Event(sim.now, "scheduler", "advanced", "step met", 0, 10, [], dead)
    decided = with_event(current, event, step=1, pending="percent", pending_at=sim.now)
    stored = ScheduleRow(row.page, row.id, row.rev + 1, True, row.created, encode_schedule(decided))
    assert portal.call(service.store.schedules.update_schedule, stored, row.rev)
    sim.now += APPLY_GRACE_S / 2
    assert sim.look() == 0
    assert sim.rollout()["rollout"]["percent"] == 10
    sim.now += APPLY_GRACE_S
    assert sim.look() == 1
    view = sim.rollout()
    assert view["rollout"]["percent"] == 40 and view["schedule"]["step"] == 1
    assert [e["action"] for e in view["schedule"]["events"]].count("advanced") == 1
    assert sim.look() == 0  # applied once: the next look only waits


def test_a_step_left_pending_is_applied_after_the_clock_moved_back(sim: Sim) -> None:
    """A replica recorded its decision and died; the clock then moved back an hour (NTP, or a
    replica whose clock is behind): the step waited for that hour to pass before anyone applied
    it. An intent stamped more than APPLY_GRACE_S in the future counts as left behind too."""
    schedule = {"steps": [{"percent": 10, "min_minutes": 1, "min_exposed": 0}, *STEPS_TAIL]}
    assert publish(sim, schedule).status_code == 201
    service = sim.client(0).app.service  # type: ignore[attr-defined]
    portal = sim.client(0).portal
    assert portal is not None
    found = portal.call(service.scheduler.active, PAGE)
    assert found is not None
    row, current = found
    event = Event(sim.now, "scheduler", "advanced", "step met", 0, 10, [], "other-host:4242")
    decided = with_event(current, event, step=1, pending="percent", pending_at=sim.now)
    stored = ScheduleRow(row.page, row.id, row.rev + 1, True, row.created, encode_schedule(decided))
    assert portal.call(service.store.schedules.update_schedule, stored, row.rev)
    sim.now -= 3600
    assert sim.look() == 1
    view = sim.rollout()
    assert view["rollout"]["percent"] == 40 and view["schedule"]["step"] == 1
    assert sim.look() == 0  # applied once


def test_a_percent_set_by_hand_is_not_undone_by_a_step_decided_before_it(sim: Sim) -> None:
    """A replica decided the next step (40%) and died before applying it; a person then set
    the rollout to 5% by hand. The person decided: the stale step is not applied over it."""
    schedule = {"steps": [{"percent": 10, "min_minutes": 1, "min_exposed": 0}, *STEPS_TAIL]}
    assert publish(sim, schedule).status_code == 201
    service = sim.client(0).app.service  # type: ignore[attr-defined]
    portal = sim.client(0).portal
    assert portal is not None
    found = portal.call(service.scheduler.active, PAGE)
    assert found is not None
    row, current = found
    event = Event(sim.now, "scheduler", "advanced", "step met", 1, 40, [], "other-host:4242")
    decided = with_event(current, event, step=1, pending="percent", pending_at=sim.now)
    stored = ScheduleRow(row.page, row.id, row.rev + 1, True, row.created, encode_schedule(decided))
    assert portal.call(service.store.schedules.update_schedule, stored, row.rev)
    bo = bearer("bo", "designer")
    response = sim.client(1).post(f"{BASE}/rollout", json={"percent": 5}, headers=bo)
    assert response.status_code == 200, response.text
    sim.now += APPLY_GRACE_S * 2
    sim.look()
    view = sim.rollout()
    assert view["rollout"]["percent"] == 5, view["rollout"]
    assert view["schedule"]["status"] == "paused"
    assert view["schedule"]["events"][-1]["actor"] == "bo"


STEPS_TAIL = [{"percent": 40, "min_minutes": 60, "min_exposed": 0}, {"percent": 100}]


def test_a_hold_is_released_when_the_split_is_right_again(sim: Sim) -> None:
    schedule = {"steps": [{"percent": 50, "min_minutes": 60, "min_exposed": 1}, {"percent": 100}]}
    assert publish(sim, schedule).status_code == 201
    names = [f"q{n}" for n in range(600)]
    previous = [u for u in names if rollout_bucket(PAGE, u) >= 5000][:60]
    new = [u for u in names if rollout_bucket(PAGE, u) < 5000][:60]
    for n, user in enumerate(previous):
        assert sim.client(n).get(f"/v1/layouts/{PAGE}", headers=bearer(user)).status_code == 200
    sim.flush()
    assert sim.look() == 1
    view = sim.rollout()
    assert view["schedule"]["holding"] == "srm"
    assert sim.look() == 0  # still held: no second entry
    for n, user in enumerate(new):
        assert sim.client(n).get(f"/v1/layouts/{PAGE}", headers=bearer(user)).status_code == 200
    sim.flush()
    assert sim.look() == 1
    view = sim.rollout()
    assert view["schedule"]["holding"] is None
    actions = [e["action"] for e in view["schedule"]["events"]]
    assert actions[-2:] == ["held", "released"]
    srm = next(g for g in view["guardrails"] if g["metric"] == "srm")
    assert srm["state"] == "ok" and view["exposed"] == [60, 60]


def test_no_traffic_warns_once_per_step(sim: Sim) -> None:
    schedule = {
        "steps": [{"percent": 20, "min_minutes": 60, "min_exposed": 1}, {"percent": 100}],
        "guardrails": [{"metric": "no_traffic", "action": "warn", "max_quiet_minutes": 5}],
    }
    assert publish(sim, schedule).status_code == 201
    sim.now += 6 * 60
    assert sim.look() == 1
    assert sim.look() == 0
    last = sim.rollout()["schedule"]["events"][-1]
    assert last["action"] == "warned" and "no new exposed user for 6 minutes" in last["reason"]
    assert sim.rollout()["rollout"]["percent"] == 20  # a warning changes nothing


def test_a_rollout_ended_outside_the_schedule_ends_it(sim: Sim) -> None:
    assert publish(sim, {}).status_code == 201
    body = {
        "template": new_version(sim, "Cart, hotfix"),
        "message": "hotfix over the ramp",
        "rollout_conflict": "abort",
    }
    response = sim.client(1).post(f"{BASE}/publish", json=body, headers=DESIGNER)
    assert response.status_code == 201, response.text
    assert sim.look() == 1
    last = sim.rollout()["schedule"]
    assert last["status"] == "cancelled"
    assert "ended or replaced outside the schedule" in last["events"][-1]["reason"]
    # The page is free for a new schedule; cancelling it by hand is recorded too.
    assert publish(sim, {}, "Cart, again").status_code == 201
    response = sim.client(0).delete(f"{BASE}/schedule", headers=DESIGNER)
    assert response.status_code == 200 and response.json()["schedule"]["status"] == "cancelled"
    assert sim.rollout()["rollout"]["percent"] == 5  # the rollout stays where it is
    response = sim.client(0).delete(f"{BASE}/schedule", headers=DESIGNER)
    assert response.status_code == 409 and response.json()["error"]["code"] == "no_schedule"


def test_a_later_start_that_meets_a_running_rollout_fails_and_says_why(sim: Sim) -> None:
    response = publish(sim, {"start": START + 600}, "Cart, at ten")
    assert response.status_code == 202, response.text
    # Paused before it began, then resumed: it still waits for its start.
    assert sim.client(0).post(f"{BASE}/rollout/pause", headers=DESIGNER).status_code == 200
    twice = sim.client(0).post(f"{BASE}/rollout/pause", headers=DESIGNER)
    assert twice.status_code == 409 and twice.json()["error"]["code"] == "already_paused"
    resumed = sim.client(0).post(f"{BASE}/rollout/resume", headers=DESIGNER).json()["schedule"]
    assert resumed["status"] == "scheduled"
    again = sim.client(0).post(f"{BASE}/rollout/resume", headers=DESIGNER)
    assert again.status_code == 409 and again.json()["status"] == "scheduled"
    assert again.json()["schedule"]["events"] == resumed["events"]  # it changed nothing
    body = {"template": new_version(sim, "Cart, by hand"), "message": "manual", "rollout": 10}
    assert sim.client(1).post(f"{BASE}/publish", json=body, headers=DESIGNER).status_code == 201
    sim.now += 601
    assert sim.look() == 1
    schedule = sim.rollout()["schedule"]
    assert schedule["status"] == "failed"
    assert schedule["events"][-1]["action"] == "failed"
    assert "rolling out to 10%" in schedule["events"][-1]["reason"]


def test_every_act_is_announced_once_to_the_observers(sim: Sim) -> None:
    """The audit hook: `Scheduler.observers` hears each rollout act once, from the replica that
    recorded it; an observer that fails stops nothing."""
    heard: list[RolloutAct] = []

    async def listen(act: RolloutAct) -> None:
        heard.append(act)

    async def broken(act: RolloutAct) -> None:
        raise RuntimeError("observer down")

    for client in sim.clients:
        observers = client.app.service.scheduler.observers  # type: ignore[attr-defined]
        observers += [broken, listen]
    schedule = {"steps": [{"percent": 30, "min_minutes": 1, "min_exposed": 0}, {"percent": 100}]}
    assert publish(sim, schedule).status_code == 201
    sim.now += 120
    assert sim.look() == 1
    acts = [(a.action, a.actor, a.percent) for a in heard]
    assert acts == [
        ("scheduled", "ann", 0),
        ("started", "ann", 30),
        ("promoted", "scheduler", 100),
    ]
    assert all(a.page == PAGE and a.kind == "ramp" for a in heard)


def test_one_step_of_100_and_a_promote_by_hand(sim: Sim) -> None:
    response = publish(sim, {"steps": [{"percent": 100}]}, "Cart, at once")
    assert response.status_code == 201, response.text
    assert response.json()["rollout"] is None
    assert response.json()["schedule"]["status"] == "completed"
    assert publish(sim, {}, "Cart, ramped").status_code == 201
    bo = bearer("bo", "designer")
    assert sim.client(1).post(f"{BASE}/promote", headers=bo).status_code == 200
    schedule = sim.rollout()["schedule"]
    assert schedule["status"] == "completed"
    assert (schedule["events"][-1]["action"], schedule["events"][-1]["actor"]) == ("promoted", "bo")


def test_a_stale_base_schedules_nothing(sim: Sim) -> None:
    body = {"template": new_version(sim, "Cart, stale"), "message": "m", "schedule": {}}
    headers = {**DESIGNER, "If-Match": '"0123456789abcdef"'}
    response = sim.client(0).post(f"{BASE}/publish", json=body, headers=headers)
    assert response.status_code == 409 and response.json()["error"]["code"] == "stale_base"
    view = sim.rollout()
    assert view["schedule"]["status"] == "failed" and view["rollout"] is None
    assert publish(sim, {}).status_code == 201  # the page is free
    response = sim.client(0).get("/v1/admin/templates/nowhere/rollout", headers=DESIGNER)
    assert response.status_code == 404


def test_a_change_is_not_reverted_over_a_later_publish(sim: Sim) -> None:
    change = {"template": new_version(sim, "Cart, sale"), "at": START, "revert_at": START + 60}
    response = sim.client(0).post(f"{BASE}/schedule", json=change, headers=DESIGNER)
    assert response.status_code == 201, response.text
    assert sim.rollout()["schedule"]["status"] == "running"  # published at once (at: now)
    body = {"template": new_version(sim, "Cart, fixed"), "message": "fix"}
    assert sim.client(1).post(f"{BASE}/publish", json=body, headers=DESIGNER).status_code == 201
    sim.now += 61
    assert sim.look() == 1
    schedule = sim.rollout()["schedule"]
    assert schedule["status"] == "completed"
    assert schedule["events"][-1]["reason"].startswith("not reverted: version")


def test_archiving_a_page_cancels_its_schedule(sim: Sim) -> None:
    """A page taken down stays down: a scheduled change due later does not publish it again
    (it did), and a running ramp ends as cancelled, not as "promoted"."""
    change = {"template": new_version(sim, "holiday"), "at": START + 600, "message": "sale"}
    assert sim.client(0).post(f"{BASE}/schedule", json=change, headers=DESIGNER).status_code == 201
    assert sim.client(1).delete(BASE, headers=DESIGNER).status_code == 200
    sim.now += 700
    sim.look()
    assert sim.client(0).get(f"/v1/layouts/{PAGE}", headers=bearer("u1")).status_code == 404
    events = sim.rollout()["schedule"]["events"]
    assert (events[-1]["action"], events[-1]["reason"]) == ("cancelled", "page archived")
    steps = [{"percent": 10, "min_minutes": 1, "min_exposed": 0}, {"percent": 100}]
    body = {"template": change["template"], "message": "back"}
    assert sim.client(0).post(f"{BASE}/publish", json=body, headers=DESIGNER).status_code == 201
    assert publish(sim, {"steps": steps}).status_code == 201
    assert sim.client(1).delete(BASE, headers=DESIGNER).status_code == 200
    sim.now += 120
    sim.look()
    schedule = sim.rollout()["schedule"]
    assert schedule["status"] == "cancelled", schedule["events"]


def test_the_manual_rollout_routes_stamp_the_schedulers_clock(sim: Sim) -> None:
    """One clock: a rollout started, widened, narrowed by hand carries the scheduler's time
    (`started`/`updated`), as its automatic steps do, so both agree (before, the routes stamped
    the wall clock while the scheduler ran on its injected one)."""
    body = {"template": new_version(sim, "Cart, by hand"), "message": "manual", "rollout": 10}
    created = sim.client(0).post(f"{BASE}/publish", json=body, headers=DESIGNER)
    assert created.status_code == 201, created.text
    assert created.json()["rollout"]["started"] == START
    assert created.json()["rollout"]["updated"] == START
    sim.now += 300
    widened = sim.client(1).post(f"{BASE}/rollout", json={"percent": 40}, headers=DESIGNER)
    assert widened.status_code == 200, widened.text
    rollout = widened.json()["rollout"]
    assert (rollout["percent"], rollout["started"], rollout["updated"]) == (40, START, START + 300)
    shown = sim.rollout()["rollout"]
    assert (shown["started"], shown["updated"]) == (START, START + 300)
    sim.now += 60
    assert sim.client(0).post(f"{BASE}/abort", headers=DESIGNER).status_code == 200
    versions = sim.client(0).get(f"{BASE}/history", headers=DESIGNER).json()["versions"]
    assert versions[0]["created"] == START + 360  # the abort's history entry, at the same time
