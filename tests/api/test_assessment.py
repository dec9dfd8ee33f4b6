"""`GET /v1/admin/assessment/{page}` and `PUT .../manual/{item}` (issue 24): the report of a live
page per persona and theme, its formats, and results recorded by people (kept in the audit log)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from tests.helpers.app import bearer, make_app

DESIGNER = bearer("dee", "designer")


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(make_app(tmp_path)) as test_client:
        yield test_client


def test_the_shipped_home_page_scores_full_marks_for_every_persona(client: TestClient) -> None:
    response = client.get("/v1/admin/assessment/home", headers=DESIGNER)
    assert response.status_code == 200
    body = response.json()
    assert body["page"] == "home" and body["score"]["points"] == 100.0
    assert body["score"]["pass_mark"] == 60 and body["score"]["passed"] is True
    seen = {(r["persona"], r["theme"]) for r in body["personas"]}
    assert seen == {
        (p, t)
        for p in ("default", "elderly", "low_vision", "screen_reader")
        for t in ("standard", "dark")
    }
    elderly = next(r for r in body["personas"] if r["persona"] == "elderly")
    assert elderly["mode"] == "elderly"
    items = {i["id"]: i for i in elderly["items"]}
    assert items["paragraph_spacing"]["result"] == "pass"
    assert "MIIT" in items["paragraph_spacing"]["clause"]
    assert items["fewer_choices"]["result"] == "pass"
    assert {m["id"] for m in body["manual"]} >= {"captcha", "voice_input"}
    assert all(m["result"] == "unchecked" for m in body["manual"])


def test_markdown_and_html(client: TestClient) -> None:
    md = client.get("/v1/admin/assessment/cart?format=md", headers=DESIGNER)
    assert md.status_code == 200 and md.headers["content-type"].startswith("text/markdown")
    assert "| Paragraph spacing | pass |" in md.text
    page = client.get("/v1/admin/assessment/cart?format=html", headers=DESIGNER)
    assert page.status_code == 200 and "<table>" in page.text


def test_refusals(client: TestClient) -> None:
    assert client.get("/v1/admin/assessment/home").status_code == 401
    assert client.get("/v1/admin/assessment/home", headers=bearer("u")).status_code == 403
    missing = client.get("/v1/admin/assessment/nope", headers=DESIGNER)
    assert missing.status_code == 404 and missing.json()["error"]["field"] == "page"
    fmt = client.get("/v1/admin/assessment/home?format=pdf", headers=DESIGNER)
    assert fmt.status_code == 422 and fmt.json()["error"]["field"] == "format"


def test_a_person_records_a_result_that_is_kept(client: TestClient) -> None:
    url = "/v1/admin/assessment/home/manual/captcha"
    done = client.put(url, json={"result": "pass", "note": "语音验证码 OK"}, headers=DESIGNER)
    assert done.status_code == 200
    again = client.get("/v1/admin/assessment/home", headers=DESIGNER).json()
    captcha = next(m for m in again["manual"] if m["id"] == "captcha")
    assert (captcha["result"], captcha["note"], captcha["by"]) == ("pass", "语音验证码 OK", "dee")
    client.put(url, json={"result": "fail"}, headers=DESIGNER)
    latest = client.get("/v1/admin/assessment/home", headers=DESIGNER).json()
    assert next(m for m in latest["manual"] if m["id"] == "captcha")["result"] == "fail"
    other = client.get("/v1/admin/assessment/cart", headers=DESIGNER).json()
    assert next(m for m in other["manual"] if m["id"] == "captcha")["result"] == "unchecked"
    audit = client.get("/v1/admin/audit?act=assessment.record", headers=bearer("a", "admin"))
    assert audit.status_code == 200 and len(audit.json()["entries"]) == 2


@pytest.mark.parametrize(
    ("item", "body", "field"),
    [
        pytest.param("nope", {"result": "pass"}, "item", id="unknown-item"),
        pytest.param("captcha", {"result": "maybe"}, "result", id="bad-result"),
        pytest.param("captcha", {"result": "pass", "note": 3}, "note", id="bad-note"),
        pytest.param("captcha", {"result": "pass", "by": "x"}, "by", id="unknown-field"),
        pytest.param("captcha", ["pass"], "result", id="not-an-object"),
    ],
)
def test_bad_records_are_422_naming_the_field(
    client: TestClient, item: str, body: object, field: str
) -> None:
    response = client.put(f"/v1/admin/assessment/home/manual/{item}", json=body, headers=DESIGNER)
    assert response.status_code == 422 and response.json()["error"]["field"] == field
