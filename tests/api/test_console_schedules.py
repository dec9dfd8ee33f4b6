"""The console's side of guarded rollouts: the publish form offers a ramp schedule with its
defaults; History shows the schedule as a timeline (steps, who did what and why, the guardrail
figures per cohort behind each automatic act) with pause and resume."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from tests.helpers.app import bearer, csrf_of, log_in, make_app
from uiserver.engine.hashing import rollout_bucket

START = 1_800_000_000.0


@pytest.fixture
def console(tmp_path: Path) -> Iterator[TestClient]:
    app = make_app(tmp_path, activity_flush_s=0.0, schedule_interval_s=0.0)
    with TestClient(app, follow_redirects=False) as client:
        client.app.service.scheduler.clock = lambda: START  # type: ignore[attr-defined]
        assert log_in(client).status_code == 303
        yield client


def editor_text(client: TestClient, page: str) -> str:
    match = re.search(
        r'<textarea id="template"[^>]*>(.*?)</textarea>',
        client.get(f"/designer/pages/{page}").text,
        re.S,
    )
    assert match
    return html.unescape(match.group(1))


def test_publish_on_a_ramp_then_follow_pause_and_resume_it(console: TestClient) -> None:
    editor = console.get("/designer/pages/cart").text
    assert 'id="ramp" name="ramp" type="checkbox" value="default"' in editor
    assert "5% → 25% → 50% → 100%" in editor
    csrf = csrf_of(editor)
    text = editor_text(console, "cart").replace("购物车", "购物车 Cart", 1)
    form = {
        "csrf_token": csrf,
        "action": "publish",
        "template": text,
        "message": "new cart",
        "ramp": "default",
    }
    asked = console.post("/designer/pages/cart", data=form)
    assert asked.status_code == 200 and "a ramp schedule (5% -&gt; 25%" in asked.text
    assert 'name="ramp" value="default"' in asked.text
    done = console.post("/designer/pages/cart", data={**form, "confirm": "yes"})
    assert done.status_code == 303 and done.headers["location"].endswith("done=ramp")
    page = console.get(done.headers["location"]).text
    assert "Published on a ramp schedule" in page
    assert "Ramp schedule of version" in page and "Status: <strong>running</strong>" in page
    assert '<li aria-current="step"><strong>5%</strong>' in page
    assert "<strong>started</strong> at 5%" in page and "by dora" in page
    assert "Pause the schedule" in page and "Guardrails now" in page
    paused = console.post(
        "/designer/pages/cart/rollout", data={"csrf_token": csrf, "step": "pause"}
    )
    assert paused.status_code == 303
    page = console.get(paused.headers["location"]).text
    assert "Status: <strong>paused</strong>" in page and "Resume the schedule" in page
    resumed = console.post(
        "/designer/pages/cart/rollout", data={"csrf_token": csrf, "step": "resume"}
    )
    assert resumed.status_code == 303
    page = console.get("/designer/pages/cart/history").text
    assert "<strong>resumed</strong>" in page and "Status: <strong>running</strong>" in page
    # The same form sent again (a second tab, a double submit): a 409 page naming the state.
    twice = console.post(
        "/designer/pages/cart/rollout", data={"csrf_token": csrf, "step": "resume"}
    )
    assert twice.status_code == 409 and "text/html" in twice.headers["content-type"]
    assert "is running, not paused" in twice.text
    # A second ramp on the page is refused in the editor, naming why.
    again = console.post(
        "/designer/pages/cart",
        data={**form, "confirm": "yes", "template": text.replace("Cart", "Basket", 1)},
    )
    assert again.status_code == 409 and "a schedule is active on this page" in again.text


def test_an_automatic_hold_shows_its_guardrail_figures(console: TestClient) -> None:
    """Exposures that do not match the split (every user lands in the previous version's
    arm): the SRM guardrail holds the schedule; History says so, with the figures."""
    template = console.get("/v1/admin/templates/cart", headers=bearer("ann", "designer")).json()
    body = {
        "template": {**template["template"], "title": "Cart, held"},
        "message": "hold me",
        "schedule": {
            "steps": [{"percent": 50, "min_minutes": 0, "min_exposed": 1}, {"percent": 100}]
        },
    }
    response = console.post(
        "/v1/admin/templates/cart/publish", json=body, headers=bearer("ann", "designer")
    )
    assert response.status_code == 201, response.text
    previous_only = [u for u in (f"p{n}" for n in range(400)) if rollout_bucket("cart", u) >= 5000]
    for user in previous_only[:60]:
        assert console.get("/v1/layouts/cart", headers=bearer(user)).status_code == 200
    service = console.app.service  # type: ignore[attr-defined]
    assert console.portal is not None
    console.portal.call(service.recorder.flush)
    assert console.portal.call(service.scheduler.tick) == 1
    page = console.get("/designer/pages/cart/history").text
    assert "held by the srm guardrail" in page
    assert "<strong>held</strong> at 50%" in page and "(automatic)" in page
    assert "sample ratio mismatch: 0 new vs 60 previous" in page
    assert "<details open>" in page and "Guardrails when it held" in page
    assert "60 exposed" in page and "expected 50%" in page


@pytest.mark.parametrize(
    "share",
    ["\u00b2", "\u0663", "1" * 5000, "5\u00b2", " 50 x"],
    ids=["superscript", "arabic-indic", "5000-digits", "digit-superscript", "junk"],
)
def test_a_share_that_is_not_ascii_digits_is_a_page(console: TestClient, share: str) -> None:
    """The console's share fields (publish's `rollout`, a rollout step's `percent`) take a
    whole percent in ASCII digits: '²' passed str.isdigit() and int() refused it (a 500), as it
    did 5,000 digits (Python's int() limit); '٣' was read as 3."""
    from tests.api.test_admin_routes import live_template, relabelled

    designer = bearer("dora", "designer")
    _, template = live_template(console)
    started = console.post(
        "/v1/admin/templates/home/publish",
        json={"template": relabelled(template, "Staged"), "message": "m", "rollout": 10},
        headers=designer,
    )
    assert started.status_code == 201, started.text
    csrf = csrf_of(console.get("/designer/pages/home/history").text)
    step = console.post(
        "/designer/pages/home/rollout",
        data={"csrf_token": csrf, "step": "rollout", "percent": share},
    )
    assert step.status_code == 422, step.text[:300]
    assert "text/html" in step.headers["content-type"]
    assert "whole percent from 1 to 100" in step.text
    publish = console.post(
        "/designer/pages/home",
        data={
            "csrf_token": csrf,
            "action": "publish",
            "template": editor_text(console, "home"),
            "message": "staged again",
            "rollout": share,
            "rollout_conflict": "abort",
        },
    )
    assert publish.status_code == 422, publish.text[:300]
    assert "whole percent from 1 to 100" in publish.text


@pytest.mark.parametrize("step", ["pause", "resume"])
def test_pausing_without_a_schedule_is_a_page(console: TestClient, step: str) -> None:
    """Pause or resume on a page with no active schedule: the 409 page saying so. Before, the
    console mapped the Conflict's code (`no_schedule`) through a table that lacked it: a
    KeyError, a JSON 500."""
    csrf = csrf_of(console.get("/designer/pages/cart/history").text)
    response = console.post("/designer/pages/cart/rollout", data={"csrf_token": csrf, "step": step})
    assert response.status_code == 409, response.text[:300]
    assert "text/html" in response.headers["content-type"]
    assert "has no active schedule" in response.text


def test_every_conflict_is_a_409() -> None:
    from uiserver.admin.errors import Conflict
    from uiserver.http.errors import api_error

    for code in ("no_schedule", "schedule_conflict", "stale_base", "anything_new"):
        assert api_error(Conflict(code, "m", "f")).status == 409
