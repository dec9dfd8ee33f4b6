"""Inputs of the identity kind: a bad token says why in a client developer's
words, never "not a well-formed JWT" for a well-formed token with a claim the server refuses."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import jwt
import pytest
from starlette.testclient import TestClient

from tests.helpers.app import SECRET, make_app


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(make_app(tmp_path), raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        ({"aud": "shop"}, "'aud'"),
        ({"aud": ["a", "b"]}, "'aud'"),
        ({"jti": {}}, "'jti'"),
        ({"jti": 5}, "'jti'"),
    ],
)
def test_refused_claims_are_named(client: TestClient, extra: dict[str, object], words: str) -> None:
    claims = {"sub": "ana", "exp": int(time.time()) + 600, **extra}
    header = {"Authorization": "Bearer " + jwt.encode(claims, SECRET, algorithm="HS256")}
    for path in ("/v1/me/settings", "/v1/layouts/home"):
        response = client.get(path, headers=header)
        assert response.status_code == 401, response.text
        error = response.json()["error"]
        assert error["code"] == "bad_token"
        assert words in error["message"] and "well-formed" not in error["message"]


@pytest.mark.parametrize("exp", [True, False], ids=["exp-true", "exp-false"])
def test_a_boolean_exp_is_a_bad_token_not_an_expired_one(client: TestClient, exp: bool) -> None:
    # PyJWT reads `true` as 1 (1970) and calls the token expired; it is malformed instead.
    claims = {"sub": "ana", "exp": exp}
    header = {"Authorization": "Bearer " + jwt.encode(claims, SECRET, algorithm="HS256")}
    for path in ("/v1/me/settings", "/v1/layouts/home"):
        response = client.get(path, headers=header)
        assert response.status_code == 401, response.text
        assert response.json()["error"]["code"] == "bad_token"
        assert "'exp'" in response.json()["error"]["message"]


def test_a_really_expired_token_still_says_expired(client: TestClient) -> None:
    claims = {"sub": "ana", "exp": int(time.time()) - 3_600}
    header = {"Authorization": "Bearer " + jwt.encode(claims, SECRET, algorithm="HS256")}
    response = client.get("/v1/me/settings", headers=header)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "token_expired"


@pytest.mark.parametrize(
    "nbf",
    [True, False, "1", str(int(time.time()) - 60), -(10**400)],
    ids=["nbf-true", "nbf-false", "nbf-string", "nbf-numeric-string", "nbf-huge-negative"],
)
def test_a_malformed_nbf_is_a_bad_token_as_exp_and_iat_are(client: TestClient, nbf: object) -> None:
    # PyJWT reads `true` as 1 and "1" as 1 (`int(...)`), so such a token was accepted, while
    # the same values in `exp` or `iat` are refused as malformed.
    claims = {"sub": "ana", "exp": int(time.time()) + 600, "nbf": nbf}
    header = {"Authorization": "Bearer " + jwt.encode(claims, SECRET, algorithm="HS256")}
    for path in ("/v1/me/settings", "/v1/layouts/home"):
        response = client.get(path, headers=header)
        assert response.status_code == 401, response.text
        error = response.json()["error"]
        assert error["code"] == "bad_token" and "'nbf'" in error["message"]


def test_a_numeric_nbf_in_the_past_is_still_accepted(client: TestClient) -> None:
    now = int(time.time())
    for nbf in (now - 60, now - 0.5):
        claims = {"sub": "ana", "exp": now + 600, "nbf": nbf}
        header = {"Authorization": "Bearer " + jwt.encode(claims, SECRET, algorithm="HS256")}
        assert client.get("/v1/me/settings", headers=header).status_code == 200


@pytest.mark.parametrize(
    "jti", ["a\nb", "a\x00b", "id\u2028", "\x7f"], ids=["newline", "nul", "line-sep", "del"]
)
def test_a_jti_no_revocation_could_name_is_refused(client: TestClient, jti: str) -> None:
    # `POST /v1/admin/revocations` takes 1-256 printable characters: a token whose `jti` has a
    # control character was accepted and could never be revoked by its id.
    claims = {"sub": "ana", "exp": int(time.time()) + 600, "jti": jti}
    header = {"Authorization": "Bearer " + jwt.encode(claims, SECRET, algorithm="HS256")}
    for path in ("/v1/me/settings", "/v1/layouts/home"):
        response = client.get(path, headers=header)
        assert response.status_code == 401, response.text
        error = response.json()["error"]
        assert error["code"] == "bad_token" and "'jti'" in error["message"]
