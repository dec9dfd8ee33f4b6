"""Inputs of the "untrusted input is a 4xx, never a 500" kind: a value that a
`$`-anchored pattern lets through with a trailing newline (Python's `$` also matches before a
final "\\n"; msgspec checks `Meta(pattern=...)` with `re.search`).

`"#000000\\n"` as a colour passed the schema and crashed the contrast maths (500 on contrast,
validate and publish); `"home\\n"` as a page name was published and served as a new page.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.helpers.app import bearer, make_app

DESIGNER = bearer("dora", "designer")
PALETTE = {
    "text": "#111111",
    "background": "#FFFFFF",
    "primary": "#0B57D0",
    "on_primary": "#FFFFFF",
}


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(
        make_app(tmp_path), follow_redirects=False, raise_server_exceptions=False
    ) as test_client:
        yield test_client


def _template(client: TestClient, page: str) -> dict[str, Any]:
    doc: dict[str, Any] = client.get(f"/v1/admin/templates/{page}", headers=DESIGNER).json()[
        "template"
    ]
    return copy.deepcopy(doc)


@pytest.mark.parametrize("colour", ["#000000\n", "#FFFFFF\n"])
def test_contrast_refuses_a_colour_with_a_trailing_newline(client: TestClient, colour: str) -> None:
    for body in (
        {"pairs": [{"fg": colour, "bg": "#FFFFFF"}]},
        {"palette": {"text": colour, "background": "#FFFFFF"}},
    ):
        response = client.post("/v1/admin/contrast", headers=DESIGNER, json=body)
        assert response.status_code == 422, response.text
        assert response.json()["error"]["code"] == "invalid"


@pytest.mark.parametrize("where", ["palette", "dark_palette", "high_contrast_palette"])
def test_theme_palette_colour_with_a_newline_is_a_422(client: TestClient, where: str) -> None:
    before = client.get("/v1/admin/templates/home", headers=DESIGNER).json()["live_version"]
    doc = _template(client, "home")
    doc.setdefault("theme", {})[where] = {**PALETTE, "text": "#111111\n"}
    checked = client.post(
        "/v1/admin/templates/home/validate", headers=DESIGNER, json={"template": doc}
    )
    assert checked.status_code == 200, checked.text
    assert checked.json()["ok"] is False
    assert f"theme.{where}.text" in [p["field"] for p in checked.json()["problems"]]
    published = client.post(
        "/v1/admin/templates/home/publish",
        headers=DESIGNER,
        json={"template": doc, "message": "newline"},
    )
    assert published.status_code == 422, published.text
    after = client.get("/v1/admin/templates/home", headers=DESIGNER).json()["live_version"]
    assert after == before


def test_colour_prop_with_a_newline_is_a_lint_problem(client: TestClient) -> None:
    doc = _template(client, "product")
    index = next(i for i, c in enumerate(doc["components"]) if c["type"] == "price_block")
    doc["components"][index].setdefault("props", {})["color"] = "#000000\n"
    checked = client.post(
        "/v1/admin/templates/product/validate", headers=DESIGNER, json={"template": doc}
    )
    assert checked.status_code == 200, checked.text
    problems = {p["field"]: p["message"] for p in checked.json()["problems"]}
    assert f"components[{index}].props.color" in problems
    assert "#RRGGBB" in problems[f"components[{index}].props.color"]


def test_a_page_name_with_a_trailing_newline_is_never_published(client: TestClient) -> None:
    doc = _template(client, "home")
    doc["page"] = "home\n"
    response = client.post(
        "/v1/admin/templates/home%0A/publish",
        headers=DESIGNER,
        json={"template": doc, "message": "newline page"},
    )
    assert response.status_code == 422, response.text
    assert response.json()["error"]["field"] == "page"
    pages = [row["page"] for row in client.get("/v1/admin/templates", headers=DESIGNER).json()]
    assert "home\n" not in pages
    assert client.get("/v1/layouts/home%0A").status_code == 404


def test_a_component_id_with_a_trailing_newline_is_refused(client: TestClient) -> None:
    doc = _template(client, "home")
    doc["components"][0]["id"] += "\n"
    response = client.post(
        "/v1/admin/templates/home/validate", headers=DESIGNER, json={"template": doc}
    )
    assert response.status_code == 200, response.text
    assert response.json()["ok"] is False
    assert "components[0].id" in [p["field"] for p in response.json()["problems"]]
