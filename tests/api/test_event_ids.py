"""Event ids through the real app, on SQLite and on a real Redis: a batch resent after its
answer was lost counts once in the experiment readout, the RFM counters and the affinities; a
bad id is a 422 naming it; events without an id are still accepted."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.helpers.app import bearer, make_app
from tests.helpers.rsgi import ANSWERS, interfaced


@pytest.fixture(params=ANSWERS)
def interface(request: pytest.FixtureRequest) -> str:
    """ASGI (uvicorn) or the RSGI entry point (granian)."""
    return str(request.param)


@pytest.fixture(params=["sqlite", pytest.param("redis", marks=pytest.mark.redis)])
def client(request: pytest.FixtureRequest, interface: str, tmp_path: Path) -> Iterator[TestClient]:
    url = request.getfixturevalue("redis_url") if request.param == "redis" else ""
    app = interfaced(make_app(tmp_path, store_url=url, activity_flush_s=0.0), interface)
    with TestClient(app) as test_client:
        yield test_client


def served(client: TestClient, user: str) -> str:
    """The user launches `home` (its experiment's variant) and the exposure is written."""
    response = client.get("/v1/layouts/home", headers=bearer(user))
    assert response.status_code == 200
    service = client.app.service  # type: ignore[attr-defined]
    client.portal.call(service.recorder.flush)  # type: ignore[union-attr]
    variant: str = response.json()["variant"]
    return variant


def post(client: TestClient, user: str, events: list[dict[str, Any]]) -> dict[str, Any]:
    response = client.post("/v1/me/events", json={"events": events}, headers=bearer(user))
    assert response.status_code == 202, response.text
    body: dict[str, Any] = response.json()
    return body


def totals(client: TestClient) -> tuple[int, int, float]:
    """(converters, convert events, value) over the readout's variants."""
    response = client.get("/v1/admin/experiments/home", headers=bearer("ann", "designer"))
    assert response.status_code == 200, response.text
    rows = response.json()["variants"]
    return (
        sum(r["conversions"] for r in rows),
        sum(r["convert_events"] for r in rows),
        sum(r["value"] for r in rows),
    )


def data(client: TestClient, user: str) -> dict[str, Any]:
    body: dict[str, Any] = client.get("/v1/me/data", headers=bearer(user)).json()["data"]
    return body


CONVERT: dict[str, Any] = {"page": "home", "component": "coupons", "kind": "convert", "value": 99}


def test_a_batch_resent_after_a_lost_answer_counts_once(client: TestClient) -> None:
    """The issue's input: the first POST landed, its answer was lost, the client sent the
    same batch again. converts 1 and value 99 (not 2 and 198), in the readout and in the
    user's RFM counters; the second answer says why nothing was stored."""
    served(client, "rita")
    batch = [{**CONVERT, "id": "3f1c9a4e-8b7d-4c2a-9e10-5a6b7c8d9e0f"}]
    first = post(client, "rita", batch)
    assert (first["stored"], first["ignored"]) == (1, 0)
    before = data(client, "rita")
    again = post(client, "rita", batch)
    assert again == {
        "accepted": 1,
        "stored": 0,
        "ignored": 1,
        "ignored_reasons": {"duplicate": 1},
    }
    assert totals(client) == (1, 1, 99.0)
    after = data(client, "rita")
    assert (after["activity"]["converts"], after["activity"]["value"]) == (1, 99.0)
    assert after["affinities"] == before["affinities"]
    assert after["evidence"] == before["evidence"]


def test_a_resend_three_times_with_clicks_counts_once(client: TestClient) -> None:
    served(client, "sam")
    batch = [
        {"page": "home", "component": "coupons", "kind": "click", "id": "clk-00000001"},
        {"page": "home", "component": "coupons", "kind": "click", "id": "clk-00000002"},
        {**CONVERT, "value": 12.5, "id": "cnv-00000001"},
    ]
    assert post(client, "sam", batch)["stored"] == 3
    once = data(client, "sam")
    for _ in range(2):
        assert post(client, "sam", batch)["ignored_reasons"] == {"duplicate": 3}
    assert totals(client) == (1, 1, 12.5)
    twice = data(client, "sam")
    assert twice["affinities"] == once["affinities"]
    assert twice["activity"] == once["activity"]


def test_a_resend_with_new_events_stores_only_the_new_ones(client: TestClient) -> None:
    served(client, "tia")
    first = [{**CONVERT, "id": "a-000000001"}]
    post(client, "tia", first)
    body = post(
        client,
        "tia",
        [*first, {**CONVERT, "value": 1, "id": "a-000000002"}, {**CONVERT, "component": "nope"}],
    )
    assert body["stored"] == 1
    assert body["ignored_reasons"] == {"duplicate": 1, "unknown_component": 1}
    assert totals(client) == (1, 2, 100.0)


def test_events_without_ids_are_still_accepted(client: TestClient) -> None:
    """Old clients: stored as before (and, as documented, a resend of theirs counts again)."""
    served(client, "uma")
    assert post(client, "uma", [CONVERT])["stored"] == 1
    assert post(client, "uma", [CONVERT])["stored"] == 1
    assert data(client, "uma")["activity"]["converts"] == 2


def test_erasure_forgets_the_ids(client: TestClient) -> None:
    batch = [{**CONVERT, "id": "erase-00000001"}, {**CONVERT, "id": "erase-00000002"}]
    post(client, "vic", batch)
    assert data(client, "vic")["event_ids"] == 2  # the export says how many are remembered
    assert client.delete("/v1/me", headers=bearer("vic")).status_code == 200
    assert data(client, "vic")["event_ids"] == 0
    assert post(client, "vic", batch)["stored"] == 2


@pytest.mark.parametrize(
    ("bad", "why"),
    [
        pytest.param("short", "length", id="too-short"),
        pytest.param("x" * 65, "length", id="too-long"),
        pytest.param("has space-1", "regex", id="space"),
        pytest.param("evt/0000001", "regex", id="slash"),
        pytest.param("évènement-1", "regex", id="non-ascii"),
        pytest.param("evt-0000001\n", "regex", id="trailing-newline"),
        pytest.param(12345678, "str", id="number"),
        pytest.param("", "length", id="empty"),
    ],
)
def test_a_bad_id_is_a_422_naming_it_and_nothing_is_stored(
    client: TestClient, bad: object, why: str
) -> None:
    events = [{**CONVERT, "id": "good-id-0001"}, {**CONVERT, "id": bad}]
    response = client.post("/v1/me/events", json={"events": events}, headers=bearer("wes"))
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["field"] == "events[1].id"
    assert why in error["message"]
    activity = data(client, "wes")["activity"]
    assert activity is None or not activity["converts"]
    # the good id was not remembered either: the batch without the bad event is stored
    assert post(client, "wes", events[:1])["stored"] == 1


def test_openapi_documents_the_id_and_its_window(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    event = spec["components"]["schemas"]["Event"]["properties"]["id"]
    text = str(event)
    assert "7 days" in text and "1,000" in text
    responses = spec["paths"]["/v1/me/events"]["post"]["responses"]["202"]
    reasons = str(responses["content"]["application/json"]["schema"])
    assert "duplicate" in reasons


def test_ids_are_never_logged(client: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    """Stored, resent and refused batches, at DEBUG: no event id in any log record."""
    caplog.set_level(logging.DEBUG)
    good = [{**CONVERT, "id": "secret-id-0000000001"}]
    post(client, "xia", good)
    post(client, "xia", good)
    bad = [{**CONVERT, "id": "secret id 2"}]
    response = client.post("/v1/me/events", json={"events": bad}, headers=bearer("xia"))
    assert response.status_code == 422
    assert "secret" not in response.text  # the answer names the field, not the value
    assert caplog.records  # something was logged at DEBUG
    assert "secret" not in caplog.text


def test_a_resend_does_not_move_the_user_up_an_rfm_tier(client: TestClient) -> None:
    """One order of 99 today is rfm_low (recency 3 + frequency 1 + monetary 1 = 5); counted
    twice it would be 2 orders worth 198, rfm_mid (3 + 2 + 2 = 7; README, computed segments)."""
    batch = [{**CONVERT, "id": "rfm-order-000001"}]
    post(client, "yan", batch)
    assert "rfm_low" in data(client, "yan")["computed_segments"]
    post(client, "yan", batch)
    segments = data(client, "yan")["computed_segments"]
    assert "rfm_low" in segments and "rfm_mid" not in segments
