"""Large templates cost bounded work (issue 27, section 4): a template over the component limit
is refused at publish, validate and draft preview with a JSON 422 naming `components`; versions
stored before the limit still diff (structured changes, no quadratic text diff), and a stale
`If-Match` on them answers its 409 without building a text diff."""

from __future__ import annotations

import asyncio
import copy
import difflib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
from starlette.testclient import TestClient

from tests.helpers.app import bearer, make_app
from tests.helpers.engine import shipped_templates
from uiserver.catalog import template_to_json, template_version
from uiserver.lint.templates import MAX_COMPONENTS
from uiserver.schema import Template
from uiserver.store.factory import open_store

DESIGNER = bearer("dora", "designer")
BASE = "/v1/admin/templates/home"


def grown(template: dict[str, Any], count: int) -> dict[str, Any]:
    """`template` with its `deals`-like flow components repeated up to `count` components."""
    document = copy.deepcopy(template)
    flow = [c for c in document["components"] if not c.get("pinned")]
    extra = count - len(document["components"])
    for i in range(extra):
        component = copy.deepcopy(flow[i % len(flow)])
        component["id"] = f"extra_{i}"
        document["components"].insert(-1, component)
    return document


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(make_app(tmp_path)) as test_client:
        yield test_client


def live_template(client: TestClient) -> tuple[str, dict[str, Any]]:
    body = client.get(BASE, headers=DESIGNER).json()
    return str(body["live_version"]), body["template"]


@pytest.mark.parametrize(
    "count", [pytest.param(MAX_COMPONENTS + 1, id="one-over"), pytest.param(1_000, id="1000")]
)
def test_a_template_over_the_component_limit_is_422_naming_components(
    client: TestClient, count: int
) -> None:
    live, template = live_template(client)
    big = grown(template, count)
    published = client.post(
        f"{BASE}/publish", headers=DESIGNER, json={"template": big, "message": "m"}
    )
    assert published.status_code == 422, published.text[:300]
    assert published.json()["error"]["field"] == "components"
    assert [p["field"] for p in published.json()["problems"]] == ["components"]
    assert live_template(client)[0] == live
    checked = client.post(f"{BASE}/validate", headers=DESIGNER, json={"template": big})
    assert checked.json()["ok"] is False
    assert checked.json()["problems"][0]["field"] == "components"
    preview = client.post("/v1/admin/preview/home", headers=DESIGNER, json={"template": big})
    assert preview.status_code == 422 and preview.json()["error"]["field"] == "components"


# --------------------------------------------------------------------------- stored before


def template_document() -> dict[str, Any]:
    document: dict[str, Any] = msgspec.json.decode(template_to_json(shipped_templates()["home"]))
    return document


def _big_versions(directory: Path, count: int) -> tuple[str, str]:
    """Two `count`-component versions of home stored directly (as before the limit): the
    second moves every component; their versions."""
    first = grown(template_document(), count)
    second = copy.deepcopy(first)
    second["components"].reverse()
    second["title"] = "reversed"
    versions = []

    async def put() -> None:
        store = open_store("", directory)
        await store.open()
        try:
            for n, document in enumerate((first, second)):
                template = msgspec.convert(document, Template)
                version = template_version(template)
                versions.append(version)
                await store.templates.publish(
                    "home", version, template_to_json(template), "old", f"v{n}", 1.0 + n
                )
        finally:
            await store.close()

    asyncio.run(put())
    return versions[0], versions[1]


def test_5000_component_versions_stored_before_the_limit_diff_without_a_text_diff(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    old, new = _big_versions(tmp_path, 5_000)
    texts: list[int] = []
    real = difflib.unified_diff

    def counted(a: Any, b: Any, **kwargs: Any) -> Any:
        texts.append(len(a))
        return real(a, b, **kwargs)

    monkeypatch.setattr(difflib, "unified_diff", counted)
    with TestClient(make_app(tmp_path)) as client:
        # A stale base: the 409 names what changed since, without any text diff.
        stale = client.post(
            f"{BASE}/publish",
            headers={**DESIGNER, "If-Match": f'"{old}"'},
            json={"template": template_document(), "message": "m"},
        )
        assert stale.status_code == 409, stale.text[:300]
        assert stale.json()["live_version"] == new
        changes = stale.json()["changes"]
        assert sum(c["kind"] == "moved" for c in changes) == 4_999  # reversed: one stays
        assert texts == []
        diff = client.get(f"{BASE}/diff", params={"from": old, "to": new}, headers=DESIGNER)
        assert diff.status_code == 200
        assert diff.json()["unified"] == "" and diff.json()["unified_complete"] is False
        assert diff.json()["changes"] == changes
        assert texts == []
        shown = client.get(f"{BASE}/diff", params={"from": new, "to": new}, headers=DESIGNER)
        assert shown.json()["changes"] == []
