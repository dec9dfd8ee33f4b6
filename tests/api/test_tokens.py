"""Identity at the edge: what a token's claims may be, on every route and
both stores; the clock-skew leeway; plain-words reasons; one user-id rule shared with segment
import; `uiserver token` signing with the secret `serve` uses.

Tokens are built by hand (`signed`) where PyJWT would refuse to encode the claim under test
(a lone surrogate, `10**400`, `NaN`): the server must survive what a client can send.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import jwt
import pytest
from starlette.testclient import TestClient

from tests.helpers.app import ROOT, SECRET, csrf_of, free_port, make_app, token, wait_http
from tests.helpers.processes import stop_process
from uiserver.auth import TokenVerifier
from uiserver.config import Config
from uiserver.users.ids import USER_ID_MAX, user_id_problem

UISERVER = [sys.executable, "-m", "uiserver.cli"]
HS256 = '{"alg":"HS256","typ":"JWT"}'
SETTINGS = {
    "elderly_mode": "auto",
    "font_scale": 1.0,
    "high_contrast": False,
    "reduce_motion": False,
    "screen_reader": False,
    "handedness": "unknown",
    "personalization": 1.0,
    "age_band": "unknown",
}
# Words of decoder internals a client developer should never have to read.
INTERNALS = (
    "codec",
    "utf-8",
    "byte 0x",
    "padding",
    "Invalid header string",
    "Traceback",
    "Expecting",
    "JSONDecodeError",
    "binascii",
    "Incorrect",
    "segments",
)


def _b64(text: str | bytes) -> bytes:
    raw = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
    return base64.urlsafe_b64encode(raw).rstrip(b"=")


def signed(claims: str, header: str | bytes = HS256, secret: str = SECRET) -> str:
    """A token whose claims are exactly the JSON text `claims`, HS256-signed with `secret`."""
    signing = _b64(header) + b"." + _b64(claims)
    mac = hmac.new(secret.encode(), signing, hashlib.sha256).digest()
    return (signing + b"." + _b64(mac)).decode()


def later(seconds: int = 3600) -> int:
    return int(time.time()) + seconds


def auth(raw: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {raw}"}


# Every route that reads the caller's identity, with a valid request otherwise.
USER_ROUTES = [
    ("GET", "/v1/layouts/home", None),
    ("GET", "/v1/me/settings", None),
    ("PUT", "/v1/me/settings", SETTINGS),
    (
        "POST",
        "/v1/me/events",
        {"events": [{"page": "home", "component": "search", "kind": "click"}]},
    ),
    ("GET", "/v1/me/data", None),
    ("DELETE", "/v1/me", None),
]
DESIGNER_ROUTES = [
    ("GET", "/v1/admin/templates", None),
    ("GET", "/v1/admin/templates/home", None),
    ("GET", "/designer/", None),
]


def assert_bad_token(response: object, *, code: str = "bad_token", says: str = "") -> str:
    from httpx import Response

    assert isinstance(response, Response)
    assert response.status_code == 401, (response.status_code, response.text[:300])
    if response.headers["content-type"].startswith("text/html"):
        return response.text  # the console answers with a page
    error = response.json()["error"]
    assert error["code"] == code, error
    message = error["message"]
    assert message and not any(word in message for word in INTERNALS), message
    assert says in message, message
    return str(message)


# --------------------------------------------------------------------------- apps, both stores


@pytest.fixture(scope="module")
def sqlite_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    with TestClient(make_app(tmp_path_factory.mktemp("tokens"))) as client:
        yield client


@pytest.fixture(scope="module")
def redis_client(
    tmp_path_factory: pytest.TempPathFactory, redis_server: str
) -> Iterator[TestClient]:
    app = make_app(tmp_path_factory.mktemp("tokens-redis"), store_url=redis_server)
    with TestClient(app) as client:
        yield client


@pytest.fixture(params=["sqlite", pytest.param("redis", marks=pytest.mark.redis)])
def client(request: pytest.FixtureRequest) -> TestClient:
    return request.getfixturevalue(f"{request.param}_client")  # type: ignore[no-any-return]


# --------------------------------------------------------------------------- sub


BAD_SUBS = [
    pytest.param('"\\ud800"', id="lone-high-surrogate"),  # the input
    pytest.param('"\\udfff"', id="lone-low-surrogate"),
    pytest.param('"user-\\ud83d"', id="surrogate-at-end"),
    pytest.param('"\\udc00user"', id="surrogate-at-start"),
    pytest.param('"a\\ud800b\\udc00"', id="surrogates-apart"),
    pytest.param('"\\ude00\\ud83d"', id="surrogate-pair-reversed"),
    pytest.param("42", id="number"),
    pytest.param('["u"]', id="list"),
    pytest.param("null", id="null"),
    pytest.param('{"id": "u"}', id="object"),
    pytest.param('""', id="empty"),
    pytest.param('"   "', id="whitespace"),
    pytest.param('"\\t\\n"', id="tab-newline"),
    pytest.param('"a\\u0000b"', id="nul"),
    pytest.param('"line\\nbreak"', id="newline"),
    pytest.param('"del\\u007f"', id="del"),
    pytest.param('"c1\\u0085"', id="c1-control"),
    pytest.param('"sep\\u2028"', id="line-separator"),
    pytest.param(json.dumps("u" * (USER_ID_MAX + 1)), id="129-chars"),
    pytest.param(json.dumps("u" * 10_000), id="10k-chars"),
]


@pytest.mark.parametrize("sub", BAD_SUBS)
def test_a_bad_sub_is_401_bad_token_on_every_route(client: TestClient, sub: str) -> None:
    for role in ("user", "designer"):
        raw = signed(f'{{"sub":{sub},"exp":{later()},"role":"{role}"}}')
        routes = USER_ROUTES if role == "user" else DESIGNER_ROUTES
        for method, path, body in routes:
            response = client.request(method, path, json=body, headers=auth(raw))
            assert_bad_token(response)


@pytest.mark.parametrize(
    "sub",
    [
        "用户-42",
        "👩‍💻 dev",
        "a" * USER_ID_MAX,
        "x@example.com",
        "550e8400-e29b-41d4-a716-446655440000",
    ],
)
def test_unusual_but_valid_subs_are_served(client: TestClient, sub: str) -> None:
    raw = signed(json.dumps({"sub": sub, "exp": later()}))
    for method, path, body in USER_ROUTES:
        response = client.request(method, path, json=body, headers=auth(raw))
        assert response.status_code < 300, (path, response.text[:300])
    exported = client.get("/v1/me/data", headers=auth(raw)).json()
    assert exported["user"] == sub


def test_the_console_login_refuses_a_surrogate_sub(sqlite_client: TestClient) -> None:
    raw = signed(f'{{"sub":"\\ud800","iat":{later(0)},"exp":{later()},"role":"designer"}}')
    form = sqlite_client.get("/designer/login")
    response = sqlite_client.post(
        "/designer/login", data={"csrf_token": csrf_of(form.text), "token": raw}
    )
    assert response.status_code == 401
    assert "lone surrogate" in response.text
    # The session cookie holds a session id, never a token: a token put there opens nothing.
    sqlite_client.cookies.set("uiserver_console", raw)
    response = sqlite_client.get("/designer/", follow_redirects=False)
    assert response.status_code == 401 and "<textarea" not in response.text
    sqlite_client.cookies.clear()


# --------------------------------------------------------------------------- exp, nbf, iat


def _claims(**extra: str) -> str:
    fields = {"sub": '"u"', "exp": str(later()), **extra}
    return "{" + ",".join(f'"{k}":{v}' for k, v in fields.items()) + "}"


# `NOW+N` is the test's own clock plus N seconds (collection may run minutes earlier).
TIME_CLAIMS = [
    pytest.param({"exp": "1" + "0" * 400}, 401, "bad_token", id="exp-10**400"),  # the issue's
    pytest.param({"exp": "1e400"}, 401, "bad_token", id="exp-1e400-infinity"),
    pytest.param({"exp": "NaN"}, 401, "bad_token", id="exp-nan"),
    pytest.param({"exp": '"tomorrow"'}, 401, "bad_token", id="exp-string"),
    pytest.param({"exp": '"NOW+3600"'}, 401, "bad_token", id="exp-numeric-string"),
    pytest.param({"exp": "null"}, 401, "bad_token", id="exp-null"),
    pytest.param({"exp": "[1]"}, 401, "bad_token", id="exp-list"),
    pytest.param({"exp": "-" + "1" * 400}, 401, "token_expired", id="exp-huge-negative"),
    pytest.param({"exp": "-1e308"}, 401, "token_expired", id="exp-negative-float"),
    pytest.param({"exp": "true"}, 401, "bad_token", id="exp-true"),
    pytest.param({"exp": "NOW-3600"}, 401, "token_expired", id="exp-past"),
    pytest.param({"exp": "NOW+3600.5"}, 200, None, id="exp-float"),
    pytest.param({"exp": "NOW-20"}, 200, None, id="exp-20s-ago-leeway"),
    pytest.param({"nbf": "1" + "0" * 400}, 401, "bad_token", id="nbf-10**400"),
    pytest.param({"nbf": "1e400"}, 401, "bad_token", id="nbf-infinity"),
    pytest.param({"nbf": '"now"'}, 401, "bad_token", id="nbf-string"),
    pytest.param({"nbf": "NOW+3600"}, 401, "bad_token", id="nbf-an-hour-ahead"),
    pytest.param({"nbf": "NOW+2"}, 200, None, id="nbf-2s-ahead"),
    pytest.param({"iat": "NOW+2"}, 200, None, id="iat-2s-ahead"),  # the input
    pytest.param({"iat": "NOW+30"}, 200, None, id="iat-30s-ahead"),
    pytest.param({"iat": "NOW+3600"}, 401, "bad_token", id="iat-an-hour-ahead"),
    pytest.param({"iat": '"x"'}, 401, "bad_token", id="iat-string"),
    pytest.param({"iat": "1" + "0" * 400}, 401, "bad_token", id="iat-10**400"),
]


@pytest.mark.parametrize(("claims", "status", "code"), TIME_CLAIMS)
def test_time_claims(
    client: TestClient, claims: dict[str, str], status: int, code: str | None
) -> None:
    now = int(time.time())
    timed = {
        name: re.sub(r"NOW([+-]\d+)", lambda m: str(now + int(m.group(1))), value)
        for name, value in claims.items()
    }
    raw = signed(_claims(**timed))
    for method, path, body in USER_ROUTES[:2]:
        response = client.request(method, path, json=body, headers=auth(raw))
        if status == 401:
            assert code is not None
            assert_bad_token(response, code=code)
        else:
            assert response.status_code == status, response.text[:300]


def test_leeway_is_a_setting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ahead = signed(_claims(iat=str(later(5))))
    assert Config().jwt_leeway == 60
    monkeypatch.setenv("UISERVER_JWT_LEEWAY", "0")
    assert Config().jwt_leeway == 0
    with TestClient(make_app(tmp_path, jwt_leeway=0)) as client:
        response = client.get("/v1/me/settings", headers=auth(ahead))
        assert_bad_token(response, says="not valid yet")
    with pytest.raises(ValueError, match="leeway"):
        TokenVerifier(SECRET, leeway=-1)


def test_a_cached_token_keeps_the_leeway_and_then_expires(monkeypatch: pytest.MonkeyPatch) -> None:
    verifier = TokenVerifier(SECRET, leeway=60)
    now = time.time()
    raw = signed(_claims(exp=str(int(now) + 10)))
    assert verifier.verify(raw).user_id == "u"
    monkeypatch.setattr(time, "time", lambda: now + 50)  # past exp, inside the leeway
    assert verifier.verify(raw).user_id == "u"  # from the cache
    monkeypatch.setattr(time, "time", lambda: now + 80)  # past exp + leeway
    with pytest.raises(Exception, match="expired"):
        verifier.verify(raw)


def test_oversized_valid_tokens_are_not_cached() -> None:
    verifier = TokenVerifier(SECRET)
    raw = signed(json.dumps({"sub": "u", "exp": later(), "pad": "x" * 10_000}))
    assert verifier.verify(raw).user_id == "u"
    assert verifier.cached == 0
    assert verifier.verify(token("u")).user_id == "u"
    assert verifier.cached == 1


# --------------------------------------------------------------------------- malformed tokens


def _deep_header(depth: int) -> str:
    return "[" * depth + "]" * depth


MALFORMED = [
    pytest.param("abc.$$$.def", id="not-base64"),
    pytest.param(_b64(b"\xb7\xfa").decode() + ".eyJ9.c2ln", id="header-not-utf8"),  # issue's
    pytest.param("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1In0", id="two-parts"),
    pytest.param("a.b.c.d", id="four-parts"),
    pytest.param("eyJhbGciOiJIUzI1NiJ9=.eyJzdWIiOiJ1In0=.sig=", id="padding"),
    pytest.param("eyJhbGciOiJIUzI1NiJ9.!!!!.sig", id="bad-payload-chars"),
    pytest.param(".", id="dots"),
    pytest.param("..", id="empty-parts"),
    pytest.param(_b64("[1,2]").decode() + ".eyJ9.c2ln", id="header-a-list"),
    pytest.param(_b64(_deep_header(20_000)).decode() + ".eyJ9.c2ln", id="header-20k-deep"),
    pytest.param(signed("[1]"), id="claims-a-list"),
    pytest.param(signed("not json"), id="claims-not-json"),
    pytest.param(
        signed('{"sub":"u","exp":' + str(later()) + ',"x":' + _deep_header(3000) + "}"),
        id="claims-3000-deep",
    ),
    pytest.param(signed('{"sub":"u"}'), id="no-exp"),
    pytest.param(signed(f'{{"exp":{later()}}}'), id="no-sub"),
    pytest.param(signed(_claims(role='"root"')), id="unknown-role"),
    pytest.param(signed(_claims(role='["admin"]')), id="role-a-list"),
    pytest.param(
        signed(_claims(), secret="another-secret-0123456789-abcdefghij"), id="foreign-secret"
    ),
    pytest.param(
        signed(_claims(), header='{"alg":"none","typ":"JWT"}').rsplit(".", 1)[0] + ".",
        id="alg-none",
    ),
    pytest.param(signed(_claims(), header='{"alg":"HS512","typ":"JWT"}'), id="alg-hs512"),
    pytest.param(signed(_claims(), header='{"alg":"HS256","crit":["x"]}'), id="crit-header"),
]


@pytest.mark.parametrize("raw", MALFORMED)
def test_malformed_tokens_are_401_in_plain_words(client: TestClient, raw: str) -> None:
    for method, path, body in USER_ROUTES[:2]:
        assert_bad_token(client.request(method, path, json=body, headers=auth(raw)))


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        pytest.param(_b64(b"\xb7\xfa").decode() + ".eyJ9.c2ln", "not a well-formed JWT", id="utf8"),
        pytest.param(
            signed(_claims(), secret="another-secret-0123456789-abcdefghij"),
            "not signed with this server's secret",
            id="secret",
        ),
        pytest.param(
            signed(_claims(), header='{"alg":"HS512","typ":"JWT"}'), "HS256", id="algorithm"
        ),
        pytest.param(signed('{"sub":"u"}'), "lacks the 'exp' claim", id="no-exp"),
        pytest.param(
            signed('{"sub":"\\ud800","exp":' + str(later()) + "}"), "lone surrogate", id="surrogate"
        ),
        pytest.param(signed(_claims(exp='"x"')), "exp", id="exp-type"),
    ],
)
def test_bad_token_messages_say_why(sqlite_client: TestClient, raw: str, says: str) -> None:
    assert_bad_token(sqlite_client.get("/v1/me/settings", headers=auth(raw)), says=says)


@pytest.mark.parametrize(
    "header", ["Bearer", "Bearer ", "Bearer    ", "Basic dTpw", "Token abc", "bearer"]
)
def test_authorization_headers_without_a_token(sqlite_client: TestClient, header: str) -> None:
    for method, path, body in USER_ROUTES[:2]:
        response = sqlite_client.request(method, path, json=body, headers={"Authorization": header})
        assert_bad_token(response)


# --------------------------------------------------------------------------- one user-id rule


ID_CASES = [
    "u",
    "用户",
    "a" * USER_ID_MAX,
    "a" * (USER_ID_MAX + 1),
    "",
    " ",
    "\t",
    "a\x00",
    "a\nb",
    "\x7f",
    "\x85",
    "a\u2028",
    "\ud800",
    "x\udfff",
]


@pytest.mark.parametrize("user", ID_CASES, ids=[repr(u)[:20] for u in ID_CASES])
def test_segment_import_and_tokens_share_the_user_id_rule(
    sqlite_client: TestClient, user: str
) -> None:
    ok = user_id_problem(user) is None
    raw = signed(json.dumps({"sub": user, "exp": later()}))
    by_token = sqlite_client.get("/v1/me/settings", headers=auth(raw)).status_code
    line = json.dumps({"user": user, "segments": ["vip"]}).encode()
    designer = auth(token("dora", "designer"))
    imported = sqlite_client.put(
        "/v1/admin/segments",
        content=line,
        headers={**designer, "content-type": "application/x-ndjson"},
    )
    assert (by_token == 200) == ok, by_token
    if ok:
        assert imported.status_code == 200, imported.text
    else:
        # A lone surrogate never reaches the rule in JSON: msgspec refuses the escape (400).
        assert imported.status_code in (400, 422), imported.text
        if imported.status_code == 422:
            assert imported.json()["error"]["field"] == "line 1.user"


# --------------------------------------------------------------------------- uiserver token


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("UISERVER_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env.update(extra)
    return env


def _token_cli(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*UISERVER, "token", *args],
        cwd=cwd,
        env=_env(**env),
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_token_from_another_directory_fails_loudly_and_makes_no_secret(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    result = _token_cli("alice", cwd=elsewhere)
    assert result.returncode == 2 and result.stdout == ""
    for fix in ("UISERVER_JWT_SECRET", "--data-dir", "UISERVER_DATA_DIR", "jwt-secret"):
        assert fix in result.stderr, result.stderr
    assert not (elsewhere / ".uiserver").exists()  # no new secret made here


@pytest.mark.parametrize("user", ["", " ", "a\x01b", "u" * (USER_ID_MAX + 1)])
def test_token_refuses_a_bad_user_id(tmp_path: Path, user: str) -> None:
    result = _token_cli(user, cwd=tmp_path, UISERVER_JWT_SECRET=SECRET)
    assert result.returncode == 2 and result.stdout == ""
    assert "user id" in result.stderr


def test_token_reads_the_secret_serve_uses(tmp_path: Path) -> None:
    """`serve` run in one directory (default data dir), `token` from another: with the
    server's data dir named by `--data-dir` or `UISERVER_DATA_DIR`, the token is accepted."""
    site, elsewhere = tmp_path / "site", tmp_path / "elsewhere"
    site.mkdir()
    elsewhere.mkdir()
    port = free_port()
    log = (tmp_path / "serve.log").open("wb")
    proc = subprocess.Popen(
        [*UISERVER, "serve", "--port", str(port), "--log-level", "warning"],
        cwd=site,
        env=_env(),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(url + "/healthz")
        data_dir = site / ".uiserver"
        assert (data_dir / "jwt-secret").exists()
        by_option = _token_cli("alice", "--data-dir", str(data_dir), cwd=elsewhere)
        by_env = _token_cli("bob", cwd=elsewhere, UISERVER_DATA_DIR=str(data_dir))
        here = _token_cli("carol", cwd=site)
        import httpx

        for result in (by_option, by_env, here):
            assert result.returncode == 0, result.stderr
            response = httpx.get(url + "/v1/me/settings", headers=auth(result.stdout.strip()))
            assert response.status_code == 200, response.text
        assert not (elsewhere / ".uiserver").exists()
    finally:
        stop_process(proc, log)


def test_token_with_the_secret_in_the_environment(tmp_path: Path) -> None:
    result = _token_cli("alice", "--role", "designer", cwd=tmp_path, UISERVER_JWT_SECRET=SECRET)
    assert result.returncode == 0, result.stderr
    claims = jwt.decode(result.stdout.strip(), SECRET, algorithms=["HS256"])
    assert claims["sub"] == "alice" and claims["role"] == "designer"
    assert not (tmp_path / ".uiserver").exists()


def test_a_server_without_a_token_secret_serves_anonymously_and_refuses_tokens(
    tmp_path: Path,
) -> None:
    """No JWT secret configured: layouts are served to anonymous callers (the default
    persona), a token cannot be checked so it is a 401 `bad_token` (never taken on trust),
    and the per-user routes need the token the server cannot accept."""
    with TestClient(make_app(tmp_path, jwt_secret="")) as client:
        anonymous = client.get("/v1/layouts/home")
        assert anonymous.status_code == 200 and anonymous.json()["page"] == "home"
        signed = {"Authorization": f"Bearer {token('ann')}"}
        for path in ("/v1/layouts/home", "/v1/me/settings"):
            refused = client.get(path, headers=signed)
            assert refused.status_code == 401, path
            assert refused.json()["error"]["code"] == "bad_token"
        assert client.get("/v1/me/settings").status_code == 401
