"""Inputs of the "label needs visible text" kind and the "one rule for a
user id": characters of *visible* Unicode categories that draw nothing (Hangul fillers are Lo,
the braille blank is So), and ids a person cannot read or tell apart.

The rule is `engine.labels.has_visible_text`, shared by lint, the engine's check, the console
and `users.ids.user_id_problem` (token `sub`, segment import).
"""

from __future__ import annotations

import copy
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import msgspec
import pytest
from starlette.testclient import TestClient

from tests.helpers.app import SECRET, bearer, make_app
from uiserver.catalog import load_catalog, load_template_file, template_version
from uiserver.engine import Engine, check_layout
from uiserver.engine.labels import has_visible_text
from uiserver.policy import load_policy
from uiserver.schema import Context, Profile, Template
from uiserver.users.ids import user_id_problem

REPO = Path(__file__).resolve().parents[2]
DESIGNER = bearer("dora", "designer")

# Letters and symbols of visible categories that are drawn as nothing.
BLANK_GLYPHS = [
    pytest.param("\u3164", id="hangul-filler"),
    pytest.param("\u115f\u1160", id="hangul-choseong-jungseong-fillers"),
    pytest.param("\uffa0", id="halfwidth-hangul-filler"),
    pytest.param("\u2800", id="braille-blank"),
    pytest.param("\u3164\u200b\u2800 ", id="fillers-mixed-with-zero-width"),
]


@pytest.mark.parametrize("text", BLANK_GLYPHS)
def test_blank_glyphs_are_not_visible_text(text: str) -> None:
    assert not has_visible_text(text)


@pytest.mark.parametrize("text", ["\u3164A", "\u2801", "한", "ㅎ", "\u2800x"])
def test_a_drawn_character_beside_them_is(text: str) -> None:
    assert has_visible_text(text)


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(make_app(tmp_path), follow_redirects=False) as test_client:
        yield test_client


@pytest.mark.parametrize("label", BLANK_GLYPHS)
def test_publish_refuses_blank_glyph_labels(client: TestClient, label: str) -> None:
    before = client.get("/v1/admin/templates/home", headers=DESIGNER).json()
    doc: dict[str, Any] = copy.deepcopy(before["template"])
    for component in doc["components"]:
        component["label"] = label
    checked = client.post(
        "/v1/admin/templates/home/validate", headers=DESIGNER, json={"template": doc}
    )
    assert checked.status_code == 200 and checked.json()["ok"] is False
    published = client.post(
        "/v1/admin/templates/home/publish",
        headers=DESIGNER,
        json={"template": doc, "message": "blank"},
    )
    assert published.status_code == 422
    assert "components[0].label" in published.text
    after = client.get("/v1/admin/templates/home", headers=DESIGNER).json()
    assert after["live_version"] == before["live_version"]


def test_engine_check_refuses_a_hangul_filler_label() -> None:
    catalog, policy = load_catalog(REPO / "components"), load_policy()
    doc = msgspec.to_builtins(load_template_file(REPO / "layouts" / "home.yaml"))
    template = msgspec.convert(doc, Template)
    engine = Engine(catalog, policy)
    compiled = engine.compile(template, template_version(template))
    layout = engine.layout(compiled, Profile(), Context())
    target = next(c for c in layout.components if c.id == "coupons")
    target.label = "\u3164"
    assert any("coupons" in p and "label" in p for p in check_layout(layout, compiled, policy))


# ----------------------------------------------------------------------------- user ids


@pytest.mark.parametrize("sub", ["\u200b", "\u3164", "\u2800", "\ufeff", "\u00a0", "\u0301"])
def test_blank_user_ids_are_refused(client: TestClient, sub: str) -> None:
    assert user_id_problem(sub) is not None
    claims = {"sub": sub, "exp": int(time.time()) + 600}
    header = {"Authorization": "Bearer " + jwt.encode(claims, SECRET, algorithm="HS256")}
    for path in ("/v1/me/settings", "/v1/layouts/home"):
        response = client.get(path, headers=header)
        assert response.status_code == 401, (path, response.text)
        assert response.json()["error"]["code"] == "bad_token"
        assert "blank" in response.json()["error"]["message"]
    imported = client.put(
        "/v1/admin/segments", headers=DESIGNER, json=[{"user": sub, "segments": ["vip"]}]
    )
    assert imported.status_code == 422
    assert imported.json()["error"]["field"] == "[0].user"


def test_user_ids_are_opaque_and_compared_exactly(client: TestClient) -> None:
    """Decision: "é" composed (NFC) and decomposed (NFD), "Ana" and "ana" are four users
    (OIDC Core 5.7: `sub` is case sensitive); none sees another's settings."""
    ids = ["\u00e9", "e\u0301", "Ana", "ana"]
    for n, uid in enumerate(ids):
        response = client.patch(
            "/v1/me/settings", headers=bearer(uid), json={"font_scale": 1.0 + 0.1 * (n + 1)}
        )
        assert response.status_code == 200, response.text
    for n, uid in enumerate(ids):
        settings = client.get("/v1/me/settings", headers=bearer(uid)).json()
        assert settings["font_scale"] == pytest.approx(1.0 + 0.1 * (n + 1))
    erased = client.delete("/v1/me", headers=bearer("e\u0301"))
    assert erased.status_code == 200
    assert client.get("/v1/me/settings", headers=bearer("\u00e9")).json()[
        "font_scale"
    ] == pytest.approx(1.1)
