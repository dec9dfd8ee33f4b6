"""The visual designer's API: drafts (autosave), custom personas and forced variants in the
preview, contrast readouts, the catalogue, and the console's bridge to the admin API."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.helpers.app import bearer, log_in, make_app
from tests.helpers.personas import unbuildable_personas

DORA = bearer("dora", "designer")
ERIK = bearer("erik", "designer")


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(make_app(tmp_path), follow_redirects=False) as client:
        yield client


def ids(layout: dict[str, Any]) -> list[str]:
    return [c["id"] for c in layout["components"]]


# --------------------------------------------------------------------------- drafts


def test_draft_round_trip_per_designer_until_discarded(client: TestClient) -> None:
    assert client.get("/v1/admin/drafts/home", headers=DORA).status_code == 404
    saved = client.put(
        "/v1/admin/drafts/home", headers=DORA, json={"text": '{"page": "home", half typed'}
    )
    assert saved.status_code == 200, saved.text
    live = client.get("/v1/admin/templates/home", headers=DORA).json()["live_version"]
    assert saved.json()["base_version"] == live
    body = client.get("/v1/admin/drafts/home", headers=DORA).json()
    assert body["text"] == '{"page": "home", half typed' and body["live_version"] == live
    # Another designer has no draft; the list is per designer.
    assert client.get("/v1/admin/drafts/home", headers=ERIK).status_code == 404
    listed = client.get("/v1/admin/drafts", headers=DORA).json()["drafts"]
    assert [(d["page"], d["stale"]) for d in listed] == [("home", False)]
    assert client.get("/v1/admin/drafts", headers=ERIK).json()["drafts"] == []
    assert client.delete("/v1/admin/drafts/home", headers=DORA).json() == {"discarded": True}
    assert client.delete("/v1/admin/drafts/home", headers=DORA).json() == {"discarded": False}
    assert client.get("/v1/admin/drafts", headers=DORA).json()["drafts"] == []


def test_publishing_ends_the_authors_draft_only(client: TestClient) -> None:
    template = client.get("/v1/admin/templates/cart", headers=DORA).json()["template"]
    for who in (DORA, ERIK):
        assert (
            client.put("/v1/admin/drafts/cart", headers=who, json={"text": "x"}).status_code == 200
        )
    template["title"] = "Cart, renamed"
    published = client.post(
        "/v1/admin/templates/cart/publish",
        headers=DORA,
        json={"template": template, "message": "rename"},
    )
    assert published.status_code == 201
    assert client.get("/v1/admin/drafts/cart", headers=DORA).status_code == 404
    erik = client.get("/v1/admin/drafts", headers=ERIK).json()["drafts"]
    assert [(d["page"], d["stale"]) for d in erik] == [("cart", True)]


@pytest.mark.parametrize("body", [{"text": 3}, {}, [], {"text": "x", "base_version": 7}])
def test_bad_draft_bodies_are_422(client: TestClient, body: Any) -> None:
    response = client.put("/v1/admin/drafts/home", headers=DORA, json=body)
    assert response.status_code == 422
    assert response.json()["error"]["field"] in ("text", "base_version")


def test_drafts_need_a_designer_and_a_live_page(client: TestClient) -> None:
    assert client.get("/v1/admin/drafts").status_code == 401
    assert client.get("/v1/admin/drafts", headers=bearer("u", "user")).status_code == 403
    missing = client.put("/v1/admin/drafts/nope", headers=DORA, json={"text": "x"})
    assert missing.status_code == 404


def test_draft_size_is_limited(client: TestClient) -> None:
    response = client.put(
        "/v1/admin/drafts/home", headers=DORA, json={"text": "x" * (1024 * 1024 + 1)}
    )
    assert response.status_code == 422 and response.json()["error"]["field"] == "text"


def test_drafts_are_not_user_data(client: TestClient) -> None:
    """Erasing a user named like a designer leaves designers' drafts alone, and export of
    that user does not list them."""
    client.put("/v1/admin/drafts/home", headers=DORA, json={"text": "mine"})
    dora_user = bearer("dora")
    assert "mine" not in client.get("/v1/me/data", headers=dora_user).text
    assert client.delete("/v1/me", headers=dora_user).status_code == 200
    assert client.get("/v1/admin/drafts/home", headers=DORA).json()["text"] == "mine"


# --------------------------------------------------------------------------- personas


def preview(client: TestClient, query: str) -> Any:
    response = client.get(f"/v1/admin/preview/home?{query}", headers=DORA)
    assert response.status_code == 200, response.text
    return response.json() if "format=html" not in query else response.text


def test_twelve_coupon_clicks_move_the_coupon_strip(client: TestClient) -> None:
    base = ids(preview(client, "persona=default"))
    moved = preview(client, "persona=default&events=coupons:click:12")
    assert ids(moved).index("coupons") < base.index("coupons")
    assert any(
        c["component"] == "coupons" and c["change"] == "moved"
        for c in moved["personalization"]["changes"]
    )
    # A category works as a target too, and so does a POSTed spec.
    template = client.get("/v1/admin/templates/home", headers=DORA).json()["template"]
    posted = client.post(
        "/v1/admin/preview/home",
        headers=DORA,
        json={
            "template": template,
            "persona": {"events": [{"target": "coupons", "kind": "click", "count": 12}]},
        },
    )
    assert posted.status_code == 200 and ids(posted.json()) == ids(moved)


def test_marked_html_badges_the_moved_strip(client: TestClient) -> None:
    html = preview(client, "persona=default&events=coupons:click:12&format=html&marks=1")
    assert re.search(r"moved", html) and "coupon" in html.lower()
    plain = preview(client, "persona=default&format=html&marks=1")
    assert html.count('class="badge') > plain.count('class="badge')


def test_settings_segments_and_context_from_the_query(client: TestClient) -> None:
    elderly = preview(client, "persona=default&age_band=60_plus&font_scale=1.5")
    assert elderly["mode"] == "elderly"
    churn = preview(client, "segments=churn_risk")
    assert "welcome_back" in ids(churn) and "welcome_back" not in ids(preview(client, ""))
    dark = preview(client, "dark=1&device=tablet")
    assert dark["theme"]["dark"] is True


def test_variant_is_honoured(client: TestClient) -> None:
    control = preview(client, "variant=control")
    deals = preview(client, "variant=deals_first")
    assert control["variant"] == "control" and deals["variant"] == "deals_first"
    assert ids(deals).index("coupons") < ids(deals).index("banner")
    assert ids(control).index("banner") < ids(control).index("coupons")
    assert preview(client, "variant=base")["variant"] is None


@pytest.mark.parametrize(
    ("query", "field"),
    [
        *unbuildable_personas(),
        pytest.param("events=coupons:stare:3", "persona.events[0].kind", id="event-kind"),
        pytest.param("events=coupons:click:x", "events", id="event-count-text"),
        pytest.param("events=coupons:click:100000", "persona.events[0].count", id="event-count"),
    ],
)
def test_bad_persona_specs_are_422_naming_the_field(
    client: TestClient, query: str, field: str
) -> None:
    response = client.get(f"/v1/admin/preview/home?{query}", headers=DORA)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["field"] == field


# --------------------------------------------------------------------------- contrast, catalogue


def test_contrast_readouts_use_the_policy_floors(client: TestClient) -> None:
    response = client.post(
        "/v1/admin/contrast",
        headers=DORA,
        json={
            "palette": {
                "text": "#777777",
                "background": "#FFFFFF",
                "primary": "#C4320A",
                "on_primary": "#FFFFFF",
            },
            "pairs": [{"fg": "#000000", "bg": "#FFFFFF", "name": "components[3].props.color"}],
        },
    )
    assert response.status_code == 200
    pairs = {(p["fg"], p["bg"]): p for p in response.json()["pairs"]}
    grey = pairs["text", "background"]
    assert grey["ratio"] == 4.47 and grey["floor"] == 4.5 and grey["ok"] is False
    assert grey["source"] == "WCAG 1.4.3"
    assert pairs["primary", "background"]["floor"] == 3.0
    assert pairs["components[3].props.color", "bg"]["ratio"] == 21.0
    enhanced = client.post(
        "/v1/admin/contrast",
        headers=DORA,
        json={"palette": {"text": "#666666", "background": "#FFFFFF"}, "enhanced": True},
    ).json()
    assert enhanced["pairs"][0]["floor"] == 7.0 and not enhanced["pairs"][0]["ok"]
    bad = client.post("/v1/admin/contrast", headers=DORA, json={"pairs": [{"fg": "red"}]})
    assert bad.status_code == 422


def test_catalogue_lists_types_with_descriptions(client: TestClient) -> None:
    types = client.get("/v1/admin/catalog", headers=DORA).json()["types"]
    coupon = next(t for t in types if t["name"] == "coupon_strip")
    assert coupon["description"] and coupon["role"]


def test_openapi_documents_the_new_routes(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert {"get", "put", "delete"} <= set(paths["/v1/admin/drafts/{page}"])
    assert "post" in paths["/v1/admin/contrast"]
    names = {p["name"] for p in paths["/v1/admin/preview/{page}"]["get"]["parameters"]}
    assert {"events", "segments", "variant", "font_scale", "dark", "device"} <= names


# --------------------------------------------------------------------------- the console bridge


def csrf_meta(html: str) -> str:
    match = re.search(r'<meta name="csrf-token" content="([^"]+)"', html)
    assert match, "no csrf-token meta on the editor page"
    return match.group(1)


def test_console_bridge_needs_session_and_csrf_header(client: TestClient) -> None:
    url = "/designer/api/v1/admin/drafts/home"
    assert client.get(url).status_code == 401
    assert log_in(client).status_code == 303
    csrf = csrf_meta(client.get("/designer/pages/home").text)
    assert client.put(url, json={"text": "t"}).status_code == 403
    assert (
        client.put(url, json={"text": "t"}, headers={"X-CSRF-Token": "0" * 64}).status_code == 403
    )
    saved = client.put(url, json={"text": "t"}, headers={"X-CSRF-Token": csrf})
    assert saved.status_code == 200, saved.text
    # The same draft through the API: the bridge acts as the signed-in designer.
    assert client.get("/v1/admin/drafts/home", headers=DORA).json()["text"] == "t"
    validate = client.post(
        "/designer/api/v1/admin/templates/home/validate",
        headers={"X-CSRF-Token": csrf},
        json={"template": {}},
    )
    assert validate.status_code == 200 and validate.json()["ok"] is False


def test_draw_1_previews_a_draft_lint_refuses_with_its_problems_marked(
    client: TestClient,
) -> None:
    """The editor's phones (`draw=1`): a draft with a lint problem is still drawn, the problem
    at its component; without `draw=1` the preview is refused as before."""
    template = client.get("/v1/admin/templates/cart", headers=DORA).json()["template"]
    template["components"][0]["label"] = ""
    template["theme"]["palette"]["text"] = "#EEEEEE"
    cid = template["components"][0]["id"]
    path = "/v1/admin/preview/cart?persona=default&format=html"
    refused = client.post(path, json={"template": template}, headers=DORA)
    assert refused.status_code == 422
    drawn = client.post(path + "&draw=1", json={"template": template}, headers=DORA)
    assert drawn.status_code == 200, drawn.text
    assert re.search(rf'class="c [^"]*problem"[^>]*data-id="{cid}"', drawn.text)
    assert 'id="problems-banner"' in drawn.text and "theme.palette.text" in drawn.text
    broken = client.post(path + "&draw=1", json={"template": {"page": 1}}, headers=DORA)
    assert broken.status_code == 422
