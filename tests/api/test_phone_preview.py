"""A draft on a real phone (issue 23): a designer mints a signed, short-lived preview token per
draft x persona (with its QR code); the preview-only route answers the designer's saved draft,
re-read on each request, never cached, and refuses any other token."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import jwt
import pytest
from starlette.testclient import TestClient

from tests.helpers.app import SECRET, bearer, make_app, token
from uiserver.http.errors import ApiError
from uiserver.http.phone_preview import (
    PREVIEW_TTL_S,
    mint_preview_token,
    qr_svg,
    read_preview_token,
)

DORA = bearer("dora", "designer")


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(make_app(tmp_path)) as test_client:
        yield test_client


def test_preview_token_serves_the_saved_draft_and_follows_each_save(client: TestClient) -> None:
    minted = client.post("/v1/admin/preview-tokens/cart", json={"persona": "elderly"}, headers=DORA)
    assert minted.status_code == 201, minted.text
    body = minted.json()
    assert body["persona"] == "elderly" and body["expires"] <= time.time() + PREVIEW_TTL_S + 1
    assert body["qr_svg"].startswith("<svg") and "preview_token=" in body["url"]
    assert minted.headers["cache-control"] == "no-store"
    path = body["url"].split("testserver", 1)[1]
    live = client.get(path)  # no draft yet: the live version, as the persona gets it
    assert live.status_code == 200 and live.headers["cache-control"] == "no-store"
    assert live.json()["mode"] == "elderly"
    template = client.get("/v1/admin/templates/cart", headers=DORA).json()["template"]
    first = template["components"][1]["id"]
    for label in ("草稿一 Draft one", "草稿二 Draft two"):
        template["components"][1]["label"] = label
        saved = client.put(
            "/v1/admin/drafts/cart",
            json={
                "text": json.dumps(template, ensure_ascii=False),
                "base_version": live.json()["template_version"],
            },
            headers=DORA,
        )
        assert saved.status_code == 200, saved.text
        shown = client.get(path).json()
        assert next(c for c in shown["components"] if c["id"] == first)["label"] == label
    # A draft that fails lint: 422 with its problems, never the broken draft.
    template["components"][1]["label"] = ""
    client.put(
        "/v1/admin/drafts/cart",
        json={"text": json.dumps(template), "base_version": live.json()["template_version"]},
        headers=DORA,
    )
    refused = client.get(path)
    assert refused.status_code == 422 and refused.json()["problems"]


@pytest.mark.parametrize(
    "query",
    [
        "",
        "?preview_token=garbage",
        f"?preview_token={token('dora', 'designer')}",  # a bearer token is no preview token
    ],
)
def test_preview_route_refuses_other_tokens(client: TestClient, query: str) -> None:
    response = client.get(f"/v1/preview/layouts/cart{query}")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "bad_preview_token"


def test_preview_tokens_expire_and_name_their_page() -> None:
    old, _ = mint_preview_token(SECRET, "dora", "cart", "default", now=time.time() - 3600)
    with pytest.raises(ApiError):
        read_preview_token(SECRET, old, "cart")
    fresh, expires = mint_preview_token(SECRET, "dora", "cart", "default")
    assert read_preview_token(SECRET, fresh, "cart")["persona"] == "default"
    with pytest.raises(ApiError):
        read_preview_token(SECRET, fresh, "home")
    with pytest.raises(ApiError):  # signed with the JWT secret itself: not a preview token
        read_preview_token(
            SECRET,
            jwt.encode(
                {
                    "sub": "x",
                    "aud": "uiserver-preview",
                    "page": "cart",
                    "persona": "default",
                    "iat": int(time.time()),
                    "exp": expires,
                },
                SECRET,
                algorithm="HS256",
            ),
            "cart",
        )
    assert "<svg" in qr_svg("https://example.test/x")


def test_minting_needs_a_designer_and_a_known_persona(client: TestClient) -> None:
    user = client.post("/v1/admin/preview-tokens/cart", json={}, headers=bearer("u1"))
    assert user.status_code == 403
    bad = client.post("/v1/admin/preview-tokens/cart", json={"persona": "robot"}, headers=DORA)
    assert bad.status_code == 422 and "allowed" in bad.json()["error"]["message"]
    for persona in (5, None, ["default"], {"base": "default"}, "p" * 3000):
        odd = client.post("/v1/admin/preview-tokens/cart", json={"persona": persona}, headers=DORA)
        assert odd.status_code == 422, (persona, odd.text[:200])
        assert odd.json()["error"]["field"] == "persona"
        assert len(odd.content) < 400
    missing = client.post("/v1/admin/preview-tokens/nowhere", json={}, headers=DORA)
    assert missing.status_code == 404


@pytest.mark.parametrize("query", ["", "?preview_token="])
def test_a_preview_url_without_its_token_says_so(client: TestClient, query: str) -> None:
    # It said "preview token refused: Not enough segments" (PyJWT's words for an empty string).
    response = client.get(f"/v1/preview/layouts/cart{query}")
    assert response.status_code == 401
    error = response.json()["error"]
    assert error["code"] == "bad_preview_token" and error["field"] == "preview_token"
    assert error["message"].startswith("no preview token") and "segments" not in error["message"]
