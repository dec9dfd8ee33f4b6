"""Identifiers are bounded everywhere (issue 27, section 4): an experiment id, a category or a
segment name is copied into users' data or becomes a key, so each one is an identifier like a
page name (`schema.Ident`: 1-64 of a-z, 0-9, '_', '-'). A 300 KB experiment id is refused with a
422 naming the field, and nothing is stored; a version stored before the rule still loads and
serves, and lint reports it."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
from starlette.testclient import TestClient

from tests.helpers.app import bearer, make_app
from tests.helpers.engine import shipped_templates
from uiserver.catalog import template_to_json, template_version
from uiserver.store.factory import open_store
from uiserver.users.segments import SEGMENTS_PER_USER_MAX

DESIGNER = bearer("dora", "designer")
BASE = "/v1/admin/templates/home"
HUGE = "x" * 300_000  # the 300 KB experiment id


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(make_app(tmp_path)) as test_client:
        yield test_client


def home(client: TestClient) -> tuple[str, dict[str, Any]]:
    body = client.get(BASE, headers=DESIGNER).json()
    return str(body["live_version"]), copy.deepcopy(body["template"])


def index_of(document: dict[str, Any], component: str) -> int:
    return next(i for i, c in enumerate(document["components"]) if c["id"] == component)


def _experiment(document: dict[str, Any], value: str) -> str:
    document["experiment"] = value
    return "experiment"


def _category(document: dict[str, Any], value: str) -> str:
    i = index_of(document, "coupons")
    document["components"][i]["category"] = value
    return f"components[{i}].category"


def _segment(document: dict[str, Any], value: str) -> str:
    i = index_of(document, "welcome_back")
    document["components"][i]["show_for_segments"] = ["churn_risk", value]
    return f"components[{i}].show_for_segments[1]"


def _hidden_segment(document: dict[str, Any], value: str) -> str:
    i = index_of(document, "flash_sale")
    document["components"][i]["hide_for_segments"] = [value]
    return f"components[{i}].hide_for_segments[0]"


FIELDS = [
    pytest.param(_experiment, id="experiment"),
    pytest.param(_category, id="category"),
    pytest.param(_segment, id="show-segment"),
    pytest.param(_hidden_segment, id="hide-segment"),
]
VALUES = [
    pytest.param(HUGE, id="300KB"),
    pytest.param("a" * 65, id="65-chars"),
    pytest.param("Deals", id="uppercase"),
    pytest.param("deals\n", id="trailing-newline"),
    pytest.param("-deals", id="leading-dash"),
    pytest.param("深圳", id="non-ascii"),
    pytest.param("a b", id="space"),
]


@pytest.mark.parametrize("value", VALUES)
@pytest.mark.parametrize("put", FIELDS)
def test_a_name_that_is_no_identifier_is_refused_naming_the_field(
    client: TestClient, put: Any, value: str
) -> None:
    live, document = home(client)
    field = put(document, value)
    response = client.post(
        f"{BASE}/publish", headers=DESIGNER, json={"template": document, "message": "m"}
    )
    assert response.status_code == 422, response.text[:300]
    assert response.json()["error"]["field"] == field
    assert len(response.content) < 10_000  # the 300 KB value is not echoed back
    assert home(client)[0] == live
    checked = client.post(f"{BASE}/validate", headers=DESIGNER, json={"template": document})
    assert checked.json()["ok"] is False
    assert field in [p["field"] for p in checked.json()["problems"]]


def test_the_longest_identifier_publishes(client: TestClient) -> None:
    _, document = home(client)
    _experiment(document, "e" * 64)
    _category(document, "c" * 64)
    response = client.post(
        f"{BASE}/publish", headers=DESIGNER, json={"template": document, "message": "m"}
    )
    assert response.status_code == 201, response.text


@pytest.mark.parametrize(
    "name",
    [
        pytest.param("x" * 300_000, id="300KB"),
        pytest.param("VIP", id="uppercase"),
        pytest.param("high value", id="space"),
    ],
)
def test_a_segment_import_refuses_a_name_that_is_no_identifier(
    client: TestClient, name: str
) -> None:
    body = [{"user": "u1", "segments": ["rfm_high"]}, {"user": "u2", "segments": [name]}]
    response = client.put("/v1/admin/segments", headers=DESIGNER, json=body)
    assert response.status_code == 422, response.text[:300]
    assert response.json()["error"]["field"] == "[1].segments[0]"
    exported = client.get("/v1/me/data", headers=bearer("u1")).json()
    assert "rfm_high" not in str(exported)  # one bad line: nothing of the import is stored


def test_a_segment_import_refuses_a_user_with_more_segments_than_allowed(
    client: TestClient,
) -> None:
    many = [f"s{i}" for i in range(SEGMENTS_PER_USER_MAX + 1)]
    body = [{"user": "u1", "segments": ["rfm_high"]}, {"user": "u2", "segments": many}]
    response = client.put("/v1/admin/segments", headers=DESIGNER, json=body)
    assert response.status_code == 422, response.text[:300]
    assert response.json()["error"]["field"] == "[1].segments"
    assert f"at most {SEGMENTS_PER_USER_MAX} segments" in response.json()["error"]["message"]
    assert "rfm_high" not in str(client.get("/v1/me/data", headers=bearer("u1")).json())
    at_most = {"user": "u2", "segments": many[:-1]}
    assert client.put("/v1/admin/segments", headers=DESIGNER, json=[at_most]).status_code == 200


def test_a_persona_segment_that_is_no_identifier_is_422(client: TestClient) -> None:
    response = client.post(
        "/v1/admin/preview/home",
        headers=DESIGNER,
        json={"template": home(client)[1], "persona": {"segments": ["x" * 70_000]}},
    )
    assert response.status_code == 422, response.text[:300]
    assert response.json()["error"]["field"] == "persona.segments[0]"


# --------------------------------------------------------------------------- stored before


def _store_directly(directory: Path, experiment: str) -> str:
    """Publish a home version with `experiment` straight into the store, as a server from
    before the rule did; its version."""
    template = msgspec.structs.replace(shipped_templates()["home"], experiment=experiment)
    version = template_version(template)

    async def put() -> None:
        store = open_store("", directory)
        await store.open()
        try:
            await store.templates.publish(
                "home", version, template_to_json(template), "old", "before the rule", 1.0
            )
        finally:
            await store.close()

    asyncio.run(put())
    return version


def test_a_version_stored_before_the_rule_still_serves_and_lint_reports_it(
    tmp_path: Path,
) -> None:
    old = _store_directly(tmp_path, "Old Experiment Id")
    with TestClient(make_app(tmp_path)) as client:
        served = client.get("/v1/layouts/home", headers=bearer("u1"))
        assert served.status_code == 200, served.text
        assert served.json()["template_version"] == old
        listed = {r["page"]: r for r in client.get("/v1/admin/templates", headers=DESIGNER).json()}
        assert listed["home"]["lint"] == "failing"
        # Republishing it (a rollback) is refused by the same rule, naming the field.
        newer = client.post(
            f"{BASE}/publish",
            headers=DESIGNER,
            json={"template": {**home(client)[1], "experiment": "fixed"}, "message": "m"},
        )
        assert newer.status_code == 201, newer.text
        back = client.post(f"{BASE}/rollback", headers=DESIGNER, json={"version": old})
        assert back.status_code == 422
        assert back.json()["error"]["field"] == "experiment"
        assert (
            client.get(f"{BASE}/history", headers=DESIGNER).json()["versions"][1]["version"] == old
        )  # its history is kept


LONG_PAGE = "p" * 8_000


@pytest.mark.parametrize(
    "path",
    [
        # The routes of the last turn repeated the whole name (8,068-byte bodies).
        f"/v1/admin/experiments/{LONG_PAGE}",
        f"/v1/admin/telemetry/{LONG_PAGE}",
        f"/v1/admin/assessment/{LONG_PAGE}",
        f"/v1/admin/assessment/{LONG_PAGE}?format=md",
        f"/v1/admin/experiments/home?experiment={LONG_PAGE}",
        # Siblings that already cut it.
        f"/v1/admin/templates/{LONG_PAGE}",
        f"/v1/admin/templates/{LONG_PAGE}/rollout",
        f"/v1/admin/preview/{LONG_PAGE}",
        f"/v1/layouts/{LONG_PAGE}",
    ],
    ids=lambda path: path.replace(LONG_PAGE, "LONG"),
)
def test_a_long_page_name_is_not_repeated_whole(client: TestClient, path: str) -> None:
    """An 8,000-character page name is a 404 whose message names at most its first 64
    characters and its length (`users.ids.shown`), on every route that names a page."""
    response = client.get(path, headers=DESIGNER)
    assert response.status_code == 404, response.text[:200]
    assert len(response.content) < 400, (path[:40], len(response.content))
    assert "(8000 characters)" in response.json()["error"]["message"]


def test_the_console_assessment_phone_does_not_repeat_a_long_name(tmp_path: Path) -> None:
    from tests.helpers.app import log_in

    with TestClient(make_app(tmp_path), follow_redirects=False) as console:
        assert log_in(console).status_code == 303
        for path in ("assessment", "assessment/phone"):
            response = console.get(f"/designer/pages/{LONG_PAGE}/{path}")
            assert response.status_code == 404, (path, response.text[:200])
            assert LONG_PAGE[:100] not in response.text, path
