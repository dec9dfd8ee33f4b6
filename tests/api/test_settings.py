"""Settings semantics: PUT replaces the whole object, PATCH is a JSON Merge Patch
(RFC 7396) returning the whole stored object; both in `/openapi.json`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient

from tests.helpers.app import bearer, make_app

LEFT = {
    "elderly_mode": "auto",
    "font_scale": 1.0,
    "high_contrast": False,
    "reduce_motion": False,
    "screen_reader": False,
    "handedness": "left",
    "personalization": 0.6,
    "age_band": "40_59",
    "elderly_prompt": "unanswered",
}
# What a client written before `elderly_prompt` PUTs (the contract's eight fields).
CONTRACT = {k: v for k, v in LEFT.items() if k != "elderly_prompt"}
DEFAULTS = {
    "elderly_mode": "auto",
    "font_scale": 1.0,
    "high_contrast": False,
    "reduce_motion": False,
    "screen_reader": False,
    "handedness": "unknown",
    "personalization": 1.0,
    "age_band": "unknown",
    "elderly_prompt": "unanswered",
}
MERGE = {"Content-Type": "application/merge-patch+json"}


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(make_app(tmp_path)) as test_client:
        yield test_client


def settings_of(client: TestClient, user: str) -> dict[str, Any]:
    response = client.get("/v1/me/settings", headers=bearer(user))
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


def patch(
    client: TestClient, user: str, body: bytes | str, headers: dict[str, str] | None = None
) -> httpx.Response:
    response: httpx.Response = client.patch(
        "/v1/me/settings",
        content=body,
        headers={**bearer(user), **(MERGE if headers is None else headers)},
    )
    return response


def error(response: httpx.Response) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"error"}, body
    detail: dict[str, Any] = body["error"]
    return detail


# --------------------------------------------------------------------------- PUT


def test_put_without_the_additive_prompt_answer_keeps_the_stored_one(client: TestClient) -> None:
    """`elderly_prompt` came after the contract's table: a client written before it PUTs the
    eight fields it knows, and a user who declined 长辈版 is never asked again."""
    assert patch(client, "pat", b'{"elderly_prompt": "declined"}').status_code == 200
    response = client.put("/v1/me/settings", json=CONTRACT, headers=bearer("pat"))
    assert response.status_code == 200
    assert response.json() == {**LEFT, "elderly_prompt": "declined"}
    assert settings_of(client, "pat") == {**LEFT, "elderly_prompt": "declined"}
    named = client.put(
        "/v1/me/settings", json={**LEFT, "elderly_prompt": "accepted"}, headers=bearer("pat")
    )
    assert named.json()["elderly_prompt"] == "accepted"
    assert settings_of(client, "pat")["elderly_prompt"] == "accepted"
    wrong = client.put(
        "/v1/me/settings", json={**LEFT, "elderly_prompt": "maybe"}, headers=bearer("pat")
    )
    assert wrong.status_code == 422
    assert error(wrong)["field"] == "elderly_prompt"


def test_put_with_a_missing_field_is_422_naming_it_and_changes_nothing(
    client: TestClient,
) -> None:
    """The issue's input: `{"font_scale": 1.2}` used to answer 200 and reset handedness."""
    assert client.put("/v1/me/settings", json=LEFT, headers=bearer("ann")).status_code == 200
    response = client.put("/v1/me/settings", json={"font_scale": 1.2}, headers=bearer("ann"))
    assert response.status_code == 422
    assert error(response)["code"] == "invalid"
    assert error(response)["field"] == "elderly_mode"  # the first missing, in contract order
    assert "elderly_mode" in error(response)["message"]
    assert settings_of(client, "ann") == LEFT


@pytest.mark.parametrize("missing", list(CONTRACT))
def test_put_names_each_missing_field(client: TestClient, missing: str) -> None:
    body = {k: v for k, v in LEFT.items() if k != missing}
    response = client.put("/v1/me/settings", json=body, headers=bearer("bea"))
    assert response.status_code == 422 and error(response)["field"] == missing


def test_put_of_the_whole_object_round_trips(client: TestClient) -> None:
    response = client.put("/v1/me/settings", json=LEFT, headers=bearer("cat"))
    assert response.status_code == 200 and response.json() == LEFT
    assert settings_of(client, "cat") == LEFT


def test_put_still_refuses_unknown_fields_and_wrong_types(client: TestClient) -> None:
    unknown = client.put("/v1/me/settings", json={**LEFT, "colour": "red"}, headers=bearer("d"))
    assert unknown.status_code == 422 and error(unknown)["field"] == "colour"
    wrong = client.put("/v1/me/settings", json={**LEFT, "font_scale": "big"}, headers=bearer("d"))
    assert wrong.status_code == 422 and error(wrong)["field"] == "font_scale"


# --------------------------------------------------------------------------- PATCH


def test_patch_changes_only_what_it_names_and_returns_the_whole_object(
    client: TestClient,
) -> None:
    client.put("/v1/me/settings", json=LEFT, headers=bearer("eve"))
    response = patch(client, "eve", b'{"font_scale": 1.2}')
    assert response.status_code == 200
    assert response.json() == {**LEFT, "font_scale": 1.2}
    assert settings_of(client, "eve") == {**LEFT, "font_scale": 1.2}


def test_patch_of_a_new_user_merges_into_the_defaults(client: TestClient) -> None:
    response = patch(client, "fay", b'{"elderly_mode": "on", "handedness": "right"}')
    assert response.status_code == 200
    assert response.json() == {**DEFAULTS, "elderly_mode": "on", "handedness": "right"}


def test_patch_null_resets_a_field_to_its_default(client: TestClient) -> None:
    client.put("/v1/me/settings", json=LEFT, headers=bearer("gil"))
    response = patch(client, "gil", b'{"handedness": null, "personalization": null}')
    assert response.status_code == 200
    assert response.json() == {**LEFT, "handedness": "unknown", "personalization": 1.0}


