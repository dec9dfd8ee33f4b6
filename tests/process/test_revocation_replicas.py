"""Revocation and token lifetimes across real `uiserver serve` processes: a revocation made
through one replica is refused by another within a second (two replicas on a real Redis; two
SQLite workers on one file), and `--designer-token-max-lifetime` reaches every worker."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import jwt
import pytest

from tests.helpers.app import SECRET, token
from tests.helpers.processes import ServeProcess, two_replicas, wait_until

WITHIN_S = 1.0


def header(raw: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {raw}"}


def all_refused(client: httpx.Client, raw: str, tries: int = 8) -> bool:
    """Every one of `tries` requests is 401 token_revoked (with workers, any may answer)."""
    for _ in range(tries):
        response = client.get("/v1/me/settings", headers=header(raw))
        if response.status_code != 401 or response.json()["error"]["code"] != "token_revoked":
            return False
    return True


@pytest.mark.redis
def test_a_revocation_reaches_the_other_replica_within_a_second(
    redis_url: str, tmp_path: Path
) -> None:
    with two_replicas(redis_url, tmp_path) as (a, b):
        user, designer = token("u1"), token("dora", "designer")
        assert b.get("/v1/layouts/home", headers=header(user)).status_code == 200  # cached on B
        assert b.get("/v1/admin/templates", headers=header(designer)).status_code == 200
        admin = header(token("ada", "admin"))
        since = time.perf_counter()
        assert (
            a.post("/v1/admin/revocations", json={"subject": "u1"}, headers=admin).status_code
            == 201
        )
        refused, elapsed = wait_until(lambda: all_refused(b, user), since)
        assert refused and elapsed < WITHIN_S, elapsed
        jti = jwt.decode(designer, SECRET, algorithms=["HS256"])["jti"]
        since = time.perf_counter()
        assert a.post("/v1/admin/revocations", json={"jti": jti}, headers=admin).status_code == 201
        gone, elapsed = wait_until(
            lambda: b.get("/v1/admin/templates", headers=header(designer)).status_code == 401, since
        )
        assert gone and elapsed < WITHIN_S, elapsed


def test_sqlite_workers_share_revocations_and_the_lifetime_option(tmp_path: Path) -> None:
    replica = ServeProcess(
        tmp_path / "one", "", args=["--workers", "2", "--designer-token-max-lifetime", "10m"]
    )
    replica.start().wait_ready()
    try:
        with replica.client() as client:
            now = int(time.time())
            hour = jwt.encode(
                {"sub": "dora", "role": "designer", "iat": now, "exp": now + 3_600}, SECRET
            )
            for _ in range(8):  # both workers read the option
                refused = client.get("/v1/admin/templates", headers=header(hour))
                assert refused.status_code == 401
                assert refused.json()["error"]["code"] == "token_lifetime"
            short = token("dora", "designer", ttl=300)
            assert client.get("/v1/admin/templates", headers=header(short)).status_code == 200
            user = token("u1")
            for _ in range(8):  # both workers have verified (and cached) it
                assert client.get("/v1/me/settings", headers=header(user)).status_code == 200
            admin = header(token("ada", "admin", ttl=300))
            since = time.perf_counter()
            revoked = client.post("/v1/admin/revocations", json={"subject": "u1"}, headers=admin)
            assert revoked.status_code == 201
            refused_all, elapsed = wait_until(lambda: all_refused(client, user), since)
            assert refused_all and elapsed < WITHIN_S, elapsed
    finally:
        replica.stop()
