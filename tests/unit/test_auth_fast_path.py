"""The token fast path never accepts what PyJWT refuses, and returns PyJWT's claims when it
accepts (hypothesis over well-formed, tampered, expired, future and unusual tokens)."""

from __future__ import annotations

import base64
import hmac
import json
import time
from typing import Any

import jwt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from uiserver.auth import AuthError, FastVerifier, TokenVerifier, mint_token

SECRET = "test-secret-0123456789-abcdefghijklmnop"
LEEWAY = 60.0
NOW = int(time.time())  # fixed for the strategies (hypothesis needs them deterministic)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _pyjwt(token: str) -> dict[str, Any] | None:
    try:
        return jwt.decode(
            token, SECRET, algorithms=["HS256"], options={"require": ["exp", "sub"]}, leeway=LEEWAY
        )
    except Exception:
        return None


claim_values = st.one_of(
    st.integers(min_value=-(2**40), max_value=2**40),
    st.text(max_size=8),
    st.none(),
    st.booleans(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.just(10**30),
)


@st.composite
def tokens(draw: st.DrawFn) -> str:
    now = NOW
    plain = draw(st.booleans())  # half the tokens: signed right, usual header, no mangling
    claims: dict[str, Any] = {}
    if draw(st.integers(0, 9)):
        claims["sub"] = draw(st.one_of(st.text(min_size=0, max_size=12), claim_values))
    if draw(st.integers(0, 9)):
        claims["exp"] = draw(st.one_of(st.integers(now - 200, now + 200), claim_values))
    if draw(st.booleans()):
        claims["iat"] = draw(st.one_of(st.integers(now - 200, now + 200), claim_values))
    if draw(st.booleans()):
        claims["role"] = draw(st.one_of(st.sampled_from(["user", "designer", "x"]), claim_values))
    extras = (
        [] if plain else draw(st.lists(st.sampled_from(["nbf", "aud", "iss", "jti"]), max_size=2))
    )
    for extra in extras:
        claims[extra] = draw(st.one_of(st.integers(now - 200, now + 200), st.text(max_size=4)))
    header = (
        {"alg": "HS256", "typ": "JWT"}
        if plain
        else draw(
            st.sampled_from(
                [
                    {"alg": "HS256", "typ": "JWT"},
                    {"typ": "JWT", "alg": "HS256"},
                    {"alg": "HS256"},
                    {"alg": "none"},
                    {"alg": "HS512", "typ": "JWT"},
                    {"alg": "HS256", "kid": "k"},
                ]
            )
        )
    )
    secret = SECRET if plain else draw(st.sampled_from([SECRET, "other-0123456789-abcdefghijkl"]))
    head = _b64(json.dumps(header, separators=(",", ":")).encode())
    body = _b64(json.dumps(claims, separators=(",", ":")).encode())
    alg = {"HS256": "sha256", "HS512": "sha512"}.get(header["alg"], "sha256")
    sig = _b64(hmac.digest(secret.encode(), f"{head}.{body}".encode(), alg))
    token = f"{head}.{body}.{sig}"
    mangle = 0 if plain else draw(st.integers(0, 6))
    if mangle == 1:  # flip one character anywhere
        i = draw(st.integers(0, len(token) - 1))
        c = "A" if token[i] != "A" else "B"
        token = token[:i] + c + token[i + 1 :]
    elif mangle == 2:  # padding
        token = f"{head}.{body}==.{sig}"
    elif mangle == 3:
        token = token + "."
    elif mangle == 4:
        token = token.replace("-", "+")
    return token


@settings(max_examples=600, deadline=None)
@given(tokens())
def test_fast_path_accepts_only_what_pyjwt_accepts(token: str) -> None:
    expected = _pyjwt(token)  # PyJWT's clock first: the fast path's is never earlier
    fast = FastVerifier(SECRET).claims(token, time.time(), LEEWAY)
    if fast is not None:
        assert expected == fast


def test_fast_path_takes_the_common_token() -> None:
    fast = FastVerifier(SECRET)
    for role in ("user", "designer"):
        token = mint_token(SECRET, "u-1", role, 600)
        claims = fast.claims(token, time.time(), LEEWAY)
        assert claims is not None and claims == _pyjwt(token)
    expired = jwt.encode({"sub": "u", "exp": int(time.time()) - 3600}, SECRET, "HS256")
    assert fast.claims(expired, time.time(), LEEWAY) is None  # PyJWT words that error
    forged = mint_token("not-the-secret-0123456789-abcdefghij", "u-1")
    assert fast.claims(forged, time.time(), LEEWAY) is None


def test_verifier_errors_are_unchanged_by_the_fast_path() -> None:
    verifier = TokenVerifier(SECRET, leeway=LEEWAY)
    assert verifier.verify(mint_token(SECRET, "u-2")).user_id == "u-2"
    expired = jwt.encode({"sub": "u", "exp": int(time.time()) - 3600}, SECRET, "HS256")
    with pytest.raises(AuthError) as err:
        verifier.verify(expired)
    assert err.value.code == "token_expired"
    with pytest.raises(AuthError) as err:
        verifier.verify(mint_token("not-the-secret-0123456789-abcdefghij", "u-1"))
    assert err.value.code == "bad_token" and "signature" in err.value.message
