"""`/metrics` an operator can alert on: bounded series (made-up methods, versions no longer
served), answers by status class, store errors by kind, invalidations sent and received, event
ingestion, process memory."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from tests.helpers.app import bearer, make_app
from tests.helpers.rsgi import ANSWERS, interfaced
from uiserver.store.base import StoreUnavailable, store_errors


@pytest.fixture(params=ANSWERS)
def client(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[TestClient]:
    """The app on ASGI (uvicorn) and through its RSGI entry point (granian)."""
    with TestClient(interfaced(make_app(tmp_path), request.param)) as test_client:
        yield test_client


def value(metrics: str, series: str) -> float:
    """The value of one exact series line (`name{labels}`), 0 when absent."""
    for line in metrics.splitlines():
        if line.startswith(series + " "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_made_up_methods_share_one_series(client: TestClient) -> None:
    client.get("/healthz")
    before = client.get("/metrics").text
    for i in range(300):  # granian hands any token as a method: each grew a series before
        client.request(f"BREW{i}", "/healthz")
        client.request(f"BREW{i}", f"/v1/layouts/home?junk={i}")
    after = client.get("/metrics").text
    assert "BREW" not in after
    assert 'method="other"' in after
    # A few new series (the `other` method's), not 600 histograms.
    assert len(after) - len(before) < 8_000, len(after) - len(before)


def test_answers_counted_by_route_method_and_status_class(client: TestClient) -> None:
    client.get("/v1/layouts/home")
    client.get("/v1/layouts/home?device=ipad")  # 400
    client.get("/v1/layouts/nowhere")  # 404
    client.get("/v1/me/settings")  # 401
    client.put("/v1/me/settings", headers=bearer("ann"), content=b"{")  # 4xx
    metrics = client.get("/metrics").text
    layouts = 'uiserver_requests_total{method="GET",route="/v1/layouts/{page}",status_class='
    assert value(metrics, layouts + '"2xx"}') == 1
    assert value(metrics, layouts + '"4xx"}') == 2
    settings = 'uiserver_requests_total{method="GET",route="/v1/me/settings",status_class="4xx"}'
    assert value(metrics, settings) == 1
    assert value(metrics, 'uiserver_http_errors_total{status_class="4xx"}') == 4
    assert value(metrics, 'uiserver_http_errors_total{status_class="5xx"}') == 0
    assert value(metrics, "uiserver_requests_in_flight") == 1  # the scrape itself
    assert value(metrics, "process_resident_memory_bytes") > 10_000_000


def test_events_counted_by_outcome_and_reason(client: TestClient) -> None:
    events = [
        {"page": "home", "component": "search", "kind": "click"},
        {"page": "nowhere", "component": "x", "kind": "click"},
        {"page": "home", "component": "no_such_component", "kind": "click"},
    ]
    assert client.post("/v1/me/events", headers=bearer("ann"), json={"events": events}).is_success
    metrics = client.get("/metrics").text
    assert value(metrics, 'uiserver_events_total{outcome="stored",reason=""}') == 1
    assert value(metrics, 'uiserver_events_total{outcome="ignored",reason="unknown_page"}') == 1
    ignored = 'uiserver_events_total{outcome="ignored",reason="unknown_component"}'
    assert value(metrics, ignored) == 1


def test_invalidations_sent_are_counted(client: TestClient) -> None:
    response = client.put(
        "/v1/me/settings",
        headers=bearer("ann"),
        json={**client.get("/v1/me/settings", headers=bearer("ann")).json(), "font_scale": 1.5},
    )
    assert response.status_code == 200
    metrics = client.get("/metrics").text
    assert value(metrics, 'uiserver_invalidations_total{direction="sent",kind="user"}') >= 1


def test_store_errors_by_kind() -> None:
    before = dict(store_errors)
    StoreUnavailable("redis: timed out", "timeout")
    StoreUnavailable("odd", "not-a-kind")  # an unknown kind is counted as `io`
    assert store_errors["timeout"] == before["timeout"] + 1
    assert store_errors["io"] == before["io"] + 1
    assert set(store_errors) == {"connection", "timeout", "refused", "conflict", "locked", "io"}


def test_store_errors_appear_in_metrics(client: TestClient) -> None:
    StoreUnavailable("sqlite: database is locked", "locked")
    metrics = client.get("/metrics").text
    assert value(metrics, 'uiserver_store_errors_total{kind="locked"}') >= 1


def test_served_versions_are_bounded(client: TestClient) -> None:
    admin = bearer("dora", "designer")
    template = client.get("/v1/admin/templates/me", headers=admin).json()["template"]
    versions = []
    for i in range(4):  # four versions served one after another
        template["components"][0]["label"] = f"Me {i}"
        published = client.post(
            "/v1/admin/templates/me/publish",
            headers={**admin, "If-Match": "*"},
            json={"template": template, "message": f"v{i}"},
        )
        assert published.status_code == 201, published.text
        versions.append(published.json()["version"])
        assert client.get("/v1/layouts/me").status_code == 200
        client.get("/metrics")
    metrics = client.get("/metrics").text
    served = re.findall(r'uiserver_layouts_served_total\{page="me",version="([^"]+)"\}', metrics)
    assert served == [versions[-1]]  # only the version served now keeps a series
