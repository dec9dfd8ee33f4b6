"""Revocation of tokens, through the real app: `POST /v1/admin/revocations` (role admin) by
subject or by `jti`; the next request with a revoked token is 401 `token_revoked`, on this
replica and within a second on another one sharing the store (SQLite file, real Redis), cached
tokens included; console sessions opened with such a token end; tokens minted after a subject's
revocation work; `uiserver token revoke` does the same from a shell."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import jwt
import pytest
from starlette.testclient import TestClient

from tests.helpers.app import ROOT, SECRET, bearer, log_in, make_app, token

UISERVER = [sys.executable, "-m", "uiserver.cli"]
ADMIN = bearer("ada", "admin")
WITHIN_S = 1.0  # the bound for every replica to refuse a revoked token


@pytest.fixture(params=["sqlite", pytest.param("redis", marks=pytest.mark.redis)])
def store_url(request: pytest.FixtureRequest) -> str:
    return str(request.getfixturevalue("redis_url")) if request.param == "redis" else ""


@pytest.fixture
def replicas(tmp_path: Path, store_url: str) -> Iterator[tuple[TestClient, TestClient]]:
    """Two apps on the same store (the same SQLite file, or the same Redis)."""
    with (
        TestClient(make_app(tmp_path, store_url=store_url), follow_redirects=False) as one,
        TestClient(make_app(tmp_path, store_url=store_url), follow_redirects=False) as two,
    ):
        yield one, two


def status_within(client: TestClient, path: str, headers: dict[str, str], status: int) -> int:
    """The status of `GET path` once it is `status`, or the last one after WITHIN_S."""
    deadline = time.monotonic() + WITHIN_S
    while True:
        got: int = client.get(path, headers=headers).status_code
        if got == status or time.monotonic() > deadline:
            return got
        time.sleep(0.01)


def revoke(
    client: TestClient, body: dict[str, str], headers: dict[str, str] = ADMIN
) -> httpx.Response:
    response: httpx.Response = client.post("/v1/admin/revocations", json=body, headers=headers)
    return response


def jti_of(raw: str) -> str:
    return str(jwt.decode(raw, SECRET, algorithms=["HS256"])["jti"])


def test_revoking_a_subject_refuses_its_tokens_on_every_replica(
    replicas: tuple[TestClient, TestClient],
) -> None:
    one, two = replicas
    user = {"Authorization": f"Bearer {token('u1')}"}
    designer = {"Authorization": f"Bearer {token('dora', 'designer')}"}
    other = {"Authorization": f"Bearer {token('u2')}"}
    for client in (one, two):  # warm: the verified tokens are cached on both replicas
        assert client.get("/v1/layouts/home", headers=user).status_code == 200
        assert client.get("/v1/admin/templates", headers=designer).status_code == 200
    for subject in ("u1", "dora"):
        response = revoke(one, {"subject": subject})
        assert response.status_code == 201, response.text
        body = response.json()
        assert body["kind"] == "subject" and body["subject"] == subject and body["author"] == "ada"
        assert body["not_before"] <= time.time() < body["expires"]
    for client in (one, two):
        for path, headers in (
            ("/v1/layouts/home", user),
            ("/v1/me/settings", user),
            ("/v1/admin/templates", designer),
        ):
            assert status_within(client, path, headers, 401) == 401, path
            error = client.get(path, headers=headers).json()["error"]
            assert error["code"] == "token_revoked" and "revoked" in error["message"]
        assert client.get("/v1/layouts/home", headers=other).status_code == 200  # others unaffected
    time.sleep(1.05)  # iat is whole seconds: a token minted in a later second than the revocation
    fresh = {"Authorization": f"Bearer {token('u1')}"}
    assert two.get("/v1/me/settings", headers=fresh).status_code == 200


def test_revoking_a_jti_refuses_that_token_only(replicas: tuple[TestClient, TestClient]) -> None:
    one, two = replicas
    first, second = token("u1"), token("u1")
    for raw in (first, second):
        assert (
            two.get("/v1/layouts/home", headers={"Authorization": f"Bearer {raw}"}).status_code
            == 200
        )
    response = revoke(one, {"jti": jti_of(first)})
    assert response.status_code == 201 and response.json()["jti"] == jti_of(first)
    revoked = {"Authorization": f"Bearer {first}"}
    assert status_within(two, "/v1/layouts/home", revoked, 401) == 401
    assert one.get("/v1/me/settings", headers=revoked).json()["error"]["code"] == "token_revoked"
    assert (
        two.get("/v1/layouts/home", headers={"Authorization": f"Bearer {second}"}).status_code
        == 200
    )
    listed = one.get("/v1/admin/revocations", headers=ADMIN)
    assert listed.status_code == 200
    assert [r["jti"] for r in listed.json()["revocations"]] == [jti_of(first)]


def test_a_revoked_designer_loses_the_console_session(
    replicas: tuple[TestClient, TestClient],
) -> None:
    one, two = replicas
    assert log_in(one).status_code == 303
    assert one.get("/designer/").status_code == 200
    assert revoke(two, {"subject": "dora"}).status_code == 201
    deadline = time.monotonic() + WITHIN_S
    page = one.get("/designer/")
    while page.status_code == 200 and time.monotonic() < deadline:
        time.sleep(0.01)
        page = one.get("/designer/")
    assert page.status_code == 401 and "revoked" in page.text
    # The session is gone from the store (the cookie was cleared too; a copy opens nothing).
    assert one.get("/designer/").status_code == 303
    assert one.get("/designer/api/v1/admin/templates").status_code == 401


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        pytest.param({}, 401, id="anonymous"),
        pytest.param(bearer("u1"), 403, id="user"),
        pytest.param(bearer("dora", "designer"), 403, id="designer"),
    ],
)
def test_only_an_admin_revokes(
    replicas: tuple[TestClient, TestClient], headers: dict[str, str], status: int
) -> None:
    one, _ = replicas
    assert revoke(one, {"subject": "u1"}, headers).status_code == status
    assert one.get("/v1/admin/revocations", headers=headers).status_code == status
    assert one.get("/v1/me/settings", headers=bearer("u1")).status_code == 200


@pytest.mark.parametrize(
    ("body", "field"),
    [
        pytest.param({}, "subject", id="nothing"),
        pytest.param({"subject": "u1", "jti": "x"}, "subject", id="both"),
        pytest.param({"subject": ""}, "subject", id="empty-subject"),
        pytest.param({"subject": "\u200b"}, "subject", id="blank-subject"),
        pytest.param({"subject": "u" * 129}, "subject", id="long-subject"),
        pytest.param({"jti": ""}, "jti", id="empty-jti"),
        pytest.param({"jti": "x" * 257}, "jti", id="long-jti"),
        pytest.param({"jti": "a\nb"}, "jti", id="jti-newline"),
        pytest.param({"subject": 5}, "subject", id="subject-number"),
        pytest.param({"user": "u1"}, "user", id="unknown-field"),
    ],
)
def test_bad_revocations_are_422_and_revoke_nothing(
    replicas: tuple[TestClient, TestClient], body: dict[str, object], field: str
) -> None:
    one, _ = replicas
    response = one.post("/v1/admin/revocations", json=body, headers=ADMIN)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["field"] == field
    assert one.get("/v1/admin/revocations", headers=ADMIN).json() == {"revocations": []}
    malformed = one.post("/v1/admin/revocations", content=b"{", headers=ADMIN)
    assert malformed.status_code == 400


def test_erasing_a_user_does_not_revoke_their_token(
    replicas: tuple[TestClient, TestClient],
) -> None:
    # Erasure is about data, not identity: the next request is a new start (README).
    one, two = replicas
    header = bearer("u1")
    assert one.delete("/v1/me", headers=header).status_code == 200
    assert two.get("/v1/me/settings", headers=header).status_code == 200


def cli(*args: str, data_dir: Path | None, store: str = "") -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("UISERVER_")}
    env["UISERVER_JWT_SECRET"] = SECRET
    env["PYTHONPATH"] = str(ROOT)
    argv = [*UISERVER, "token", *args]
    if data_dir is not None:
        argv += ["--data-dir", str(data_dir)]
    if store:
        argv += ["--store", store]
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60, check=False)


def test_the_cli_revokes_on_the_servers_store(
    replicas: tuple[TestClient, TestClient], tmp_path: Path, store_url: str
) -> None:
    one, two = replicas
    raw = token("u1")
    other = token("u2")
    for client in (one, two):
        assert (
            client.get("/v1/layouts/home", headers={"Authorization": f"Bearer {raw}"}).status_code
            == 200
        )
    done = cli("revoke", "--jti", jti_of(other), data_dir=tmp_path, store=store_url)
    assert done.returncode == 0, done.stderr
    done = cli("revoke", "u1", data_dir=tmp_path, store=store_url)
    assert done.returncode == 0, done.stderr
    assert '"subject": "u1"' in done.stdout
    for client, raw_token in ((one, raw), (two, raw), (one, other), (two, other)):
        headers = {"Authorization": f"Bearer {raw_token}"}
        assert status_within(client, "/v1/layouts/home", headers, 401) == 401
    bad = cli("revoke", data_dir=tmp_path, store=store_url)
    assert bad.returncode == 2 and "exactly one" in bad.stderr


def test_the_cli_mints_jti_and_iat_and_refuses_a_ttl_past_the_maximum(tmp_path: Path) -> None:
    done = cli("dora", "--role", "designer", data_dir=tmp_path)
    assert done.returncode == 0, done.stderr
    claims = jwt.decode(done.stdout.strip(), SECRET, algorithms=["HS256"])
    assert claims["exp"] - claims["iat"] == 12 * 3_600 and len(claims["jti"]) == 36
    user = jwt.decode(
        cli("u1", "--ttl", "600", data_dir=tmp_path).stdout.strip(), SECRET, algorithms=["HS256"]
    )
    assert user["exp"] - user["iat"] == 600 and user["jti"] != claims["jti"]
    too_long = cli("dora", "--role", "admin", "--ttl", "86400", data_dir=tmp_path)
    assert too_long.returncode == 2 and "43200" in too_long.stderr and not too_long.stdout
    # A user literally named "revoke" still gets a token.
    named = cli("--data-dir", str(tmp_path), "--", "revoke", data_dir=None)
    assert (
        named.returncode == 0
        and jwt.decode(named.stdout.strip(), SECRET, algorithms=["HS256"])["sub"] == "revoke"
    )


def test_the_cli_refuses_to_revoke_where_no_server_looks(tmp_path: Path) -> None:
    # A mistyped --data-dir made a new, empty store there and revoked into it (exit 0): no
    # server ever read it. A --store that is not a store URL was a traceback.
    typo = tmp_path / "dta"
    done = cli("revoke", "u1", data_dir=typo)
    assert done.returncode == 2 and "no store in" in done.stderr and not done.stdout
    assert not (typo / "uiserver.db").exists()
    for store in ("bogus://x", "redis+sentinel://x"):
        bad = cli("revoke", "u1", data_dir=tmp_path, store=store)
        assert bad.returncode == 2 and "Traceback" not in bad.stderr, bad.stderr
        assert store in bad.stderr