def test_patch_with_an_empty_object_changes_and_stores_nothing(client: TestClient) -> None:
    client.put("/v1/me/settings", json=LEFT, headers=bearer("hal"))
    assert patch(client, "hal", b"{}").json() == LEFT
    assert patch(client, "new-user", b"{}").json() == DEFAULTS
    data = client.get("/v1/me/data", headers=bearer("new-user")).json()["data"]
    assert data["settings"] is None and data["created"] is None  # nothing was written


def test_patch_takes_application_json_too(client: TestClient) -> None:
    response = patch(
        client,
        "ida",
        b'{"reduce_motion": true}',
        {"Content-Type": "application/json; charset=utf-8"},
    )
    assert response.status_code == 200 and response.json()["reduce_motion"] is True


@pytest.mark.parametrize(
    "content_type",
    [
        pytest.param("text/plain", id="text"),
        pytest.param("application/x-www-form-urlencoded", id="form"),
        pytest.param("application/json-patch+json", id="json-patch-rfc6902"),
        pytest.param("", id="none"),
    ],
)
def test_patch_with_another_media_type_is_415(client: TestClient, content_type: str) -> None:
    client.put("/v1/me/settings", json=LEFT, headers=bearer("jo"))
    headers = {"Content-Type": content_type} if content_type else {}
    response = patch(client, "jo", b'{"font_scale": 1.5}', headers)
    assert response.status_code == 415 and error(response)["code"] == "unsupported_media_type"
    assert settings_of(client, "jo") == LEFT


@pytest.mark.parametrize(
    ("body", "field"),
    [
        pytest.param(b'{"colour": "red"}', "colour", id="unknown-field"),
        pytest.param(b'{"font_scale": "big"}', "font_scale", id="wrong-type"),
        pytest.param(b'{"font_scale": 2.5}', "font_scale", id="out-of-range"),
        pytest.param(b'{"high_contrast": 1}', "high_contrast", id="int-for-bool"),
        pytest.param(b'{"handedness": "both"}', "handedness", id="bad-enum"),
        pytest.param(b'{"font_scale": {"value": null}}', "font_scale", id="nested-null"),
        pytest.param(b'{"handedness": {}}', "handedness", id="nested-object"),
        pytest.param(
            b'[{"op": "replace", "path": "/font_scale", "value": 1.5}]', None, id="array-body"
        ),
        pytest.param(b"null", None, id="null-body"),
        pytest.param(b'"font_scale"', None, id="string-body"),
        pytest.param(b"true", None, id="boolean-body"),
        pytest.param(b"1.5", None, id="number-body"),
        pytest.param(b'{"font_scale": 1.5, "oops": true}', "oops", id="valid-and-unknown"),
    ],
)
def test_bad_patches_are_422_and_change_nothing(
    client: TestClient, body: bytes, field: str | None
) -> None:
    client.put("/v1/me/settings", json=LEFT, headers=bearer("kim"))
    response = patch(client, "kim", body)
    assert response.status_code == 422, response.text
    assert error(response)["code"] == "invalid" and error(response).get("field") == field
    assert settings_of(client, "kim") == LEFT


@pytest.mark.parametrize(
    ("body", "kind"),
    [
        pytest.param(b"null", "null", id="null"),
        pytest.param(b"[]", "an array", id="array"),
        pytest.param(b'"x"', "a string", id="string"),
        pytest.param(b"false", "a boolean", id="boolean"),
        pytest.param(b"2", "a number", id="number"),
    ],
)
def test_a_patch_that_is_no_object_says_what_it_got(
    client: TestClient, body: bytes, kind: str
) -> None:
    response = patch(client, "kim", body)
    assert response.status_code == 422
    assert error(response)["message"].endswith(f"must be a JSON object, not {kind}")


@pytest.mark.parametrize("body", [b'{"font_scale": ', b"", b"{" * 2000 + b"}" * 2000])
def test_malformed_patches_are_400(client: TestClient, body: bytes) -> None:
    response = patch(client, "lee", body)
    assert response.status_code == 400 and error(response)["code"] == "bad_json"


def test_patch_is_refused_without_a_token(client: TestClient) -> None:
    response = client.patch("/v1/me/settings", content=b"{}", headers=MERGE)
    assert response.status_code == 401


def test_patch_reaches_the_next_layout(client: TestClient) -> None:
    headers = bearer("max")
    assert client.get("/v1/layouts/home", headers=headers).json()["mode"] == "standard"
    assert patch(client, "max", b'{"elderly_mode": "on"}').status_code == 200
    assert client.get("/v1/layouts/home", headers=headers).json()["mode"] == "elderly"


# --------------------------------------------------------------------------- the contract


def test_openapi_documents_put_and_patch(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    settings = document["paths"]["/v1/me/settings"]
    put_schema = settings["put"]["requestBody"]["content"]["application/json"]["schema"]
    assert put_schema == {"$ref": "#/components/schemas/SettingsDocument"}
    assert sorted(document["components"]["schemas"]["SettingsDocument"]["required"]) == sorted(
        CONTRACT
    )
    body = settings["patch"]["requestBody"]["content"]
    assert set(body) == {"application/merge-patch+json", "application/json"}
    patch_schema = body["application/merge-patch+json"]["schema"]
    assert set(patch_schema["properties"]) == set(DEFAULTS)
    assert patch_schema["additionalProperties"] is False
    assert {"type": "null"} in patch_schema["properties"]["font_scale"]["anyOf"]
    assert {"200", "409", "415", "422"} <= set(settings["patch"]["responses"])
    assert settings["patch"]["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Settings"
    }
