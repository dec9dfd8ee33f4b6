"""Event timestamps from the future: a little clock skew is taken, nonsense is refused; from
the past: older than 7 days (the event ids' window) is ignored as `too_old`.

A device clock a few minutes ahead is normal; a `ts` of 1e12 (the year 33658) or 1e308 is a
client bug. Refused with a 422 naming the event, and nothing of the batch is stored: clamping it
to "now" would silently turn a broken client's events into fresh evidence and activity.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.helpers.app import bearer, make_app
from tests.helpers.rsgi import ANSWERS, interfaced

DAY = 86_400


@pytest.fixture(params=ANSWERS)
def client(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[TestClient]:
    """The app on ASGI (uvicorn) and through its RSGI entry point (granian)."""
    with TestClient(interfaced(make_app(tmp_path), request.param)) as test_client:
        yield test_client


def _click(ts: Any) -> dict[str, Any]:
    return {"page": "home", "component": "coupons", "kind": "click", "ts": ts}


def _stored(client: TestClient, user: str) -> dict[str, Any]:
    data: dict[str, Any] = client.get("/v1/me/data", headers=bearer(user)).json()
    return data


@pytest.mark.parametrize(
    "ts",
    [
        pytest.param(1e12, id="year-33658"),
        pytest.param(1e308, id="1e308"),
        pytest.param(10**20, id="huge-int"),
        pytest.param("future", id="two-days-ahead"),
        pytest.param("far", id="one-year-ahead"),
    ],
)
def test_a_timestamp_from_the_future_is_refused_and_nothing_stored(
    client: TestClient, ts: Any
) -> None:
    if ts == "future":
        ts = time.time() + 2 * DAY
    elif ts == "far":
        ts = time.time() + 365 * DAY
    user = f"future-{ts}"
    before = _stored(client, user)
    batch = [_click(time.time()), _click(ts)]
    response = client.post("/v1/me/events", json={"events": batch}, headers=bearer(user))
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["field"].startswith("events[1]")
    assert _stored(client, user) == before


@pytest.mark.parametrize("ahead", [0, 60, 3_600, DAY - 120])
def test_clock_skew_within_a_day_is_accepted(client: TestClient, ahead: int) -> None:
    response = client.post(
        "/v1/me/events",
        json={"events": [_click(time.time() + ahead)]},
        headers=bearer(f"skew-{ahead}"),
    )
    assert response.status_code == 202, response.text
    assert response.json()["stored"] == 1


# Events from the past: older than the event ids' window (7 days) is ignored, not counted.


@pytest.mark.parametrize(
    "age",
    [
        pytest.param(7 * DAY + 120, id="a-week-and-two-minutes"),
        pytest.param(365 * DAY, id="a-year"),
        pytest.param("epoch", id="ts-0"),
    ],
)
def test_an_event_older_than_seven_days_is_ignored_as_too_old(client: TestClient, age: Any) -> None:
    """Reported in the 202 body like any ignored event, and nothing of it stored: before, a
    `ts` of 1970 or of last year was folded into affinities and the activity counters as
    given (and, with an id, counted again when resent after the ids' 7-day window)."""
    ts = 0.0 if age == "epoch" else time.time() - age
    user = f"past-{age}"
    before = _stored(client, user)
    old = {**_click(ts), "id": f"old-event-{user}"}
    response = client.post("/v1/me/events", json={"events": [old]}, headers=bearer(user))
    assert response.status_code == 202, response.text
    body = response.json()
    assert body == {"accepted": 1, "stored": 0, "ignored": 1, "ignored_reasons": {"too_old": 1}}
    assert _stored(client, user) == before


def test_too_old_is_counted_beside_the_other_reasons_and_recent_events_are_stored(
    client: TestClient,
) -> None:
    now = time.time()
    batch = [
        _click(now - 8 * DAY),
        _click(now - 6 * DAY),  # within the window: stored
        _click(now),
        {"page": "nowhere", "component": "coupons", "kind": "click", "ts": now},
        {"page": "nowhere", "component": "coupons", "kind": "click", "ts": now - 30 * DAY},
    ]
    response = client.post("/v1/me/events", json={"events": batch}, headers=bearer("mixed"))
    assert response.status_code == 202, response.text
    body = response.json()
    assert (body["stored"], body["ignored"]) == (2, 3)
    assert body["ignored_reasons"] == {"too_old": 2, "unknown_page": 1}
    # With personalization off too: the age is judged first, whatever else the event is.
    settings = client.get("/v1/me/settings", headers=bearer("off")).json()
    put = client.put(
        "/v1/me/settings", json={**settings, "personalization": 0}, headers=bearer("off")
    )
    assert put.status_code == 200, put.text
    response = client.post("/v1/me/events", json={"events": batch[:3]}, headers=bearer("off"))
    assert response.json()["ignored_reasons"] == {"too_old": 1, "personalization_off": 2}
