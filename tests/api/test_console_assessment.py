"""The console's assessment page (issue 24): the report of a live page with each failing
component linked to its place on the persona's phone, the phones themselves, and the form that
records a result checked by people."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.helpers.app import ROOT, bearer, csrf_of, log_in, make_app
from uiserver.admin.assessment import offenders, to_html
from uiserver.engine.assess import Assessment, Item, PersonaReport, Score


@pytest.fixture
def console(tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(make_app(tmp_path), follow_redirects=False) as client:
        assert log_in(client).status_code == 303
        yield client


def test_the_report_page_and_its_nav_link(console: TestClient) -> None:
    page = console.get("/designer/pages/home/assessment")
    assert page.status_code == 200
    assert "Assessment of home" in page.text and "100 / 100" in page.text
    assert 'href="/designer/pages/home/assessment" aria-current="true"' in page.text
    assert page.text.count('class="manual"') >= 6
    editor = console.get("/designer/pages/home")
    assert 'href="/designer/pages/home/assessment"' in editor.text
    assert console.get("/designer/pages/nope/assessment").status_code == 404


def test_a_phone_per_persona_and_theme(console: TestClient) -> None:
    phone = console.get("/designer/pages/home/assessment/phone?persona=elderly&theme=dark")
    assert phone.status_code == 200
    assert "default-src 'none'" in phone.headers["content-security-policy"]
    assert 'class="more-entry"' in phone.text and 'id="c-search"' in phone.text
    bad = console.get("/designer/pages/home/assessment/phone?persona=off")
    assert bad.status_code == 422
    bad_theme = console.get("/designer/pages/home/assessment/phone?theme=sepia")
    assert bad_theme.status_code == 422
    assert "standard or dark" in bad_theme.text


def test_recording_a_result_from_the_form(console: TestClient) -> None:
    page = console.get("/designer/pages/home/assessment")
    response = console.post(
        "/designer/pages/home/assessment/manual/gestures",
        data={"csrf_token": csrf_of(page.text), "result": "pass", "note": "两指以内"},
    )
    assert response.status_code == 303
    again = console.get("/designer/pages/home/assessment").text
    assert "Now: <strong>pass</strong> by dora: 两指以内" in again
    refused = console.post(
        "/designer/pages/home/assessment/manual/gestures", data={"result": "pass"}
    )
    assert refused.status_code == 403


@pytest.mark.parametrize(
    ("item", "form", "named"),
    [
        pytest.param("gestures", {"result": "maybe"}, "result is one of", id="unknown-result"),
        pytest.param("gestures", {"result": "pass", "note": "x" * 5000}, "note", id="long-note"),
        pytest.param("not-an-item", {"result": "pass"}, "checked by people", id="unknown-item"),
    ],
)
def test_a_refused_manual_result_is_a_422_and_records_nothing(
    console: TestClient, item: str, form: dict[str, str], named: str
) -> None:
    page = console.get("/designer/pages/home/assessment")
    response = console.post(
        f"/designer/pages/home/assessment/manual/{item}",
        data={"csrf_token": csrf_of(page.text), **form},
    )
    assert response.status_code == 422
    assert named in response.text
    after = console.get("/designer/pages/home/assessment").text
    assert after.count("Now: <strong>unchecked</strong>") == after.count("Now: <strong>") == 6


def _failing() -> Assessment:
    item = Item("font_size", "Font sizes", "MIIT 1.1", "fail", "smallest 20 px", ["search"])
    report = PersonaReport("elderly", "Elderly", "dark", "elderly", [item], Score(0.0, False, 1, 1))
    return Assessment("home", "v1", [report], [], Score(0.0, False, 1, 1))


def test_each_failing_component_links_to_its_place_on_the_phone() -> None:
    def link(persona: str, theme: str) -> str:
        return f"/phone?persona={persona}&theme={theme}"

    fragment = to_html(_failing(), link)
    assert '<a href="/phone?persona=elderly&amp;theme=dark#c-search">search</a>' in fragment
    marks: dict[str, Any] = offenders(_failing(), "elderly", "dark")
    assert marks == {"search": ["Font sizes: smallest 20 px (MIIT 1.1)"]}
    assert offenders(_failing(), "elderly", "standard") == {}


def stale_badge(tmp_path: Path) -> Any:
    """An app whose live cart was published while the catalogue did not yet mark `badge` as a
    state, with a colour-only badge on checkout: a version stored before the colour-only rule
    (lint refuses it today; even its base layout breaks the final check)."""
    components = tmp_path / "components"
    shutil.copytree(ROOT / "components", components)
    button = components / "primary_button.yaml"
    button.write_text(button.read_text(encoding="utf-8").replace("    state: true\n", ""))
    designer = bearer("dora", "designer")
    with TestClient(make_app(tmp_path / "data", components_dir=components)) as old:
        template = old.get("/v1/admin/templates/cart", headers=designer).json()["template"]
        checkout = next(c for c in template["components"] if c["id"] == "checkout")
        checkout["props"] = {**checkout.get("props", {}), "badge": "#D93025"}
        body = {"template": template, "message": "a red dot on checkout"}
        published = old.post("/v1/admin/templates/cart/publish", json=body, headers=designer)
        assert published.status_code == 201, published.text
    return make_app(tmp_path / "data", publish_layouts_on_start=False)


def test_the_phone_of_a_live_version_that_breaks_a_rule_marks_it(tmp_path: Path) -> None:
    """The report fails the stale version and links to the phone, which answered a bare JSON
    500 (LayoutRuleError: even the base layout breaks the rule). Now the phone draws the layout
    as the template makes it, the component marked."""
    app = stale_badge(tmp_path)
    with TestClient(app, follow_redirects=False, raise_server_exceptions=False) as console:
        assert log_in(console).status_code == 303
        report = console.get("/designer/pages/cart/assessment")
        assert report.status_code == 200 and "assessment/phone?persona=default" in report.text
        for query in ("", "?persona=elderly&theme=dark"):
            phone = console.get(f"/designer/pages/cart/assessment/phone{query}")
            assert phone.status_code == 200, phone.text[:300]
            assert "text/html" in phone.headers["content-type"]
            assert 'id="c-checkout"' in phone.text and "Not by colour alone:" in phone.text


def test_a_layout_that_breaks_a_rule_does_not_blame_the_client(tmp_path: Path) -> None:
    """The stale version cannot be served: 406 not_drawable as before, but the answer named
    X-UI-Capabilities and "the types this client declared" to a client that declared none;
    now it names the page and says a designer must publish a fix."""
    with TestClient(stale_badge(tmp_path), raise_server_exceptions=False) as client:
        for headers in ({}, bearer("gran")):
            response = client.get("/v1/layouts/cart", headers=headers)
            assert response.status_code == 406, response.text
            error = response.json()["error"]
            assert (error["code"], error["field"]) == ("not_drawable", "page")
            assert "a designer must publish a fixed version" in error["message"]
            assert "colour alone" in error["message"]
