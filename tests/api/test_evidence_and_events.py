"""Evidence, events and zones through the API.

Evidence is what still weighs after decay; only events on interactive components of live pages
count, and the 202 body says what was ignored and why; affinity learned on one page moves things
on another only through a shared category, inside a movable zone.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.helpers.app import bearer, make_app


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(make_app(tmp_path)) as test_client:
        yield test_client


def _post(client: TestClient, user: str, events: list[dict[str, Any]]) -> dict[str, Any]:
    response = client.post("/v1/me/events", json={"events": events}, headers=bearer(user))
    assert response.status_code == 202
    body: dict[str, Any] = response.json()
    return body


def _event(component: str, kind: str = "click", page: str = "home", **extra: Any) -> dict[str, Any]:
    return {"page": page, "component": component, "kind": kind, **extra}


def _order(client: TestClient, page: str, user: str | None = None) -> list[str]:
    headers = bearer(user) if user else {}
    body = client.get(f"/v1/layouts/{page}", headers=headers).json()
    return [c["id"] for c in body["components"]]


def _changes(client: TestClient, page: str, user: str) -> list[dict[str, str]]:
    body = client.get(f"/v1/layouts/{page}", headers=bearer(user)).json()
    changes: list[dict[str, str]] = body["personalization"]["changes"]
    return changes


# ----------------------------------------------------------------------------- evidence


def test_clicks_from_1970_are_no_evidence_for_one_fresh_convert(client: TestClient) -> None:
    """8 clicks dated ts 0, then one fresh convert on `guess`: nothing moves. The clicks are
    older than the 7 days an event may lie behind the server's clock: ignored as `too_old`."""
    stale = _post(client, "old-clicker", [_event("guess", ts=0)] * 8)
    assert stale["stored"] == 0 and stale["ignored_reasons"] == {"too_old": 8}
    _post(client, "old-clicker", [_event("guess", "convert", ts=time.time())])
    assert not [c for c in _changes(client, "home", "old-clicker") if c["reason"] == "affinity"]
    assert client.get("/v1/me/data", headers=bearer("old-clicker")).json()["data"]["evidence"] < 1.5


def test_a_new_user_with_one_convert_sees_no_change(client: TestClient) -> None:
    _post(client, "newcomer", [_event("guess", "convert")])
    body = client.get("/v1/layouts/home", headers=bearer("newcomer")).json()
    # The only change is the first-steps guide every new user gets (computed segment
    # `new_user`): nothing moves for one event.
    assert body["personalization"]["changes"] == [
        {"component": "first_steps", "change": "shown", "reason": "segment:new_user"}
    ]


def test_fresh_evidence_still_moves_things(client: TestClient) -> None:
    """The sibling that keeps the rule honest: 8 fresh clicks do move `guess` up."""
    _post(client, "fresh-clicker", [_event("guess", ts=time.time())] * 8)
    moved = [c["component"] for c in _changes(client, "home", "fresh-clicker")]
    assert "guess" in moved


# ----------------------------------------------------------------------------- events


def test_clicks_on_a_footer_note_are_ignored_and_move_nothing(client: TestClient) -> None:
    body = _post(client, "footer-fan", [_event("footer")] * 8)
    assert body == {
        "accepted": 8,
        "stored": 0,
        "ignored": 8,
        "ignored_reasons": {"not_interactive": 8},
    }
    # compared with another signed-in user who sent nothing (both are new users)
    assert _order(client, "home", "footer-fan") == _order(client, "home", "nobody")
    data = client.get("/v1/me/data", headers=bearer("footer-fan")).json()["data"]
    assert data["affinities"] == {} and data["evidence"] == 0


def test_unknown_pages_and_components_are_ignored_with_reasons(client: TestClient) -> None:
    body = _post(
        client,
        "prober",
        [
            _event("zzz"),
            _event("coupons", page="zzz"),
            _event("zzz", page="zzz"),
            _event("coupons"),
        ],
    )
    assert body == {
        "accepted": 4,
        "stored": 1,
        "ignored": 3,
        "ignored_reasons": {"unknown_component": 1, "unknown_page": 2},
    }
    data = client.get("/v1/me/data", headers=bearer("prober")).json()["data"]
    assert set(data["affinities"]) == {"coupons"}
    assert "zzz" not in str(data["affinities"])


def test_personalization_off_ignores_the_whole_batch_with_its_reason(client: TestClient) -> None:
    settings = client.get("/v1/me/settings", headers=bearer("off")).json()
    client.put("/v1/me/settings", json={**settings, "personalization": 0}, headers=bearer("off"))
    body = _post(client, "off", [_event("coupons"), _event("zzz")])
    assert body == {
        "accepted": 2,
        "stored": 0,
        "ignored": 2,
        "ignored_reasons": {"personalization_off": 2},
    }


def test_uncategorized_components_learn_only_on_their_own_page(client: TestClient) -> None:
    """`sku` has no category: its affinity is kept as `product/sku`, which no other page reads."""
    _post(client, "sku-fan", [_event("sku", page="product")] * 10)
    data = client.get("/v1/me/data", headers=bearer("sku-fan")).json()["data"]
    assert set(data["affinities"]) == {"product/sku"}


# ----------------------------------------------------------------------------- zones


def _before(order: list[str], first: str, second: str) -> bool:
    return order.index(first) < order.index(second)


def test_coupons_clicked_on_home_stay_inside_their_zone_elsewhere(client: TestClient) -> None:
    """Coupons clicked only on home: on home they move up; on product they stay below the gallery
    and price, on cart below the items (shared category, but only inside the `offers` zone)."""
    _post(client, "coupon-fan", [_event("coupons", ts=time.time())] * 30)
    home_base, home = _order(client, "home"), _order(client, "home", "coupon-fan")
    assert home.index("coupons") < home_base.index("coupons")

    product = _order(client, "product", "coupon-fan")
    assert _before(product, "gallery", "coupons") and _before(product, "price", "coupons")
    # Inside its zone it may still pass the flash deal: the category is shared.
    assert _before(product, "coupons", "flash_deal")
    assert _before(product, "coupons", "title")

    cart = _order(client, "cart", "coupon-fan")
    assert _before(cart, "items", "coupons") and _before(cart, "address", "coupons")
    assert _before(cart, "coupons", "delivery")
