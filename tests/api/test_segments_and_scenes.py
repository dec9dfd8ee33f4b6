"""Computed segments and scene rules through the real app, on SQLite and on a real Redis.

A population is driven through launches (layout GETs at a controlled server clock) and events
with past `ts`; each user's segments are read back from `/v1/me/data` and from the layout's
reasons.
"""

from __future__ import annotations

import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

import uiserver.serving.layouts
import uiserver.users.events
from tests.helpers.app import bearer, make_app

DAY = 86_400.0
TODAY = 20_000 * DAY + 12 * 3600  # a fixed noon, UTC


class Clock:
    """The server's clock for launches and events (`time` in serving and in the event intake)."""

    def __init__(self, now: float) -> None:
        self.now = now

    def time(self) -> float:
        return self.now


@pytest.fixture(params=["sqlite", pytest.param("redis", marks=pytest.mark.redis)])
def backend(request: pytest.FixtureRequest) -> str:
    if request.param == "redis":
        url: str = request.getfixturevalue("redis_url")
        return url
    return ""


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock(TODAY)
    fake = types.SimpleNamespace(time=clock.time)
    monkeypatch.setattr(uiserver.serving.layouts, "time", fake)
    monkeypatch.setattr(uiserver.users.events, "time", fake)
    return clock


@pytest.fixture
def client(tmp_path: Path, backend: str, clock: Clock) -> Iterator[TestClient]:
    app = make_app(tmp_path, store_url=backend, activity_flush_s=0.0)
    with TestClient(app) as test_client:
        yield test_client


def flush(client: TestClient) -> None:
    service = client.app.service  # type: ignore[attr-defined]
    client.portal.call(service.recorder.flush)  # type: ignore[union-attr]


def launch(
    client: TestClient,
    clock: Clock,
    user: str,
    days_ago: float,
    page: str = "home",
    query: str = "",
) -> dict[str, Any]:
    """A layout GET `days_ago` days before TODAY; its counters written before returning."""
    saved = clock.now
    clock.now = TODAY - days_ago * DAY
    try:
        response = client.get(f"/v1/layouts/{page}{query}", headers=bearer(user))
        assert response.status_code == 200, response.text
        flush(client)
    finally:
        clock.now = saved
    body: dict[str, Any] = response.json()
    return body


def post_events(client: TestClient, user: str, events: list[dict[str, Any]]) -> dict[str, Any]:
    response = client.post("/v1/me/events", json={"events": events}, headers=bearer(user))
    assert response.status_code == 202, response.text
    body: dict[str, Any] = response.json()
    return body


def event(
    days_ago: float,
    kind: str = "click",
    value: float | None = None,
    page: str = "home",
    component: str = "coupons",
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "page": page,
        "component": component,
        "kind": kind,
        "ts": TODAY - days_ago * DAY,
    }
    if value is not None:
        out["value"] = value
    return out


def computed(client: TestClient, user: str) -> set[str]:
    data = client.get("/v1/me/data", headers=bearer(user)).json()["data"]
    return set(data["computed_segments"])


def component_reasons(layout: dict[str, Any], cid: str) -> list[str] | None:
    for c in layout["components"]:
        if c["id"] == cid:
            return list(c["reasons"])
    return None


Step = tuple[str, Any]  # ("launch", days ago) or ("events", [event, ...])

POPULATION: list[tuple[str, list[Step], set[str], set[str]]] = [
    # (user, what happened before today, segments expected today, segments not expected)
    ("brand_new", [], {"new_user"}, {"churn_risk", "active", "lapsing"}),
    # only activity 8 days old (an event's ts): churn risk on the next launch
    (
        "event_8_days_ago",
        [("events", [event(8)])],
        {"churn_risk", "returning"},
        {"new_user", "active"},
    ),
    (
        "launched_4_days_ago",
        [("launch", 4)],
        {"lapsing", "new_user"},
        {"churn_risk", "returning", "active"},
    ),
    (
        "daily_user",
        [("launch", d) for d in (9, 5, 3, 2, 1)],
        {"active"},
        {"lapsing", "churn_risk", "new_user"},
    ),
    (
        "came_back_2_days_ago",
        [("launch", 12), ("launch", 2)],
        {"returning"},
        {"churn_risk", "lapsing", "new_user"},
    ),
    (
        "big_spender",
        [("events", [event(d, "convert", 150.0) for d in (6, 5, 4, 3, 2)])],
        {"rfm_high"},
        {"rfm_mid", "rfm_low"},
    ),
    (
        "one_small_old_order",
        [("events", [event(40, "convert", 12.5)])],
        {"rfm_low", "churn_risk"},
        {"rfm_high", "rfm_mid"},
    ),
    (
        "two_recent_orders",
        [("events", [event(1, "convert", 60.0), event(2, "convert", 70.0)])],
        {"rfm_mid"},
        {"rfm_high", "rfm_low"},
    ),
]


