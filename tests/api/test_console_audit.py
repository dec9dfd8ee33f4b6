"""The console's audit page: reachable from the menu, entries newest first with who did what
and the change in words, filters as a GET form (checked as the API checks them: a bad one is
400 with the field marked and the reason announced), and a link to older entries."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from tests.api.test_admin_routes import live_template, relabelled
from tests.helpers.app import bearer, log_in, make_app

DESIGNER = bearer("dora", "designer")


@pytest.fixture
def console(tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(make_app(tmp_path), follow_redirects=False) as client:
        assert log_in(client, "dora").status_code == 303
        yield client


def publish(client: TestClient, label: str, **extra: object) -> None:
    _, template = live_template(client)
    body = {"template": relabelled(template, label), "message": label, **extra}
    response = client.post("/v1/admin/templates/home/publish", json=body, headers=DESIGNER)
    assert response.status_code == 201, response.text


def rows(page: str) -> list[str]:
    body = page.split("<tbody>", 1)[1].split("</tbody>", 1)[0] if "<tbody>" in page else ""
    return [html.unescape(re.sub(r"<[^>]+>", " ", r)) for r in body.split("</tr>")[:-1]]


def test_the_audit_page_shows_who_did_what(console: TestClient) -> None:
    index = console.get("/designer/")
    assert 'href="/designer/audit"' in index.text
    publish(console, "Staged", rollout=10)
    console.post("/v1/admin/templates/home/rollout", json={"percent": 50}, headers=DESIGNER)
    page = console.get("/designer/audit")
    assert page.status_code == 200
    assert 'aria-current="true">Audit log' in page.text
    newest, staged = rows(page.text)[:2]
    assert "dora" in newest and "rollout.set" in newest and "to 50%" in newest
    assert "template.publish" in staged and "to 10%" in staged and "1 changed" in staged
    assert "Staged" in staged  # the message


def test_filters_and_older_entries(console: TestClient) -> None:
    for label in ("A", "B", "C"):
        publish(console, label)
    page = console.get("/designer/audit?act=template.publish&limit=2&page=&actor=")
    assert page.status_code == 200
    first = rows(page.text)
    assert len(first) == 2 and all("template.publish" in r for r in first)
    assert '<option value="template.publish" selected>' in page.text
    older = re.search(r'href="(/designer/audit\?[^"]+)" rel="next"', page.text)
    assert older, "a link to older entries"
    link = html.unescape(older.group(1))
    assert "act=template.publish" in link and "before=" in link and "actor=" not in link
    second = rows(console.get(link).text)
    assert second and all("template.publish" in r for r in second)
    assert not set(first) & set(second)
    nothing = console.get("/designer/audit?actor=nobody")
    assert "No entries match these filters." in nothing.text


def test_a_bad_filter_is_400_with_the_field_marked(console: TestClient) -> None:
    page = console.get("/designer/audit?since=yesterday")
    assert page.status_code == 400
    assert 'role="alert" id="filter-error"' in page.text
    assert re.search(r'id="f-since"[^>]*aria-invalid="true"', page.text)
    assert 'value="yesterday"' in page.text  # the form keeps what was typed


def test_signed_out_goes_to_login(tmp_path: Path) -> None:
    with TestClient(make_app(tmp_path), follow_redirects=False) as client:
        response = client.get("/designer/audit")
        assert response.status_code == 303
        assert response.headers["location"].endswith("/designer/login")
