"""The audit log through the real app, on SQLite and on a real Redis: every administrative act
leaves one entry naming its operator (publish, rollback, each rollout step 10% -> 50% ->
promote, abort, archive, segment import, token revocation, drafts, erasure); the entries never
name an end user; `GET /v1/admin/audit` pages and filters them, and refuses bad parameters
with a 400 naming the parameter."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.api.test_admin_routes import live_template, relabelled
from tests.helpers.app import ROOT, bearer, make_app

DESIGNER = bearer("dora", "designer")
ADMIN = bearer("ada", "admin")
SECRET_USER = "user-7f3a-private"


@pytest.fixture(params=["sqlite", pytest.param("redis", marks=pytest.mark.redis)])
def client(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[TestClient]:
    url = str(request.getfixturevalue("redis_url")) if request.param == "redis" else ""
    with TestClient(make_app(tmp_path, store_url=url)) as test_client:
        yield test_client


def audit(client: TestClient, query: str = "", headers: dict[str, str] = DESIGNER) -> Any:
    response = client.get(f"/v1/admin/audit{query}", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def publish(client: TestClient, template: dict[str, Any], **extra: Any) -> Any:
    body = {"template": template, "message": "bigger label", **extra}
    return ok(client.post("/v1/admin/templates/home/publish", json=body, headers=DESIGNER), 201)


def test_every_rollout_step_names_who_took_it(client: TestClient) -> None:
    first, template = live_template(client)
    second = publish(client, relabelled(template, "Staged"), rollout=10)["version"]
    admin_post = {"headers": ADMIN}
    ok(client.post("/v1/admin/templates/home/rollout", json={"percent": 50}, **admin_post))
    ok(client.post("/v1/admin/templates/home/promote", headers=DESIGNER))
    third = publish(client, relabelled(template, "Again"), rollout=20)["version"]
    ok(client.post("/v1/admin/templates/home/abort", headers=ADMIN))
    ok(
        client.post("/v1/admin/templates/home/rollback", json={"version": first}, headers=ADMIN),
        201,
    )
    ok(client.delete("/v1/admin/templates/home", headers=DESIGNER))

    entries = audit(client, "?page=home")["entries"][::-1]
    acts = [(e["act"], e["actor"]) for e in entries]
    assert acts[-7:] == [
        ("template.publish", "dora"),
        ("rollout.set", "ada"),
        ("rollout.promote", "dora"),
        ("template.publish", "dora"),
        ("rollout.abort", "ada"),
        ("template.rollback", "ada"),
        ("template.archive", "dora"),
    ]
    staged, widened, promoted, _, aborted, rolled_back, archived = entries[-7:]
    assert staged["before"]["version"] == first
    assert staged["after"]["rollout"] == {"version": second, "previous": first, "percent": 10}
    assert staged["details"]["message"] == "bigger label"
    assert staged["details"]["diff"]["changed"] == 1
    assert staged["details"]["diff"]["fields"] == [
        f"components[{template['components'][1]['id']}].label"
    ]
    assert (widened["before"]["rollout"]["percent"], widened["after"]["rollout"]["percent"]) == (
        10,
        50,
    )
    assert promoted["before"]["rollout"]["percent"] == 50
    assert promoted["after"]["rollout"] is None and promoted["after"]["version"] == second
    assert aborted["before"]["rollout"]["version"] == third
    assert aborted["after"]["version"] == second and aborted["details"]["diff"]["changed"] == 1
    assert rolled_back["before"]["version"] == second
    assert rolled_back["after"]["version"] == first
    assert archived["after"]["archived"] is True
    ids = [e["id"] for e in entries]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)


def test_a_publish_that_changes_nothing_and_a_second_archive_leave_no_entry(
    client: TestClient,
) -> None:
    _, template = live_template(client)
    before = len(audit(client)["entries"])
    ok(
        client.post(
            "/v1/admin/templates/home/publish",
            json={"template": template, "message": "same"},
            headers=DESIGNER,
        ),
        201,
    )
    assert len(audit(client)["entries"]) == before
    ok(client.delete("/v1/admin/templates/home", headers=DESIGNER))
    ok(client.delete("/v1/admin/templates/home", headers=DESIGNER))
    assert [e["act"] for e in audit(client)["entries"]].count("template.archive") == 1


def test_user_acts_are_counts_and_never_name_the_user(client: TestClient) -> None:
    lines = "\n".join(
        json.dumps({"user": f"{SECRET_USER}-{i}", "segments": ["churn_risk"]}) for i in range(3)
    )
    ok(
        client.put(
            "/v1/admin/segments",
            content=lines,
            headers={**DESIGNER, "Content-Type": "application/x-ndjson"},
        )
    )
    ok(client.delete("/v1/me", headers=bearer(SECRET_USER, "user")))
    revoked = {"subject": SECRET_USER}
    ok(client.post("/v1/admin/revocations", json=revoked, headers=ADMIN), 201)
    ok(client.post("/v1/admin/revocations", json={"jti": "tok-1"}, headers=ADMIN), 201)

    entries = audit(client, "?limit=4")["entries"]
    assert [(e["act"], e["actor"]) for e in entries] == [
        ("token.revoke", "ada"),
        ("token.revoke", "ada"),
        ("user.erase", "user"),
        ("segments.import", "dora"),
    ]
    assert entries[3]["details"]["users"] == 3
    assert entries[2]["details"] == {"users": 1}
    assert entries[1]["details"]["kind"] == "subject"
    assert entries[0]["details"]["jti"] == "tok-1"
    assert SECRET_USER not in json.dumps(audit(client, "?limit=200"))


def test_drafts_started_and_discarded(client: TestClient) -> None:
    for text in ("{", "{}", "{ }"):  # saved as the designer types: one entry
        ok(client.put("/v1/admin/drafts/home", json={"text": text}, headers=DESIGNER))
    ok(client.delete("/v1/admin/drafts/home", headers=DESIGNER))
    acts = [e["act"] for e in audit(client, "?actor=dora&page=home")["entries"]]
    assert acts[:2] == ["draft.discard", "draft.create"]
    assert acts.count("draft.create") == 1


def test_paging_and_filters(client: TestClient) -> None:
    _, template = live_template(client)
    for label in ("A", "B", "C"):
        publish(client, relabelled(template, label))
    everything = audit(client, "?act=template.publish")["entries"]
    first = audit(client, "?act=template.publish&limit=2")
    assert first["entries"] == everything[:2]
    rest = audit(client, f"?act=template.publish&limit=2&before={first['next']}")
    assert rest["entries"] == everything[2:4]
    newest = everything[0]["time"]
    assert audit(client, f"?since={newest + 1}")["entries"] == []
    assert audit(client, "?since=2000-01-01&until=2000-01-02")["entries"] == []
    # The README's zone, typed into a URL as is: its "+" arrives as a space (was a 400).
    assert audit(client, "?until=2000-01-02T10:00:00+08:00")["entries"] == []
    since = "?act=template.publish&since=2000-01-02T10:00:00+08:00"
    assert audit(client, since)["entries"] == everything
    assert audit(client, "?until=2000-01-02 10:00")["entries"] == []  # a space before a time
    assert audit(client, "?actor=nobody")["entries"] == []
    assert audit(client, "?page=home&actor=dora&since=&limit=1")["entries"] == everything[:1]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("?limit=0", "limit"),
        ("?limit=201", "limit"),
        ("?limit=ten", "limit"),
        ("?before=-3", "before"),
        ("?since=yesterday", "since"),
        ("?since=1e400", "since"),
        ("?since=10&until=5", "until"),
        ("?page=" + "x" * 201, "page"),
        ("?act=a%0Ab", "act"),
        ("?pgae=home", "pgae"),
        # More digits than int() reads (were a 500).
        pytest.param("?before=" + "9" * 5000, "before", id="before-5000-digits"),
        pytest.param("?limit=" + "1" * 5000, "limit", id="limit-5000-digits"),
    ],
)
def test_bad_parameters_are_400_naming_them(client: TestClient, query: str, field: str) -> None:
    response = client.get(f"/v1/admin/audit{query}", headers=DESIGNER)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["field"] == field
    assert response.json()["error"]["code"] == "bad_request"


def test_roles(client: TestClient) -> None:
    assert client.get("/v1/admin/audit").status_code == 401
    assert client.get("/v1/admin/audit", headers=bearer("u1")).status_code == 403
    assert client.get("/v1/admin/audit", headers=ADMIN).status_code == 200


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("redis", marks=pytest.mark.redis)])
def test_a_changed_policy_is_recorded_at_start(
    tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> None:
    url = str(request.getfixturevalue("redis_url")) if backend == "redis" else ""

    def policy_entries(**overrides: object) -> list[Any]:
        with TestClient(make_app(tmp_path / "data", store_url=url, **overrides)) as client:
            return audit(client, "?act=policy.change")["entries"]  # type: ignore[no-any-return]

    (first,) = policy_entries()
    assert first["actor"] == "server" and first["before"] is None
    assert first["after"]["max_change"] == 0.4
    assert "shipped" in first["details"]["source"]
    assert len(policy_entries()) == 1  # the same policy again: nothing new
    stricter = json.loads((ROOT / "uiserver" / "policy.json").read_text())
    stricter["max_change"] = 0.3
    path = tmp_path / "policy.json"
    path.write_text(json.dumps(stricter))
    changed, _ = policy_entries(policy_path=path)
    assert changed["before"]["max_change"] == 0.4 and changed["after"]["max_change"] == 0.3
    assert changed["details"]["diff"]["fields"] == ["max_change"]
    assert changed["details"]["source"] == str(path)


def test_a_revocation_from_the_shell_is_recorded(client: TestClient, tmp_path: Path) -> None:
    from tests.api.test_revocations import cli

    store = client.app.service.config.store_url  # type: ignore[attr-defined]
    done = cli("revoke", "--jti", "tok-9", "--author", "ops", data_dir=tmp_path, store=store)
    assert done.returncode == 0, done.stderr
    done = cli("revoke", SECRET_USER, data_dir=tmp_path, store=store)
    assert done.returncode == 0, done.stderr
    newest, jti = audit(client, "?act=token.revoke")["entries"][:2]
    assert (jti["actor"], jti["details"]["jti"], jti["details"]["kind"]) == ("ops", "tok-9", "jti")
    assert newest["details"]["kind"] == "subject" and SECRET_USER not in json.dumps(newest)


@pytest.mark.parametrize("value", ["\u0661\u0662\u0663", "1_000", "\uff11\uff12\uff13"])
def test_audit_times_are_ascii_numbers_or_iso(client: TestClient, value: str) -> None:
    """`since` and `until` as Unix seconds are ASCII digits (float() read '١٢٣' and '1_000');
    an ISO 8601 time stays accepted."""
    for name in ("since", "until"):
        response = client.get("/v1/admin/audit", params={name: value}, headers=DESIGNER)
        assert response.status_code == 400, response.text[:200]
        assert response.json()["error"]["field"] == name
    for good in ("1796248000.5", "2026-12-02T10:00:00+08:00"):
        assert (
            client.get("/v1/admin/audit", params={"since": good}, headers=DESIGNER).status_code
            == 200
        )
