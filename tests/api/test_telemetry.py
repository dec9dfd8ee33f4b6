"""What the renderer measures, through the real app on SQLite and on a real Redis: impressions,
taps and render errors become counters per (page, template version, component, mode), read by
`GET /v1/admin/telemetry/{page}`; unknown keys are ignored by reason; impressions are evidence;
with personalization off only render errors count; counters name nobody."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.helpers.app import ELDERLY, bearer, log_in, make_app


@pytest.fixture(params=["sqlite", pytest.param("redis", marks=pytest.mark.redis)])
def client(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[TestClient]:
    url = request.getfixturevalue("redis_url") if request.param == "redis" else ""
    with TestClient(make_app(tmp_path, store_url=url, activity_flush_s=0.0)) as test_client:
        yield test_client


def post(client: TestClient, user: str, events: list[dict[str, Any]]) -> dict[str, Any]:
    response = client.post("/v1/me/events", json={"events": events}, headers=bearer(user))
    assert response.status_code == 202, response.text
    body: dict[str, Any] = response.json()
    return body


def readout(client: TestClient, page: str = "home", **query: str) -> dict[str, Any]:
    response = client.get(
        f"/v1/admin/telemetry/{page}", params=query, headers=bearer("dora", "designer")
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def event(component: str, kind: str, **extra: Any) -> dict[str, Any]:
    return {"page": "home", "component": component, "kind": kind, **extra}


def test_impressions_taps_and_errors_are_counted_per_version_component_and_mode(
    client: TestClient,
) -> None:
    layout = client.get("/v1/layouts/home", headers=bearer("ann")).json()
    version, mode = layout["template_version"], layout["mode"]
    batch = [
        event("guess", "impression", id="imp-guess-0001", mode=mode),
        event("guess", "click", id="tap-guess-0001", mode=mode, version=version),
        event("fresh_title", "impression", id="imp-title-0001", mode=mode),
        event("banner", "render_error", id="err-banner-001", mode=mode),
        event("banner", "render_error", id="err-banner-002"),  # no mode: `unknown`
    ]
    assert post(client, "ann", batch)["stored"] == 5
    assert post(client, "ann", batch)["ignored_reasons"] == {"duplicate": 5}  # resent: once
    body = readout(client)
    assert body["live_versions"] == [version]
    cells = {(r["component"], r["mode"]): r for r in body["rows"]}
    assert cells["guess", mode] == {
        "version": version,
        "component": "guess",
        "mode": mode,
        "impressions": 1,
        "clicks": 1,
        "render_errors": 0,
        "tap_rate": 1.0,
        "error_rate": 0.0,
    }
    assert cells["fresh_title", mode]["impressions"] == 1  # not interactive: still seen
    assert cells["banner", mode]["render_errors"] == 1
    assert cells["banner", "unknown"]["render_errors"] == 1
    assert body["components"]["banner"]["render_errors"] == 2
    assert body["components"]["banner"]["mode"] == "*"
    assert body["render_errors"] == {version: 2}
    assert readout(client, version=version)["rows"] == body["rows"]


def test_unknown_versions_and_components_are_ignored_by_reason(client: TestClient) -> None:
    body = post(
        client,
        "bob",
        [
            event("guess", "impression", version="0123456789abcdef"),
            event("nope", "render_error"),
            {"page": "nowhere", "component": "x", "kind": "impression"},
            event("guess", "click", version="0123456789abcdef"),  # a tap still counts for taste
        ],
    )
    assert body["ignored_reasons"] == {
        "unknown_component": 1,
        "unknown_page": 1,
        "unknown_version": 1,
    }
    assert body["stored"] == 1
    assert readout(client)["rows"] == []


def test_a_bad_mode_or_version_is_a_422_naming_it(client: TestClient) -> None:
    for extra, field in (({"mode": "tiny"}, "mode"), ({"version": "a b"}, "version")):
        response = client.post(
            "/v1/me/events",
            json={"events": [event("guess", "impression", **extra)]},
            headers=bearer("eve"),
        )
        assert response.status_code == 422
        assert field in response.json()["error"]["field"]


def test_impressions_are_evidence_but_no_preference(client: TestClient) -> None:
    post(client, "cat", [event("guess", "impression")] * 8)
    data = client.get("/v1/me/data", headers=bearer("cat")).json()["data"]
    assert data["evidence"] == pytest.approx(2.0, rel=1e-3)  # 8 x IMPRESSION_EVIDENCE
    assert data["affinities"] == {}


def test_personalization_off_counts_render_errors_only(client: TestClient) -> None:
    off = {**ELDERLY, "elderly_mode": "off", "personalization": 0.0}
    assert client.put("/v1/me/settings", json=off, headers=bearer("dan")).status_code == 200
    body = post(
        client,
        "dan",
        [event("banner", "render_error"), event("guess", "impression"), event("guess", "click")],
    )
    assert (body["stored"], body["ignored_reasons"]) == (1, {"personalization_off": 2})
    rows = readout(client)["rows"]
    assert [(r["component"], r["mode"], r["render_errors"]) for r in rows] == [
        ("banner", "standard", 1)  # the mode the settings force
    ]
    assert [r["impressions"] + r["clicks"] for r in rows] == [0]


def test_erasure_leaves_the_counters_which_name_nobody(client: TestClient) -> None:
    post(client, "fay", [event("guess", "impression"), event("banner", "render_error")])
    assert client.delete("/v1/me", headers=bearer("fay")).status_code in (200, 204)
    assert client.get("/v1/me/data", headers=bearer("fay")).json()["data"]["evidence"] == 0
    assert readout(client)["components"]["banner"]["render_errors"] == 1


def test_the_readout_needs_a_designer_and_a_known_page_and_version(client: TestClient) -> None:
    assert client.get("/v1/admin/telemetry/home", headers=bearer("ann")).status_code == 403
    nowhere = client.get("/v1/admin/telemetry/nowhere", headers=bearer("dora", "designer"))
    assert (nowhere.status_code, nowhere.json()["error"]["field"]) == (404, "page")
    unknown = client.get(
        "/v1/admin/telemetry/home?version=0123456789abcdef", headers=bearer("dora", "designer")
    )
    assert (unknown.status_code, unknown.json()["error"]["field"]) == (404, "version")
    long = client.get(
        "/v1/admin/telemetry/home?version=" + "a" * 65, headers=bearer("dora", "designer")
    )
    assert long.status_code == 422


def test_the_console_preview_draws_the_heatmap_over_each_phone(tmp_path: Path) -> None:
    with TestClient(make_app(tmp_path), follow_redirects=False) as client:
        post(client, "gus", [event("search", "impression")] * 4 + [event("search", "click")])
        post(client, "gus", [event("banner", "render_error")])
        assert log_in(client).status_code == 303
        off = client.get("/designer/pages/home/preview?source=live").text
        assert "Show the heatmap" in off and "heat-badge&#34;" not in off
        on = client.get("/designer/pages/home/preview?source=live&heatmap=1").text
        assert "Heatmap on" in on and "2 components measured" in on
        assert on.count("data-impressions=&#34;4&#34;") == 6  # search, on every persona's phone
        assert "👁 4 · tap 25%" in on
        assert "👁 0 · tap – · ⚠ 1 render errors" in on
