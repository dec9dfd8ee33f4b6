"""The readout through the real app, on SQLite and a real Redis: an archived page's experiment
stays readable (issue #20 section 4), a readout without conversions says so in the JSON and the
console instead of printing "+0.00 pp (+0.00 to +0.00)" and "54.4% chance to beat control", and
with data the console leads with the always-valid numbers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.helpers.app import bearer, log_in, make_app

DESIGNER = bearer("ann", "designer")
CONVERT = {"page": "home", "component": "coupons", "kind": "convert", "value": 10}


@pytest.fixture(params=["sqlite", pytest.param("redis", marks=pytest.mark.redis)])
def client(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[TestClient]:
    url = request.getfixturevalue("redis_url") if request.param == "redis" else ""
    with TestClient(make_app(tmp_path, store_url=url, activity_flush_s=0.0)) as test_client:
        yield test_client


def _flush(client: TestClient) -> None:
    service = client.app.service  # type: ignore[attr-defined]
    client.portal.call(service.recorder.flush)  # type: ignore[union-attr]


def _launch(client: TestClient, prefix: str, users: int, convert_every: int = 0) -> None:
    for n in range(users):
        user = f"{prefix}{n}"
        assert client.get("/v1/layouts/home", headers=bearer(user)).status_code == 200
        if n % 50 == 0:
            _flush(client)
        if convert_every and n % convert_every == 0:
            _flush(client)
            sent = client.post("/v1/me/events", headers=bearer(user), json={"events": [CONVERT]})
            assert sent.status_code == 202
    _flush(client)


def _readout(client: TestClient, page: str = "home") -> dict[str, Any]:
    response = client.get(f"/v1/admin/experiments/{page}", headers=DESIGNER)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_an_archived_pages_readout_stays_readable(client: TestClient) -> None:
    _launch(client, "arch", 40, convert_every=4)
    before = _readout(client)
    assert before["archived"] is False and before["exposed_users"] > 0
    assert client.delete("/v1/admin/templates/home", headers=DESIGNER).status_code in (200, 204)
    assert client.get("/v1/layouts/home", headers=bearer("late")).status_code == 404
    after = _readout(client)
    assert after["archived"] is True
    assert after["experiment"] == before["experiment"]
    assert after["exposed_users"] == before["exposed_users"]
    assert [v["conversions"] for v in after["variants"]] == [
        v["conversions"] for v in before["variants"]
    ]
    # a page archived without an experiment: an empty readout, archived too
    assert client.delete("/v1/admin/templates/cart", headers=DESIGNER).status_code in (200, 204)
    cart = _readout(client, "cart")
    assert cart["archived"] is True and cart["variants"] == [] and cart["experiment"] is None


def test_only_a_page_never_published_is_a_404(client: TestClient) -> None:
    for page in ("nope", "home2", "archived"):
        response = client.get(f"/v1/admin/experiments/{page}", headers=DESIGNER)
        assert response.status_code == 404, page
        assert response.json()["error"]["field"] == "page"


def test_no_conversions_no_numbers(client: TestClient) -> None:
    _launch(client, "nodata", 30)
    body = _readout(client)
    assert body["exposed_users"] > 0
    assert body["enough_data"] is False and "no conversions" in body["reason"]
    assert body["minimum"]["conversions"] >= 1
    for v in body["variants"]:
        assert v["conversions"] == 0
        for field in (
            "interval",
            "difference",
            "difference_interval",
            "p_value",
            "chance_to_beat_control",
            "sequential_p_value",
            "sequential_interval",
        ):
            assert v[field] is None, (field, v)
    assert log_in(client).status_code == 200
    html = client.get("/designer/segments").text
    assert "Not enough data yet" in html and "no conversions" in html
    assert "+0.00 pp" not in html and "chance to beat control</td>" not in html
    assert "% (" not in html.split("Readout of", 1)[1].split("</table>", 1)[0].replace(
        "0.00% (not enough data)", ""
    )


def test_with_data_the_console_leads_with_the_always_valid_numbers(client: TestClient) -> None:
    _launch(client, "data", 60, convert_every=3)
    body = _readout(client)
    assert body["enough_data"] is True and body["decision"] == "sequential"
    variant = body["variants"][1]
    assert variant["sequential_p_value"] is not None and variant["sequential_interval"]
    assert variant["exposure_counting"] in ("exact", "sketch")
    assert body["exposure_counting"] in ("exact", "sketch", "mixed")
    assert log_in(client).status_code == 200
    html = client.get("/designer/segments").text
    assert "95% always-valid interval" in html and "p-value (always valid)" in html
    assert "Fixed-horizon" in html and "Not enough data yet" not in html
    assert f"{variant['sequential_p_value']:.4f}" in html


def test_the_console_keeps_an_archived_pages_readout(client: TestClient) -> None:
    _launch(client, "carch", 20, convert_every=4)
    assert client.delete("/v1/admin/templates/home", headers=DESIGNER).status_code in (200, 204)
    assert client.delete("/v1/admin/templates/cart", headers=DESIGNER).status_code in (200, 204)
    assert log_in(client).status_code == 200
    html = client.get("/designer/segments").text
    assert "(archived)" in html and "This page is archived" in html
    assert "Readout of home_deals_position_v1" in html
    assert "<h3>cart" not in html  # archived without an experiment: not listed
