"""Event timestamps from the future: a little clock skew is taken, nonsense is refused.

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

DAY = 86_400


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(make_app(tmp_path)) as test_client:
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
