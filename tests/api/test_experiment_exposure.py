"""Exposure and conversion through the real app, on SQLite and a real Redis (issue 20 sections
3 and 4): a convert right after a first launch counts (also posted to another replica), one
dated before the first exposure does not, users moved by a weight edit are exposed to both
variants, per-cohort rows, and the readout's cache follows new data.

The recorder's interval is an hour here: exposure markers are written only by an explicit
flush, as a second later in production, so every convert arrives before its marker.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.helpers.app import ELDERLY, bearer, make_app

DESIGNER = bearer("ann", "designer")
DAY_S = 86_400


class Replicas:
    """Two apps on the same store (one SQLite file, or one Redis)."""

    def __init__(self, a: TestClient, b: TestClient) -> None:
        self.a, self.b = a, b

    def flush(self) -> None:
        for client in (self.a, self.b):
            service = client.app.service  # type: ignore[attr-defined]
            client.portal.call(service.recorder.flush)  # type: ignore[union-attr]


@pytest.fixture(params=["sqlite", pytest.param("redis", marks=pytest.mark.redis)])
def replicas(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Replicas]:
    url = request.getfixturevalue("redis_url") if request.param == "redis" else ""
    with ExitStack() as stack:
        a, b = (
            stack.enter_context(
                TestClient(make_app(tmp_path / "data", store_url=url, activity_flush_s=3600.0))
            )
            for _ in range(2)
        )
        yield Replicas(a, b)


def readout(client: TestClient, page: str = "home") -> dict[str, Any]:
    response = client.get(f"/v1/admin/experiments/{page}", headers=DESIGNER)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def launch(client: TestClient, user: str) -> str:
    response = client.get("/v1/layouts/home", headers=bearer(user))
    assert response.status_code == 200, response.text
    variant: str = response.json()["variant"]
    return variant


def convert(client: TestClient, user: str, ts: float | None = None, value: float = 10.0) -> None:
    event: dict[str, Any] = {"page": "home", "component": "coupons", "kind": "convert"}
    event["value"] = value
    if ts is not None:
        event["ts"] = ts
    response = client.post("/v1/me/events", headers=bearer(user), json={"events": [event]})
    assert response.status_code == 202, response.text


def by_name(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {v["name"]: v for v in body["variants"]}


# ------------------------------------------------------------ a convert right after launch


@pytest.mark.parametrize("cross", [False, True], ids=["same-replica", "other-replica"])
def test_a_convert_just_after_a_first_launch_counts(replicas: Replicas, cross: bool) -> None:
    served: dict[str, int] = {}
    for n in range(20):
        user = f"new{n}"
        variant = launch(replicas.a, user)
        served[variant] = served.get(variant, 0) + 1
        convert(replicas.b if cross else replicas.a, user, time.time() + 0.2)
    replicas.flush()  # the recorder's write, a second later in production
    body = readout(replicas.b)
    rows = by_name(body)
    for name, row in rows.items():
        assert row["exposed_users"] == served.get(name, 0)
        assert row["conversions"] == served.get(name, 0), row
        assert row["convert_events"] == served.get(name, 0)
    assert sum(row["value"] for row in rows.values()) == 200
    assert body["exposure_counting"] == "exact"
    assert all(row["exposure_counting"] == "exact" for row in rows.values())


def test_a_convert_without_ts_before_the_marker_counts(replicas: Replicas) -> None:
    launch(replicas.a, "plain")
    convert(replicas.a, "plain")  # no ts: the server's time
    replicas.flush()
    assert sum(v["conversions"] for v in readout(replicas.a)["variants"]) == 1


# ------------------------------------------------------------ before the first exposure


@pytest.mark.parametrize(
    "before", [3 * DAY_S, 3_600, 600], ids=["three-days", "an-hour", "ten-minutes"]
)
@pytest.mark.parametrize("flushed", [False, True], ids=["marker-pending", "marker-written"])
def test_a_convert_dated_before_the_first_exposure_does_not_count(
    replicas: Replicas, before: int, flushed: bool
) -> None:
    launch(replicas.a, "early")
    if flushed:
        replicas.flush()
    convert(replicas.a, "early", time.time() - before)
    replicas.flush()
    body = readout(replicas.a)
    assert sum(v["conversions"] for v in body["variants"]) == 0
    assert sum(v["convert_events"] for v in body["variants"]) == 0
    assert sum(v["value"] for v in body["variants"]) == 0
    today = time.strftime("%Y-%m-%d", time.gmtime())
    assert body["date_range"] == {"from": today, "to": today}
    assert body["ignored_conversions"]["before_exposure"] == 1
    assert any("before the user's first exposure" in note for note in body["notes"])


# ------------------------------------------------------------ moved by a weight edit


def publish_weights(client: TestClient, weights: dict[str, int]) -> None:
    current = client.get("/v1/admin/templates/home", headers=DESIGNER).json()
    template = current["template"]
    for variant in template["variants"]:
        variant["weight"] = weights[variant["name"]]
    response = client.post(
        "/v1/admin/templates/home/publish",
        json={"template": template, "message": "reweigh"},
        headers=DESIGNER,
    )
    assert response.status_code == 201, response.text


def test_users_moved_by_a_same_day_weight_edit_are_exposed_to_both(replicas: Replicas) -> None:
    users = [f"mv{n}" for n in range(40)]
    before = {u: launch(replicas.a, u) for u in users}
    replicas.flush()
    publish_weights(replicas.a, {"control": 10, "deals_first": 90})
    after = {u: launch(replicas.a, u) for u in users}
    moved = [u for u in users if before[u] != after[u]]
    assert moved, "the edit moved nobody: pick other weights"
    for u in moved:
        convert(replicas.a, u)  # after both exposures: counts for both variants
    replicas.flush()
    body = readout(replicas.b)
    rows = by_name(body)
    for name, row in rows.items():
        exposed = {u for u in users if name in (before[u], after[u])}
        assert row["exposed_users"] == len(exposed), (name, row)
        assert row["conversions"] == len(set(moved) & exposed)
        assert row["multiple_exposures"] == len(moved)
    assert body["multiple_exposures"] == len(moved)
    assert "before" in body["attribution"] and "each variant" in body["attribution"]
    assert any("more than one variant" in note for note in body["notes"])


# ------------------------------------------------------------ cohorts


def make_returning(client: TestClient, user: str) -> None:
    """A user first active 30 days ago (their counters, as the store keeps them)."""
    service = client.app.service  # type: ignore[attr-defined]
    old_day = int(time.time() // DAY_S) - 30
    client.portal.call(  # type: ignore[union-attr]
        service.store.activity.record_activity, {user: (old_day, 1, 0)}, []
    )


def test_cohort_rows_split_elderly_and_new_users(replicas: Replicas) -> None:
    client = replicas.a
    served: dict[tuple[str, str], dict[str, int]] = {}
    for n in range(24):
        user = f"co{n}"
        elderly, returning = n % 2 == 0, n % 3 == 0
        if elderly:
            put = client.put("/v1/me/settings", json=ELDERLY, headers=bearer(user))
            assert put.status_code == 200, put.text
        if returning:
            make_returning(client, user)
        variant = launch(client, user)
        for key in (
            ("mode", "elderly" if elderly else "standard"),
            ("stage", "returning" if returning else "new"),
        ):
            cell = served.setdefault(key, {})
            cell[variant] = cell.get(variant, 0) + 1
        if n % 4 == 0:
            convert(client, user)
    replicas.flush()
    body = readout(replicas.b)
    rows = {(row["dimension"], row["cohort"]): row for row in body["cohorts"]}
    assert set(rows) == {
        ("mode", "elderly"),
        ("mode", "standard"),
        ("stage", "new"),
        ("stage", "returning"),
    }
    for key, row in rows.items():
        found = {v["name"]: v["exposed_users"] for v in row["variants"]}
        assert {k: v for k, v in found.items() if v} == served[key], key
        assert row["exposed_users"] == sum(served[key].values())
    elderly = rows["mode", "elderly"]
    assert sum(v["conversions"] for v in elderly["variants"]) == 6  # n = 0, 4, 8, ... 20
    assert sum(v["conversions"] for v in rows["mode", "standard"]["variants"]) == 0


def test_console_shows_the_cohort_rows(replicas: Replicas) -> None:
    from tests.helpers.app import log_in

    client = replicas.a
    for n in range(6):
        launch(client, f"cc{n}")
    replicas.flush()
    assert log_in(client).status_code == 200
    html = client.get("/designer/segments").text
    assert "By cohort" in html
    for cohort in ("elderly", "standard", "new", "returning"):
        assert f">{cohort}<" in html


# ------------------------------------------------------------ cache until new data


def test_the_readout_follows_new_data_on_every_replica(replicas: Replicas) -> None:
    launch(replicas.a, "c1")
    replicas.flush()
    first = readout(replicas.b)
    assert first == readout(replicas.b)  # cached: the same answer
    launch(replicas.a, "c2")
    replicas.flush()
    second = readout(replicas.b)
    assert sum(v["exposed_users"] for v in second["variants"]) == 2
    convert(replicas.a, "c2")
    third = readout(replicas.b)
    assert sum(v["conversions"] for v in third["variants"]) == 1
