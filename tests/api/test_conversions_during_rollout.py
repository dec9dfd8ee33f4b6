"""Conversions during a staged rollout to another experiment (issue 20 section 3, found by
review): the users who keep the previous version were served its experiment, so their converts
count there. They were attributed to the new version's experiment, to which those users were
never exposed, and lost (every one of them at a 10% rollout). Both stores."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.helpers.app import bearer, make_app

DESIGNER = bearer("ann", "designer")
OLD = "home_deals_position_v1"  # the shipped home's experiment
NEW = "home_layout_v2"


@pytest.fixture(params=["sqlite", pytest.param("redis", marks=pytest.mark.redis)])
def client(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[TestClient]:
    url = request.getfixturevalue("redis_url") if request.param == "redis" else ""
    with TestClient(make_app(tmp_path, store_url=url, activity_flush_s=0.0)) as test_client:
        yield test_client


def stage(client: TestClient, percent: int) -> None:
    template = client.get("/v1/admin/templates/home", headers=DESIGNER).json()["template"]
    assert template["experiment"] == OLD
    template["experiment"] = NEW
    response = client.post(
        "/v1/admin/templates/home/publish",
        json={"template": template, "message": "new experiment", "rollout": percent},
        headers=DESIGNER,
    )
    assert response.status_code == 201, response.text


def converters(client: TestClient, experiment: str) -> int:
    service = client.app.service  # type: ignore[attr-defined]
    counts = client.portal.call(  # type: ignore[union-attr]
        service.store.activity.experiment_counts, experiment, ["control", "deals_first"]
    )
    return sum(c.converters for c in counts)


@pytest.mark.parametrize("percent", [10, 50])
def test_users_kept_on_the_previous_version_convert_in_its_experiment(
    client: TestClient, percent: int
) -> None:
    stage(client, percent)
    served = {}
    for n in range(40):
        user = f"r{n}"
        layout = client.get("/v1/layouts/home", headers=bearer(user))
        assert layout.status_code == 200
        served[user] = layout.json()["template_version"]
    service = client.app.service  # type: ignore[attr-defined]
    client.portal.call(service.recorder.flush)  # type: ignore[union-attr]
    live = service.live.pages["home"]
    kept = [u for u, v in served.items() if v == live.previous.record.version]
    staged = [u for u, v in served.items() if v == live.record.version]
    assert kept and staged and len(kept) + len(staged) == len(served)
    for user in served:
        event = {"page": "home", "component": "coupons", "kind": "convert", "value": 5}
        response = client.post("/v1/me/events", json={"events": [event]}, headers=bearer(user))
        assert response.status_code == 202, response.text
    client.portal.call(service.recorder.flush)  # type: ignore[union-attr]
    assert converters(client, OLD) == len(kept)
    assert converters(client, NEW) == len(staged)


def readout(client: TestClient, query: str = "") -> tuple[int, dict[str, Any]]:
    response = client.get(f"/v1/admin/experiments/home{query}", headers=DESIGNER)
    body: dict[str, Any] = response.json()
    return response.status_code, body


def test_a_replaced_experiment_keeps_its_readout(client: TestClient) -> None:
    """An experiment replaced by another on its page keeps its counts, and its readout stays
    reachable (`?experiment=`), during the rollout of the new one and after it (as an archived
    page's does); the page's own readout is the experiment it runs now."""
    for n in range(20):
        assert client.get("/v1/layouts/home", headers=bearer(f"o{n}")).status_code == 200
    service = client.app.service  # type: ignore[attr-defined]
    client.portal.call(service.recorder.flush)  # type: ignore[union-attr]
    stage(client, 100)
    status, now = readout(client)
    assert status == 200 and now["experiment"] == NEW and now["ended"] is False
    status, old = readout(client, f"?experiment={OLD}")
    assert status == 200, old
    assert old["experiment"] == OLD and old["ended"] is True
    assert old["exposed_users"] == 20
    assert [v["name"] for v in old["variants"]] == ["control", "deals_first"]
    status, same = readout(client, f"?experiment={NEW}")
    assert status == 200 and same["experiment"] == NEW and same["ended"] is False
    status, unknown = readout(client, "?experiment=never_ran_here")
    assert status == 404 and unknown["error"]["field"] == "experiment"
