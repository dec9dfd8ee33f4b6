"""The admin API of DESIGN section 5 through the real app: every route, its access rules, bad
input, and what each change does to the layouts clients get."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient

from tests.helpers.app import bearer, make_app, token
from uiserver.http.openapi import openapi_document

DESIGNER = bearer("dora", "designer")
ADMIN = bearer("ada", "admin")
PERSONAS = ["default", "elderly", "low_vision", "screen_reader", "off", "churn_risk"]
# (method, path, JSON body or None) of every admin route.
ROUTES: list[tuple[str, str, Any]] = [
    ("GET", "/v1/admin/templates", None),
    ("GET", "/v1/admin/templates/home", None),
    ("POST", "/v1/admin/templates/home/validate", {"template": {}}),
    ("POST", "/v1/admin/templates/home/publish", {"template": {}, "message": "x"}),
    ("GET", "/v1/admin/templates/home/history", None),
    ("GET", "/v1/admin/templates/home/diff?from=a&to=b", None),
    ("POST", "/v1/admin/templates/home/rollback", {"version": "a"}),
    ("POST", "/v1/admin/templates/home/rollout", {"percent": 20}),
    ("POST", "/v1/admin/templates/home/promote", None),
    ("POST", "/v1/admin/templates/home/abort", None),
    ("DELETE", "/v1/admin/templates/home", None),
    ("GET", "/v1/admin/preview/home?persona=default", None),
    ("POST", "/v1/admin/preview/home?persona=default", {"template": {}}),
    ("PUT", "/v1/admin/segments", [{"user": "u", "segments": ["churn_risk"]}]),
    ("GET", "/v1/admin/telemetry/home", None),
    ("GET", "/v1/admin/assessment/home", None),
]


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(make_app(tmp_path)) as test_client:
        yield test_client


def error_of(response: httpx.Response) -> dict[str, str]:
    body = response.json()
    assert "error" in body, body
    assert body["error"]["code"] and body["error"]["message"]
    return body["error"]  # type: ignore[no-any-return]


def live_template(client: TestClient, page: str = "home") -> tuple[str, dict[str, Any]]:
    body = client.get(f"/v1/admin/templates/{page}", headers=DESIGNER).json()
    return body["live_version"], body["template"]


def publish(
    client: TestClient,
    template: dict[str, Any],
    message: str = "change",
    page: str = "home",
    headers: dict[str, str] = DESIGNER,
) -> httpx.Response:
    response: httpx.Response = client.post(
        f"/v1/admin/templates/{page}/publish",
        json={"template": template, "message": message},
        headers=headers,
    )
    return response


def relabelled(template: dict[str, Any], label: str) -> dict[str, Any]:
    changed = copy.deepcopy(template)
    changed["components"][1]["label"] = label
    return changed


def low_contrast(template: dict[str, Any]) -> dict[str, Any]:
    changed = copy.deepcopy(template)
    changed["theme"]["palette"]["text"] = "#BBBBBB"  # 1.9:1 on white
    return changed


# --------------------------------------------------------------------------- access


@pytest.mark.parametrize(
    ("method", "path", "body"), [pytest.param(*r, id=f"{r[0]} {r[1]}") for r in ROUTES]
)
def test_every_route_needs_the_designer_role(
    client: TestClient, method: str, path: str, body: Any
) -> None:
    cases = {
        "no token": ({}, 401),
        "user token": (bearer("u1"), 403),
        "expired": ({"Authorization": f"Bearer {token('dora', 'designer', ttl=-3600)}"}, 401),
        "forged": (
            {
                "Authorization": "Bearer "
                + token("dora", "admin", secret="not-the-server-secret-0123456789abcdef")
            },
            401,
        ),
        "garbage": ({"Authorization": "Bearer not.a.jwt"}, 401),
        "wrong scheme": ({"Authorization": "Basic ZG9yYTp4"}, 401),
    }
    for name, (headers, status) in cases.items():
        response = client.request(method, path, json=body, headers=headers)
        assert response.status_code == status, (name, response.text)
        error_of(response)
    # Nothing a refused caller sent was stored.
    assert (
        client.get("/v1/admin/templates/home/history", headers=DESIGNER).json()["versions"][0][
            "author"
        ]
        == "layouts/"
    )


def test_admin_role_works_too(client: TestClient) -> None:
    assert client.get("/v1/admin/templates", headers=ADMIN).status_code == 200


# --------------------------------------------------------------------------- templates


def test_list_templates(client: TestClient) -> None:
    rows = client.get("/v1/admin/templates", headers=DESIGNER).json()
    pages = {row["page"] for row in rows}
    shipped = {p.stem for p in (Path(__file__).resolve().parents[2] / "layouts").iterdir()}
    assert pages == shipped
    for row in rows:
        assert row["lint"] == "ok" and row["problems"] == 0
        assert len(row["live_version"]) == 16
        assert row["published_by"] == "layouts/" and row["published_at"] > 0


def test_get_template_and_unknown_page(client: TestClient) -> None:
    version, template = live_template(client)
    assert template["page"] == "home" and template["components"]
    assert len(version) == 16
    missing = client.get("/v1/admin/templates/nope", headers=DESIGNER)
    assert missing.status_code == 404 and error_of(missing)["code"] == "not_found"


def test_validate_ok_and_problems_name_fields(client: TestClient) -> None:
    _, template = live_template(client)
    path = "/v1/admin/templates/home/validate"
    ok = client.post(path, json={"template": template}, headers=DESIGNER)
    assert ok.status_code == 200 and ok.json() == {"ok": True, "problems": []}

    bad = client.post(path, json={"template": low_contrast(template)}, headers=DESIGNER)
    assert bad.status_code == 200
    body = bad.json()
    assert body["ok"] is False
    assert {"field": "theme.palette.text"}.items() <= body["problems"][0].items()
    assert "contrast" in body["problems"][0]["message"]

    typo = copy.deepcopy(template)
    typo["components"][0]["lable"] = typo["components"][0].pop("label")
    fields = [
        p["field"]
        for p in client.post(path, json={"template": typo}, headers=DESIGNER).json()["problems"]
    ]
    assert fields == ["components[0].lable"]

    other_page = client.post(
        "/v1/admin/templates/cart/validate", json={"template": template}, headers=DESIGNER
    ).json()
    assert other_page["ok"] is False and other_page["problems"][0]["field"] == "page"


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        pytest.param(b"{", 400, id="malformed"),
        pytest.param(b"", 400, id="empty"),
        pytest.param(b'{"templat": {}}', 400, id="no template member"),
        pytest.param(b"[1]", 400, id="not an object"),
    ],
)
def test_validate_bad_bodies(client: TestClient, raw: bytes, status: int) -> None:
    response = client.post(
        "/v1/admin/templates/home/validate",
        content=raw,
        headers={**DESIGNER, "Content-Type": "application/json"},
    )
    assert response.status_code == status
    error_of(response)


def test_validate_template_not_an_object(client: TestClient) -> None:
    body = client.post(
        "/v1/admin/templates/home/validate", json={"template": [1]}, headers=DESIGNER
    ).json()
    assert body["ok"] is False and body["problems"][0]["field"] == "template"


def test_publish_refused_on_low_contrast_changes_nothing(client: TestClient) -> None:
    version, template = live_template(client)
    before = client.get("/v1/layouts/home")
    refused = publish(client, low_contrast(template))
    assert refused.status_code == 422
    body = refused.json()
    assert body["ok"] is False
    assert body["problems"][0]["field"] == "theme.palette.text"
    assert body["error"]["code"] == "lint_failed" and body["error"]["field"] == "theme.palette.text"
    assert live_template(client)[0] == version
    history = client.get("/v1/admin/templates/home/history", headers=DESIGNER).json()
    assert len(history["versions"]) == 1
    after = client.get("/v1/layouts/home")
    assert after.headers["etag"] == before.headers["etag"]
    assert after.json()["template_version"] == version


def test_publish_needs_a_message_and_the_right_page(client: TestClient) -> None:
    _, template = live_template(client)
    no_message = client.post(
        "/v1/admin/templates/home/publish", json={"template": template}, headers=DESIGNER
    )
    assert no_message.status_code == 422 and error_of(no_message)["field"] == "message"
    wrong_page = publish(client, template, page="cart")
    assert wrong_page.status_code == 422
    assert wrong_page.json()["problems"][0]["field"] == "page"


def test_publish_serves_new_version_and_records_author(client: TestClient) -> None:
    old_version, template = live_template(client)
    old_etag = client.get("/v1/layouts/home").headers["etag"]
    created = publish(client, relabelled(template, "搜索 Search everything"), "rename search")
    assert created.status_code == 201, created.text
    version = created.json()["version"]
    assert version != old_version
    layout = client.get("/v1/layouts/home")
    assert layout.json()["template_version"] == version
    assert layout.headers["etag"] != old_etag
    assert "搜索 Search everything" in {c["label"] for c in layout.json()["components"]}
    row = next(
        r for r in client.get("/v1/admin/templates", headers=DESIGNER).json() if r["page"] == "home"
    )
    assert row["live_version"] == version and row["published_by"] == "dora"
    versions = client.get("/v1/admin/templates/home/history", headers=DESIGNER).json()["versions"]
    assert [v["version"] for v in versions] == [version, old_version]
    assert versions[0] | {"created": 0} == {
        "version": version,
        "seq": 2,
        "author": "dora",
        "message": "rename search",
        "created": 0,
        "live": True,
        "share": 100,
    }
    assert versions[1]["live"] is False and versions[1]["author"] == "layouts/"
    assert versions[1]["share"] == 0


def test_rollback_publishes_the_old_version_anew(client: TestClient) -> None:
    old_version, template = live_template(client)
    new_version = publish(client, relabelled(template, "Find it")).json()["version"]
    rolled = client.post(
        "/v1/admin/templates/home/rollback", json={"version": old_version}, headers=ADMIN
    )
    assert rolled.status_code == 201
    assert rolled.json()["version"] == old_version and rolled.json()["seq"] == 3
    versions = client.get("/v1/admin/templates/home/history", headers=DESIGNER).json()["versions"]
    assert [v["version"] for v in versions] == [old_version, new_version, old_version]
    assert versions[0]["author"] == "ada" and "rollback" in versions[0]["message"]
    assert [v["live"] for v in versions] == [True, False, False]
    assert client.get("/v1/layouts/home").json()["template_version"] == old_version

    unknown = client.post(
        "/v1/admin/templates/home/rollback", json={"version": "f" * 16}, headers=DESIGNER
    )
    assert unknown.status_code == 404 and error_of(unknown)["field"] == "version"
    missing = client.post("/v1/admin/templates/home/rollback", json={}, headers=DESIGNER)
    assert missing.status_code == 422 and error_of(missing)["field"] == "version"


def test_history_of_unknown_page_is_404(client: TestClient) -> None:
    assert client.get("/v1/admin/templates/nope/history", headers=DESIGNER).status_code == 404


def test_diff_structured_and_unified(client: TestClient) -> None:
    old_version, template = live_template(client, "cart")  # home's variants fix its ids
    changed = relabelled(template, "New search label")
    components = changed["components"]
    removed = components.pop(3)  # a component goes away
    components.insert(5, components.pop(2))  # another moves down
    components.insert(4, {"id": "extra_note", "type": "footer_note", "label": "A new note"})
    changed["theme"]["font_px"] = 17
    new_version = publish(client, changed, page="cart").json()["version"]
    response = client.get(
        f"/v1/admin/templates/cart/diff?from={old_version}&to={new_version}", headers=DESIGNER
    )
    assert response.status_code == 200
    body = response.json()
    assert body["from"] == old_version and body["to"] == new_version
    changes = body["changes"]
    kinds = {(c["kind"], c.get("component"), c.get("field")) for c in changes}
    assert ("added", "extra_note", None) in kinds
    assert ("removed", removed["id"], None) in kinds
    assert ("moved", template["components"][2]["id"], None) in kinds
    label_change = next(c for c in changes if c.get("field", "").endswith(".label"))
    assert label_change["component"] == template["components"][1]["id"]
    assert label_change["to"] == "New search label"
    assert {"kind": "changed", "field": "theme.font_px", "from": 16, "to": 17} in changes
    unified = body["unified"]
    assert unified.startswith(f"--- cart@{old_version}\n+++ cart@{new_version}\n")
    assert '+      "label": "New search label",' in unified
    assert '-  "font_px": 16' not in unified  # the theme's font is nested, indented deeper
    assert any(line.startswith("-") and '"font_px": 16' in line for line in unified.splitlines())

    same = client.get(
        f"/v1/admin/templates/cart/diff?from={old_version}&to={old_version}", headers=DESIGNER
    ).json()
    assert same["changes"] == [] and same["unified"] == ""


@pytest.mark.parametrize(
    ("query", "status", "field"),
    [
        pytest.param("", 400, "from", id="no versions"),
        pytest.param("from=LIVE", 400, "to", id="no to"),
        pytest.param("from=LIVE&to=0000000000000000", 404, "to", id="unknown to"),
    ],
)
def test_diff_bad_queries(client: TestClient, query: str, status: int, field: str) -> None:
    version, _ = live_template(client)
    response = client.get(
        f"/v1/admin/templates/home/diff?{query.replace('LIVE', version)}", headers=DESIGNER
    )
    assert response.status_code == status and error_of(response)["field"] == field


# --------------------------------------------------------------------------- preview


@pytest.mark.parametrize("persona", PERSONAS)
def test_preview_every_persona_json(client: TestClient, persona: str) -> None:
    for page in ("home", "cart", "me"):
        response = client.get(f"/v1/admin/preview/{page}?persona={persona}", headers=DESIGNER)
        assert response.status_code == 200, response.text
        layout = response.json()
        assert layout["schema"] == 1 and layout["page"] == page
        info = layout["personalization"]
        assert info["changed_ratio"] <= info["cap"] + 1e-9
        if persona == "elderly":
            assert layout["mode"] == "elderly"
            assert all(c["font_px"] >= 24 for c in layout["components"])
        if persona == "off":
            assert info["strength"] == 0 and info["changes"] == []


def test_preview_personas_differ(client: TestClient) -> None:
    def ids(persona: str) -> list[str]:
        layout = client.get(f"/v1/admin/preview/home?persona={persona}", headers=DESIGNER).json()
        return [c["id"] for c in layout["components"]]

    assert "welcome_back" in ids("churn_risk") and "welcome_back" not in ids("default")
    low_vision = client.get("/v1/admin/preview/home?persona=low_vision", headers=DESIGNER).json()
    assert low_vision["theme"]["high_contrast"] is True


def test_preview_html_is_a_page_with_escaped_labels(client: TestClient) -> None:
    response = client.get("/v1/admin/preview/home?persona=elderly&format=html", headers=DESIGNER)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "script-src" not in response.headers["content-security-policy"]  # default-src 'none'
    assert "default-src 'none'" in response.headers["content-security-policy"]
    html = response.text
    assert html.startswith("<!doctype html>") and '<html lang="zh-CN">' in html
    assert "font-size:24px" in html and "min-height:60px" in html
    assert '<form role="search"' in html and "<nav" in html and "<button" in html

    _, template = live_template(client)
    draft = relabelled(template, "<script>alert(1)</script>")
    posted = client.post(
        "/v1/admin/preview/home?persona=default&format=html",
        json={"template": draft},
        headers=DESIGNER,
    )
    assert posted.status_code == 200
    assert "<script>" not in posted.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in posted.text


def test_preview_draft_json_and_refusals(client: TestClient) -> None:
    version, template = live_template(client)
    draft = relabelled(template, "Draft label")
    layout = client.post(
        "/v1/admin/preview/home?persona=elderly", json={"template": draft}, headers=DESIGNER
    ).json()
    assert layout["template_version"] != version
    assert "Draft label" in {c["label"] for c in layout["components"]}
    assert live_template(client)[0] == version  # a preview publishes nothing

    refused = client.post(
        "/v1/admin/preview/home", json={"template": low_contrast(template)}, headers=DESIGNER
    )
    assert refused.status_code == 422
    assert refused.json()["problems"][0]["field"] == "theme.palette.text"


@pytest.mark.parametrize(
    ("path", "status", "field"),
    [
        pytest.param("/v1/admin/preview/home?persona=robot", 422, "persona", id="persona"),
        pytest.param("/v1/admin/preview/home?format=pdf", 422, "format", id="format"),
        pytest.param("/v1/admin/preview/home?dark=2", 400, "dark", id="context"),
        pytest.param("/v1/admin/preview/nope", 404, "page", id="page"),
    ],
)
def test_preview_bad_queries(client: TestClient, path: str, status: int, field: str) -> None:
    response = client.get(path, headers=DESIGNER)
    assert response.status_code == status and error_of(response)["field"] == field


def test_preview_takes_the_launch_context(client: TestClient) -> None:
    dark = client.get("/v1/admin/preview/home?dark=1", headers=DESIGNER).json()
    light = client.get("/v1/admin/preview/home", headers=DESIGNER).json()
    assert dark["theme"]["palette"] != light["theme"]["palette"]


# --------------------------------------------------------------------------- segments


def _users(prefix: str, count: int) -> list[dict[str, Any]]:
    return [
        {"user": f"{prefix}{i}", "segments": ["churn_risk", f"tier_{i % 3}"]} for i in range(count)
    ]


def _churn_check(client: TestClient, user: str) -> None:
    data = client.get("/v1/me/data", headers=bearer(user)).json()["data"]
    assert "churn_risk" in json.dumps(data)
    churn = client.get("/v1/layouts/home", headers=bearer(user)).json()
    plain = client.get("/v1/layouts/home", headers=bearer("someone-else")).json()
    assert "welcome_back" in [c["id"] for c in churn["components"]]
    assert "welcome_back" not in [c["id"] for c in plain["components"]]
    assert any(c["reason"] == "segment:churn_risk" for c in churn["personalization"]["changes"])


def test_segments_bulk_json_array(client: TestClient) -> None:
    # A layout served before the import must not be served stale after it.
    assert "welcome_back" not in [
        c["id"]
        for c in client.get("/v1/layouts/home", headers=bearer("a4999")).json()["components"]
    ]
    response = client.put("/v1/admin/segments", json=_users("a", 5000), headers=DESIGNER)
    assert response.status_code == 200 and response.json() == {"users": 5000}
    _churn_check(client, "a4999")


@pytest.mark.parametrize("content_type", ["application/x-ndjson", "text/plain"])
def test_segments_bulk_json_lines(client: TestClient, content_type: str) -> None:
    body = "\n".join(json.dumps(u) for u in _users("l", 5000)) + "\n"
    response = client.put(
        "/v1/admin/segments",
        content=body.encode(),
        headers={**DESIGNER, "Content-Type": content_type},
    )
    assert response.status_code == 200 and response.json() == {"users": 5000}
    _churn_check(client, "l1234")


@pytest.mark.parametrize(
    ("body", "content_type", "status", "field"),
    [
        pytest.param(
            b'{"user": "x", "segments": ["a"]}\n{"user": "y", "segments": [1]}\n',
            "application/x-ndjson",
            422,
            "line 2.segments[0]",
            id="line 2 wrong type",
        ),
        pytest.param(
            b'{"user": "x", "segments": ["a"]}\n{"user": "y"\n',
            "application/x-ndjson",
            400,
            "line 2",
            id="line 2 malformed",
        ),
        pytest.param(
            b'{"user": "x", "segments": ["a"], "extra": 1}\n',
            "application/x-ndjson",
            422,
            "line 1.extra",
            id="unknown field",
        ),
        pytest.param(
            b'[{"user": "x", "segments": ["a"]}, {"user": "", "segments": []}]',
            "application/json",
            422,
            "[1].user",
            id="empty user",
        ),
        pytest.param(
            b'[{"user": "x", "segments": ["a"]}, {"segments": []}]',
            "application/json",
            422,
            "[1].user",
            id="missing user",
        ),
        pytest.param(
            b'[{"user": "x", "segments": ["  "]}]',
            "application/json",
            422,
            "[0].segments[0]",
            id="blank segment",
        ),
        pytest.param(b"[", "application/json", 400, None, id="malformed array"),
    ],
)
def test_segments_bad_item_stores_nothing(
    client: TestClient, body: bytes, content_type: str, status: int, field: str | None
) -> None:
    response = client.put(
        "/v1/admin/segments", content=body, headers={**DESIGNER, "Content-Type": content_type}
    )
    assert response.status_code == status, response.text
    assert error_of(response).get("field") == field
    data = client.get("/v1/me/data", headers=bearer("x")).json()["data"]
    assert data.get("segments", []) == []


def test_segments_empty_and_too_large(client: TestClient) -> None:
    empty = client.put("/v1/admin/segments", content=b"", headers=DESIGNER)
    assert empty.status_code == 400
    huge = client.put(
        "/v1/admin/segments",
        content=b" " * (20 * 1024 * 1024 + 1),
        headers={**DESIGNER, "Content-Type": "application/x-ndjson"},
    )
    assert huge.status_code == 413 and error_of(huge)["code"] == "too_large"


def test_openapi_lists_every_admin_route(client: TestClient) -> None:
    paths = openapi_document()["paths"]
    for method, path, _ in ROUTES:
        templated = path.split("?")[0].replace("/home", "/{page}")
        assert method.lower() in paths[templated], (method, templated)


def test_engine_refusal_is_422_not_500(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    """Lint passed but the engine cannot keep every rule for a persona: say why."""
    from uiserver.engine.check import LayoutRuleError
    from uiserver.publishing.publisher import Publisher

    def refuse(*args: object) -> None:
        raise LayoutRuleError("home@v: banner: ads are not shown in elderly mode")

    monkeypatch.setattr(Publisher, "preview", refuse)
    response = client.get("/v1/admin/preview/home?persona=elderly", headers=DESIGNER)
    assert response.status_code == 422
    error = error_of(response)
    assert error["code"] == "layout_rule" and "ads are not shown" in error["message"]


# --------------------------------------------------------------------------- input limits


def deep(depth: int = 1_000) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = {"a": value}
    return value


def deep_body(document: dict[str, Any]) -> bytes:
    """JSON of `document` with 1,000-level nested `props` in its first component (built as text:
    the json module itself cannot encode that deep)."""
    marker = "__DEEP__"
    document = copy.deepcopy(document)
    document.setdefault("template", {}).setdefault("components", [{}])[0]["props"] = marker
    nested = '{"a":' * 1_000 + "1" + "}" * 1_000
    return json.dumps(document).replace(f'"{marker}"', nested).encode()


@pytest.mark.parametrize(
    ("method", "path", "extra"),
    [
        pytest.param("POST", "/v1/admin/templates/home/validate", {}, id="validate"),
        pytest.param("POST", "/v1/admin/templates/home/publish", {"message": "deep"}, id="publish"),
        pytest.param("POST", "/v1/admin/templates/home/rollback", {"version": "x"}, id="rollback"),
        pytest.param("POST", "/v1/admin/preview/home?persona=default", {}, id="preview"),
    ],
)
def test_deeply_nested_templates_are_bad_json(
    client: TestClient, method: str, path: str, extra: dict[str, Any]
) -> None:
    version, template = live_template(client)
    body = deep_body({"template": template, **extra})
    response = client.request(
        method, path, content=body, headers={**DESIGNER, "content-type": "application/json"}
    )
    assert response.status_code == 400, response.text
    error = error_of(response)
    assert error["code"] == "bad_json" and "nested deeper than" in error["message"]
    assert live_template(client)[0] == version  # nothing stored


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_non_finite_numbers_are_bad_json(client: TestClient, number: str) -> None:
    _, template = live_template(client)
    body, replaced = re.subn(
        r'"font_px": 16(\.0)?,',
        f'"font_px": {number},',
        json.dumps({"template": template}),
        count=1,
    )
    assert replaced == 1
    response = client.post(
        "/v1/admin/templates/home/validate",
        content=body.encode(),
        headers={**DESIGNER, "content-type": "application/json"},
    )
    assert response.status_code == 400 and error_of(response)["code"] == "bad_json"


def test_deep_segment_import_is_bad_json(client: TestClient) -> None:
    line = '{"user": "u1", "segments": ' + "[" * 1_000 + "]" * 1_000 + "}"
    response = client.put(
        "/v1/admin/segments",
        content=line.encode(),
        headers={**DESIGNER, "content-type": "application/x-ndjson"},
    )
    assert response.status_code == 400 and error_of(response)["code"] == "bad_json"
    assert error_of(response)["field"] == "line 1"
