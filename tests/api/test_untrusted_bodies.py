"""Untrusted bodies and files decode to a 4xx, never a 500, for the inputs
the admin and console tests do not already cover: the client's own bodies (settings, events),
lone surrogates in YAML (drafts and files), and the operator's policy file. All of them go
through `uiserver.documents`, the one decoding path."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from starlette.testclient import TestClient

from tests.helpers.app import bearer, make_app, token
from tests.helpers.rsgi import ANSWERS, interfaced
from uiserver.catalog import LoadError, load_template_file
from uiserver.policy import DEFAULT_POLICY_PATH, PolicyError, load_policy

USER = bearer("u")
DESIGNER = bearer("dora", "designer")
SETTINGS = (
    '{"elderly_mode": "auto", "font_scale": %s, "high_contrast": false, '
    '"reduce_motion": false, "screen_reader": false, "handedness": "unknown", '
    '"personalization": 1.0, "age_band": "unknown"}'
)


@pytest.fixture(scope="module", params=ANSWERS)
def client(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TestClient]:
    """The app on ASGI (uvicorn) and through its RSGI entry point (granian)."""
    app = interfaced(make_app(tmp_path_factory.mktemp("bodies")), request.param)
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


def _error(response: object) -> dict[str, str]:
    from httpx import Response

    assert isinstance(response, Response)
    return response.json()["error"]  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    ("path", "method", "body", "code"),
    [
        pytest.param(
            "/v1/me/events",
            "POST",
            b'{"events": [{"page": "home", "component": "x", "kind": "view", "extra": '
            + b"[" * 5000
            + b"]" * 5000
            + b"}]}",
            "bad_json",
            id="events-5000-deep",
        ),
        pytest.param(
            "/v1/me/events", "POST", b"[" * 100_000, "bad_json", id="events-100k-brackets"
        ),
        pytest.param(
            "/v1/me/events",
            "POST",
            b'{"events": [{"page": "home", "component": "x", "kind": "view", "ts": NaN}]}',
            "bad_json",
            id="events-nan",
        ),
        pytest.param(
            "/v1/me/events",
            "POST",
            b'{"events": [{"page": "home", "component": "x", "kind": "view", "ts": 1e999}]}',
            "invalid",
            id="events-1e999",
        ),
        pytest.param(
            "/v1/me/events",
            "POST",
            b'{"events": [{"page": "\\ud800", "component": "x", "kind": "view"}]}',
            "bad_json",
            id="events-lone-surrogate",
        ),
        pytest.param(
            "/v1/me/settings", "PUT", (SETTINGS % "NaN").encode(), "bad_json", id="settings-nan"
        ),
        pytest.param(
            "/v1/me/settings",
            "PUT",
            (SETTINGS % "Infinity").encode(),
            "bad_json",
            id="settings-infinity",
        ),
        pytest.param("/v1/me/settings", "PUT", b"[" * 3000, "bad_json", id="settings-deep"),
        pytest.param("/v1/me/settings", "PUT", b"", "bad_json", id="settings-empty"),
        pytest.param("/v1/me/settings", "PUT", b"\xff\xfe{}", "bad_json", id="settings-not-utf8"),
    ],
)
def test_client_bodies_are_4xx(
    client: TestClient, path: str, method: str, body: bytes, code: str
) -> None:
    response = client.request(
        method, path, content=body, headers={**USER, "content-type": "application/json"}
    )
    assert response.status_code == (400 if code == "bad_json" else 422), response.text
    assert _error(response)["code"] == code


def test_segment_import_with_a_deep_array_is_bad_json(client: TestClient) -> None:
    response = client.put(
        "/v1/admin/segments",
        content=b"[" * 100_000,
        headers={**DESIGNER, "content-type": "application/json"},
    )
    assert response.status_code == 400 and _error(response)["code"] == "bad_json"


@pytest.mark.parametrize("where", ["title", "key", "label"])
def test_a_yaml_draft_with_a_lone_surrogate_is_refused(tmp_path: Path, where: str) -> None:
    """A whole, valid template in YAML with one `"\\ud800"` escape: before, validate called it valid
    and publish answered 500 (UnicodeEncodeError when the draft was stored)."""
    with TestClient(make_app(tmp_path), raise_server_exceptions=False) as console:
        template = console.get("/v1/admin/templates/home", headers=DESIGNER).json()["template"]
        marker = "SURROGATE-MARKER"
        if where == "title":
            template["title"] = marker
        elif where == "key":
            template["components"][0]["props"][marker] = 1
        else:
            template["components"][0]["label"] = marker
        draft = yaml.safe_dump(template, allow_unicode=True).replace(marker, '"\\ud800"', 1)
        form = console.get("/designer/login")
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
        assert csrf
        console.post(
            "/designer/login",
            data={"csrf_token": csrf.group(1), "token": token("dora", "designer")},
        )
        page = console.get("/designer/pages/home")
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert csrf
        for path, action in (
            ("/designer/pages/home", "validate"),
            ("/designer/pages/home", "publish"),
            ("/designer/pages/home/preview", "preview"),
        ):
            response = console.post(
                path,
                data={
                    "csrf_token": csrf.group(1),
                    "action": action,
                    "template": draft,
                    "message": "m",
                },
            )
            assert response.status_code in (400, 422), (action, response.status_code)
            assert "lone surrogate" in response.text


def test_a_template_file_with_a_lone_surrogate_is_a_load_error(tmp_path: Path) -> None:
    path = tmp_path / "home.yaml"
    path.write_text('page: home\ntitle: "\\ud800"\ncomponents: []\n')
    with pytest.raises(LoadError, match="lone surrogate"):
        load_template_file(path)


@pytest.mark.parametrize(
    "text", ["[" * 5000, '{"max_change": NaN}', "{"], ids=["deep", "nan", "truncated"]
)
def test_a_broken_policy_file_is_a_policy_error(tmp_path: Path, text: str) -> None:
    path = tmp_path / "policy.json"
    path.write_text(text)
    with pytest.raises(PolicyError):
        load_policy(path)
    assert load_policy(DEFAULT_POLICY_PATH).max_change == 0.4


EVENT = {"page": "home", "component": "coupons", "kind": "click"}


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        pytest.param(
            "POST",
            "/v1/me/events",
            {"events": [{**EVENT, "bogus": 1}]},
            "events[0].bogus",
            id="event-unknown-member",
        ),
        pytest.param(
            "POST",
            "/v1/me/events",
            {"events": [{"page": "home", "kind": "click"}]},
            "events[0].component",
            id="event-missing-member",
        ),
        pytest.param("POST", "/v1/me/events", {"evnts": []}, "evnts", id="batch-unknown-member"),
        pytest.param(
            "PATCH", "/v1/me/settings", {"font_scal": 1.2}, "font_scal", id="patch-unknown-setting"
        ),
    ],
)
def test_an_unknown_or_missing_member_is_named_itself(
    client: TestClient, method: str, path: str, body: object, field: str
) -> None:
    """msgspec names the object around an unknown or missing member; the error names the
    member, on every route that decodes a body."""
    response = client.request(method, path, json=body, headers=bearer("namer"))
    assert response.status_code == 422, response.text
    assert _error(response)["field"] == field
    assert client.get("/v1/me/data", headers=bearer("namer")).json()["data"]["affinities"] == {}


@pytest.mark.parametrize(
    ("path", "method", "body", "headers", "field"),
    [
        pytest.param(
            "/v1/me/settings",
            "PUT",
            SETTINGS.replace('"handedness": "unknown"', '"handedness": "left"') % "1.0",
            USER,
            None,
            id="settings-put-control",
        ),
        pytest.param(
            "/v1/me/settings",
            "PUT",
            (SETTINGS % "1.0").replace("}", ', "font_scale": 2.0}'),
            USER,
            "font_scale",
            id="settings-put",
        ),
        pytest.param(
            "/v1/me/settings",
            "PATCH",
            '{"font_scale": 1.5, "font_scale": 1.2}',
            USER,
            "font_scale",
            id="settings-patch",
        ),
        pytest.param(
            "/v1/admin/templates/home/rollout",
            "POST",
            '{"percent": 10, "percent": 20}',
            DESIGNER,
            "percent",
            id="admin-body",
        ),
        pytest.param(
            "/v1/admin/preview-tokens/home",
            "POST",
            '{"persona": "elderly", "persona": "off"}',
            DESIGNER,
            "persona",
            id="preview-token",
        ),
        pytest.param(
            "/v1/admin/templates/home/validate",
            "POST",
            '{"template": {"page": "home", "title": "A", "title": "B"}}',
            DESIGNER,
            "title",
            id="template-nested",
        ),
    ],
)
def test_a_member_given_twice_is_422_naming_it(
    client: TestClient,
    path: str,
    method: str,
    body: str,
    headers: dict[str, str],
    field: str | None,
) -> None:
    """msgspec kept the last of two equal names in silence (`{"percent": 10, "percent": 20}`
    widened to 20); which one the caller meant is theirs to say (RFC 8259 4)."""
    response = client.request(
        method,
        path,
        content=body.encode(),
        headers={**headers, "content-type": "application/json"},
    )
    if field is None:
        assert response.status_code == 200, response.text
        return
    assert response.status_code == 422, response.text
    error = _error(response)
    assert error["code"] == "invalid" and error["field"] == field
    assert "given twice" in error["message"]
