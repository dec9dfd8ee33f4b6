"""The console's assessment page (issue 24): the report of a live page with each failing
component linked to its place on the persona's phone, the phones themselves, and the form that
records a result checked by people."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.helpers.app import csrf_of, log_in, make_app
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