@pytest.mark.parametrize(
    ("user", "steps", "expected", "absent"),
    [pytest.param(*row, id=row[0]) for row in POPULATION],
)
def test_population_lands_in_its_segments(
    client: TestClient,
    clock: Clock,
    user: str,
    steps: list[Step],
    expected: set[str],
    absent: set[str],
) -> None:
    for kind, arg in steps:
        if kind == "launch":
            launch(client, clock, user, arg)
        else:
            # Each event sent when it happened (the server takes none older than 7 days).
            for item in arg:
                clock.now = item["ts"]
                post_events(client, user, [item])
            clock.now = TODAY
    layout = launch(client, clock, user, 0)
    segments = computed(client, user)
    assert expected <= segments, segments
    assert not (absent & segments), segments
    welcome = component_reasons(layout, "welcome_back")
    if "churn_risk" in expected:
        assert welcome is not None and "segment:churn_risk" in welcome
    elif "returning" in expected:
        assert welcome is not None and "segment:returning" in welcome
    else:
        assert welcome is None
    guide = component_reasons(layout, "first_steps")
    assert (guide is not None and "segment:new_user" in guide) == ("new_user" in segments)


def test_counters_are_exported_and_erased(client: TestClient, clock: Clock) -> None:
    launch(client, clock, "eraseme", 3)
    post_events(client, "eraseme", [event(1, "convert", 20.0)])
    data = client.get("/v1/me/data", headers=bearer("eraseme")).json()["data"]
    assert data["activity"]["converts"] == 1 and data["activity"]["value"] == 20.0
    assert client.delete("/v1/me", headers=bearer("eraseme")).status_code == 200
    data = client.get("/v1/me/data", headers=bearer("eraseme")).json()["data"]
    assert data["activity"] is None or data["activity"]["converts"] == 0
    assert computed(client, "eraseme") == {"new_user"}


def test_personalization_off_keeps_no_counters(client: TestClient, clock: Clock) -> None:
    settings = client.get("/v1/me/settings", headers=bearer("private")).json()
    client.put(
        "/v1/me/settings", json={**settings, "personalization": 0.0}, headers=bearer("private")
    )
    launch(client, clock, "private", 2)
    post_events(client, "private", [event(1, "convert", 5.0)])
    data = client.get("/v1/me/data", headers=bearer("private")).json()["data"]
    assert data["activity"] is None or data["activity"].get("days", {}) == {}


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        pytest.param(-1, "convert", id="negative"),
        pytest.param(1e999, "convert", id="infinite"),
        pytest.param("12", "convert", id="string"),
        pytest.param(5, "click", id="not-a-convert"),
    ],
)
def test_bad_value_is_4xx_json_and_stores_nothing(
    client: TestClient, value: object, kind: str
) -> None:
    before = client.get("/v1/me/data", headers=bearer("v")).json()["data"]
    raw = "1e999" if value == 1e999 else f'"{value}"' if isinstance(value, str) else value
    body = (
        '{"events": [{"page": "home", "component": "coupons", "kind": "'
        + kind
        + f'", "value": {raw}'
        + "}]}"
    )
    response = client.post(
        "/v1/me/events", content=body, headers={**bearer("v"), "content-type": "application/json"}
    )
    assert 400 <= response.status_code < 500, response.text
    error = response.json()["error"]
    assert error["code"] and error["message"]
    assert client.get("/v1/me/data", headers=bearer("v")).json()["data"] == before


