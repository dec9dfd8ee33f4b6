"""A query parameter given twice with different values is refused, never one of them picked in
silence (each route read the last): a 400 `bad_query` naming it on the API, the 400 page on the
console; the same value twice is served, and on a layout an unknown parameter (a client's cache
buster) stays ignored however it repeats."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from tests.helpers.app import bearer, make_app

DESIGNER = bearer("dora", "designer")


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(make_app(tmp_path), follow_redirects=False) as test_client:
        yield test_client


@pytest.mark.parametrize(
    ("path", "name"),
    [
        pytest.param("/v1/layouts/home?dark=1&dark=0", "dark", id="layout-context"),
        pytest.param("/v1/layouts/home?device=phone&device=tablet", "device", id="layout-device"),
        pytest.param("/v1/admin/preview/home?format=json&format=html", "format", id="preview"),
        pytest.param("/v1/admin/preview/home?persona=elderly&persona=off", "persona", id="persona"),
        pytest.param("/v1/admin/audit?limit=1&limit=", "limit", id="audit"),
        pytest.param("/v1/admin/templates/home/diff?from=a&to=b&from=c", "from", id="diff"),
        pytest.param("/v1/preview/layouts/home?token=a&token=b", "token", id="phone-preview"),
        pytest.param("/designer/api/v1/admin/audit?limit=1&limit=2", "limit", id="bridge"),
    ],
)
def test_the_api_refuses_a_parameter_given_twice_with_different_values(
    client: TestClient, path: str, name: str
) -> None:
    response = client.get(path, headers=DESIGNER)
    assert response.status_code == 400, response.text
    assert response.json()["error"] == {
        "code": "bad_query",
        "message": f"{name} is given twice with different values; give it once",
        "field": name,
    }


@pytest.mark.parametrize(
    "path",
    [
        "/designer/pages/home/preview?persona=elderly&persona=off",
        "/designer/pages/home/preview?dark=1&dark=0",
        "/designer/audit?limit=1&limit=2",
        "/designer/pages/home/diff?persona=default&persona=elderly",
    ],
)
def test_the_console_answers_its_400_page(client: TestClient, path: str) -> None:
    response = client.get(path, headers=DESIGNER)
    assert response.status_code == 400, response.text
    assert "text/html" in response.headers["content-type"]
    assert "given twice with different values" in response.text


@pytest.mark.parametrize(
    "path",
    [
        "/v1/layouts/home?dark=1&dark=1",
        "/v1/layouts/home?_=1&_=2",  # not a context parameter: ignored, repeated or not
        "/v1/admin/preview/home?format=json&format=json",
        "/designer/pages/home/preview?persona=elderly&persona=elderly",
    ],
)
def test_the_same_value_twice_is_served(client: TestClient, path: str) -> None:
    assert client.get(path, headers=DESIGNER).status_code == 200
