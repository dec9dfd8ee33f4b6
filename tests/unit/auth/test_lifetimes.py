"""Token lifetimes: a valid signature no longer buys a token that lives for decades. Designer and
admin tokens are short (12 h by default) and must say when they were issued; user tokens 30
days; `uiserver token` mints tokens with `iat` and `jti`."""

from __future__ import annotations

import time
import uuid

import jwt
import pytest

from uiserver.auth import AuthError, Identity, Lifetimes, TokenVerifier, default_ttl, mint_token

SECRET = "test-secret-0123456789-abcdefghijklmnop"
YEAR_2100 = 4_102_444_800


def signed(**claims: object) -> str:
    return jwt.encode(claims, SECRET, algorithm="HS256")


def refusal(verifier: TokenVerifier, token: str) -> AuthError:
    with pytest.raises(AuthError) as caught:
        verifier.verify(token)
    return caught.value


@pytest.mark.parametrize("role", ["designer", "admin", "user"])
def test_a_token_valid_until_2100_is_refused(role: str) -> None:
    now = int(time.time())
    error = refusal(TokenVerifier(SECRET), signed(sub="dora", role=role, iat=now, exp=YEAR_2100))
    assert error.code == "token_lifetime"
    assert "at most" in error.message and role in error.message


@pytest.mark.parametrize("role", ["designer", "admin"])
def test_a_privileged_token_without_iat_is_refused(role: str) -> None:
    error = refusal(TokenVerifier(SECRET), signed(sub="dora", role=role, exp=int(time.time()) + 60))
    assert error.code == "bad_token" and "'iat'" in error.message


def test_a_user_token_without_iat_counts_from_now_with_the_leeway() -> None:
    verifier = TokenVerifier(SECRET, leeway=60, lifetimes=Lifetimes(user=3_600))
    now = int(time.time())
    assert verifier.verify(signed(sub="u", exp=now + 3_600 + 30)).user_id == "u"  # skew allowed
    assert refusal(verifier, signed(sub="v", exp=now + 3_600 + 600)).code == "token_lifetime"
    assert refusal(verifier, signed(sub="w", exp=YEAR_2100)).code == "token_lifetime"


@pytest.mark.parametrize(
    ("role", "lifetime", "accepted"),
    [
        pytest.param("designer", 12 * 3_600, True, id="designer-12h"),
        pytest.param("designer", 12 * 3_600 + 1, False, id="designer-12h+1s"),
        pytest.param("admin", 86_400, False, id="admin-a-day"),
        pytest.param("user", 30 * 86_400, True, id="user-30d"),
        pytest.param("user", 30 * 86_400 + 1, False, id="user-30d+1s"),
        pytest.param("user", 365 * 86_400, False, id="user-a-year"),
    ],
)
def test_the_default_lifetimes(role: str, lifetime: int, accepted: bool) -> None:
    # exp - iat counts, from the issuer's own clock: an old iat is fine while exp is ahead.
    iat = int(time.time()) - 100
    token = signed(sub="dora", role=role, iat=iat, exp=iat + lifetime)
    verifier = TokenVerifier(SECRET)
    if accepted:
        assert verifier.verify(token).role == role
    else:
        assert refusal(verifier, token).code == "token_lifetime"


def test_lifetimes_are_configurable() -> None:
    now = int(time.time())
    token = signed(sub="dora", role="designer", iat=now, exp=now + 3_600)
    assert refusal(TokenVerifier(SECRET, lifetimes=Lifetimes(privileged=600)), token).code == (
        "token_lifetime"
    )
    longer = TokenVerifier(SECRET, lifetimes=Lifetimes(privileged=7 * 86_400))
    assert longer.verify(signed(sub="d", role="admin", iat=now, exp=now + 86_400)).is_admin
    with pytest.raises(ValueError):
        Lifetimes(user=0)


@pytest.mark.parametrize(
    "claims",
    [
        pytest.param({"nbf": "NOW+3600"}, id="nbf-in-an-hour"),
        pytest.param({"iat": "NOW+3600"}, id="iat-in-an-hour"),
        pytest.param({"iat": "NOW+61"}, id="iat-just-past-the-leeway"),
        pytest.param({"exp": 10**30}, id="exp-10**30"),
        pytest.param({"exp": 1e308}, id="exp-1e308"),
        pytest.param({"iat": -(10**30)}, id="iat-huge-negative"),
        pytest.param({"iat": "NOW-400000000"}, id="iat-13-years-ago"),
        pytest.param({"exp": None}, id="no-exp"),
        pytest.param({"iat": True}, id="iat-true"),
        pytest.param({"jti": "x" * 257}, id="jti-257-chars"),
    ],
)
@pytest.mark.parametrize("role", ["designer", "admin"])
def test_privileged_siblings_are_refused(claims: dict[str, object], role: str) -> None:
    now = int(time.time())
    values: dict[str, object] = {"sub": "dora", "role": role, "iat": now, "exp": now + 600}
    for name, value in claims.items():
        if isinstance(value, str) and value.startswith("NOW"):
            value = now + int(value[3:])
        if value is None:
            values.pop(name)
        else:
            values[name] = value
    error = refusal(TokenVerifier(SECRET, leeway=60), signed(**values))
    assert error.code in ("bad_token", "token_lifetime"), error.code


def test_an_iat_within_the_leeway_is_accepted() -> None:
    now = int(time.time())
    token = signed(sub="dora", role="designer", iat=now + 30, exp=now + 600)
    assert TokenVerifier(SECRET, leeway=60).verify(token).iat == now + 30


def test_minted_tokens_carry_iat_and_a_unique_jti() -> None:
    tokens = [mint_token(SECRET, "dora", "designer") for _ in range(3)]
    claims = [jwt.decode(t, SECRET, algorithms=["HS256"]) for t in tokens]
    for claim in claims:
        assert isinstance(claim["iat"], int) and abs(claim["iat"] - time.time()) < 5
        assert claim["exp"] - claim["iat"] == default_ttl("designer") == 12 * 3_600
        assert uuid.UUID(claim["jti"]).version == 4
    assert len({claim["jti"] for claim in claims}) == 3
    user = jwt.decode(mint_token(SECRET, "u"), SECRET, algorithms=["HS256"])
    assert user["exp"] - user["iat"] == 86_400 and "role" not in user
    verified = TokenVerifier(SECRET).verify(tokens[0])
    assert verified == Identity(
        "dora", "designer", claims[0]["exp"], claims[0]["iat"], claims[0]["jti"]
    )