def test_value_on_convert_is_accepted(client: TestClient) -> None:
    stored = post_events(client, "buyer", [event(0, "convert", 0.0), event(0, "convert", 19.9)])
    assert stored["stored"] == 2


# --------------------------------------------------------------------------- scenes


def _ids(layout: dict[str, Any]) -> list[str]:
    return [c["id"] for c in layout["components"]]


def test_scene_rules_show_modules_with_reasons(client: TestClient) -> None:
    """Scene rules are personalization (counted against the cap): a signed-in user gets them;
    anonymous callers (strength 0) get the base layout whatever the scene."""
    me = bearer("scene-user")
    plain = client.get("/v1/layouts/home", headers=me).json()
    tea = client.get("/v1/layouts/home?daypart=afternoon", headers=me).json()
    rain = client.get("/v1/layouts/home?weather=rain&daypart=morning", headers=me).json()
    anonymous = client.get("/v1/layouts/home?daypart=afternoon&weather=rain").json()
    assert "afternoon_tea" not in _ids(anonymous) and "rainy_day" not in _ids(anonymous)
    assert "afternoon_tea" not in _ids(plain) and "rainy_day" not in _ids(plain)
    assert "afternoon_tea" in _ids(tea) and "rainy_day" not in _ids(tea)
    assert "scene:afternoon" in (component_reasons(tea, "afternoon_tea") or [])
    assert "rainy_day" in _ids(rain) and "afternoon_tea" not in _ids(rain)
    # a scene change is a change: counted against the cap like any other
    assert tea["personalization"]["changed_ratio"] > 0
    assert {"component": "afternoon_tea", "change": "shown", "reason": "scene:afternoon"} in tea[
        "personalization"
    ]["changes"]


def test_scene_rules_respect_the_cap(client: TestClient) -> None:
    settings = client.get("/v1/me/settings", headers=bearer("off")).json()
    client.put("/v1/me/settings", json={**settings, "personalization": 0.0}, headers=bearer("off"))
    off = client.get("/v1/layouts/home?daypart=afternoon&weather=rain", headers=bearer("off"))
    assert "afternoon_tea" not in _ids(off.json())
    assert off.json()["personalization"]["changed_ratio"] == 0


def test_scene_only_keys_pages_whose_rules_read_it(client: TestClient) -> None:
    """`cart` has no scene rule: every daypart shares one body (same ETag); `home` differs."""
    service = client.app.service  # type: ignore[attr-defined]
    me = bearer("scene-cache")
    cart = {
        client.get(f"/v1/layouts/cart?daypart={d}", headers=me).headers["etag"]
        for d in ("morning", "noon", "afternoon", "evening", "night")
    }
    assert len(cart) == 1
    renders = service.server.stats["renders"]
    client.get("/v1/layouts/cart?weather=snow", headers=me)
    assert service.server.stats["renders"] == renders
    home = {
        client.get(f"/v1/layouts/home?daypart={d}", headers=me).headers["etag"]
        for d in ("morning", "afternoon")
    }
    assert len(home) == 2


@pytest.mark.parametrize("query", ["daypart=teatime", "weather=sunny", "daypart=", "weather=1"])
def test_unknown_scene_is_400_json(client: TestClient, query: str) -> None:
    response = client.get(f"/v1/layouts/home?{query}")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "bad_query" and error["field"] == query.split("=")[0]


def test_openapi_documents_scenes_and_readout(client: TestClient) -> None:
    doc = client.get("/openapi.json").json()
    params = {p["name"]: p for p in doc["paths"]["/v1/layouts/{page}"]["get"]["parameters"]}
    assert set(params["daypart"]["schema"]["enum"]) == {
        "morning",
        "noon",
        "afternoon",
        "evening",
        "night",
    }
    assert set(params["weather"]["schema"]["enum"]) == {"clear", "rain", "snow", "hot", "cold"}
    assert "get" in doc["paths"]["/v1/admin/experiments/{page}"]
    event_schema = doc["components"]["schemas"]["Event"]["properties"]
    assert "value" in event_schema
