"""Inputs to safe publishing and the designer's persona builder that must be refused cleanly:
a forced `If-Match: *` that contradicts the body's `base_version`, and synthetic event counts
in non-ASCII digits (`int('³')` raised: a 500).
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.helpers.app import bearer, make_app

DESIGNER = bearer("dora", "designer")
BASE = "/v1/admin/templates/home"


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(make_app(tmp_path)) as test_client:
        yield test_client


def live(client: TestClient) -> tuple[str, dict[str, Any]]:
    body = client.get(BASE, headers=DESIGNER).json()
    return body["live_version"], body["template"]


def titled(template: dict[str, Any], title: str) -> dict[str, Any]:
    changed = copy.deepcopy(template)
    changed["title"] = title
    return changed


def test_if_match_star_does_not_override_a_stale_body_base_version(client: TestClient) -> None:
    """`*` forces only when nothing narrower is asked: a body `base_version` that is not live is
    still a 409 `stale_base`, and the other designer's change stays live."""
    base, template = live(client)
    theirs = client.post(
        f"{BASE}/publish",
        headers=DESIGNER,
        json={"template": titled(template, "theirs"), "message": "b"},
    )
    assert theirs.status_code == 201
    mine = client.post(
        f"{BASE}/publish",
        headers={**DESIGNER, "If-Match": "*"},
        json={"template": titled(template, "mine"), "message": "a", "base_version": base},
    )
    assert mine.status_code == 409, mine.text
    assert mine.json()["error"]["code"] == "stale_base"
    assert live(client)[0] == theirs.json()["version"]
    # `*` with the live version as base_version publishes.
    ok = client.post(
        f"{BASE}/publish",
        headers={**DESIGNER, "If-Match": "*"},
        json={
            "template": titled(template, "mine"),
            "message": "a",
            "base_version": theirs.json()["version"],
        },
    )
    assert ok.status_code == 201, ok.text


@pytest.mark.parametrize(
    "count",
    ["\u0663", "\uff13", "\u00b3", "1" * 5000, "9" * 4301, "0" * 20 + "5"],
    ids=["arabic-indic", "full-width", "superscript", "5000-digits", "4301-digits", "21-digits"],
)
def test_persona_event_counts_are_ascii_digits(client: TestClient, count: str) -> None:
    """`events=coupons:click:<count>`: Arabic-Indic or full-width digits are not a count, nor
    are thousands of digits (int() refuses more than 4,300: a 500 before), which the message
    does not repeat whole."""
    response = client.get(
        "/v1/admin/preview/home",
        headers=DESIGNER,
        params={"persona": "default", "events": f"coupons:click:{count}"},
    )
    assert response.status_code == 422, response.text
    assert response.json()["error"]["field"] == "events"
    assert len(response.content) < 400


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"persona": "p" * 8000}, "persona"),
        ({"persona": "default", "variant": "v" * 8000}, "variant"),
    ],
    ids=["persona", "variant"],
)
def test_a_long_persona_or_variant_name_is_not_repeated_whole(
    client: TestClient, params: dict[str, str], field: str
) -> None:
    response = client.get("/v1/admin/preview/home", headers=DESIGNER, params=params)
    assert response.status_code == 422, response.text[:200]
    assert response.json()["error"]["field"] == field
    assert "(8000 characters)" in response.json()["error"]["message"]
