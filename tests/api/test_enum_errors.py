"""An enum error names the values allowed (issue 23): `?device=ipad` is a 400 JSON error that
lists phone, tablet and desktop, and so is every other decoder of a literal field (query
context, persona settings, admin bodies, templates)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
from starlette.testclient import TestClient

from tests.helpers.app import bearer, make_app
from uiserver.admin.contrast import ContrastRequest
from uiserver.documents import DocumentError, allowed_values, decode_json, error_path
from uiserver.schema import Context, Settings, Template

DESIGNER = bearer("dora", "designer")


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(make_app(tmp_path)) as test_client:
        yield test_client


def error_of(response: Any) -> dict[str, str]:
    body = response.json()
    assert set(body) == {"error"}, body
    error: dict[str, str] = body["error"]
    return error


@pytest.mark.parametrize(
    ("method", "path", "body", "field", "allowed"),
    [
        ("GET", "/v1/layouts/home?device=ipad", None, "device", ("phone", "tablet", "desktop")),
        (
            "GET",
            "/v1/admin/preview/home?persona=default&device=ipad",
            None,
            "device",
            ("phone", "tablet", "desktop"),
        ),
        (
            "GET",
            "/v1/admin/preview/home?persona=default&handedness=both",
            None,
            "settings.handedness",
            ("left", "right", "unknown"),
        ),
        (
            "POST",
            "/v1/admin/contrast",
            {"pairs": [{"fg": "#000000", "bg": "#FFFFFF", "kind": "icon"}]},
            "pairs[0].kind",
            ("text", "ui"),
        ),
    ],
)
def test_enum_errors_list_the_allowed_values(
    client: TestClient,
    method: str,
    path: str,
    body: Any,
    field: str,
    allowed: tuple[str, ...],
) -> None:
    response = client.request(method, path, json=body, headers=DESIGNER)
    assert 400 <= response.status_code < 500, response.text
    error = error_of(response)
    assert error["field"] == field
    for value in allowed:
        assert repr(value) in error["message"], error["message"]


def test_settings_put_names_the_allowed_values(client: TestClient) -> None:
    response = client.put("/v1/me/settings", json={"elderly_mode": "maybe"}, headers=bearer("u1"))
    assert response.status_code == 422
    error = error_of(response)
    assert error["field"] == "elderly_mode"
    assert "allowed: 'auto', 'off', 'on'" in error["message"]


def test_allowed_values_follow_the_path() -> None:
    assert allowed_values(Context, "device") == ["desktop", "phone", "tablet"]
    assert allowed_values(Settings, "handedness") == ["left", "right", "unknown"]
    assert "flow" in (allowed_values(Template, "components[3].placement") or [])
    assert allowed_values(ContrastRequest, "pairs[0].kind") is not None
    # Not an enum, or no such path: nothing to list.
    assert allowed_values(Template, "components[0].label") is None
    assert allowed_values(Template, "nowhere.at.all") is None
    assert allowed_values(Template, "components.placement") is None
    assert allowed_values(Context, "$") is None


def test_template_decode_lists_placements() -> None:
    doc = b'{"page":"x","title":"t","components":[{"id":"a","type":"text","placement":"mid"}]}'
    with pytest.raises(DocumentError) as caught:
        decode_json(doc, Template)
    assert caught.value.field == "components[0].placement"
    assert "'bottom_center'" in caught.value.message


def test_without_the_kind_the_message_is_msgspecs() -> None:
    try:
        msgspec.convert({"device": "ipad"}, Context)
    except msgspec.ValidationError as exc:
        assert error_path(exc) == ("device", "Invalid enum value 'ipad'")
        assert error_path(exc, Context)[1].endswith("'phone', 'tablet'")
