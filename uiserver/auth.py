"""Identity: HS256 JWTs (`sub`, `exp`, optional `role`), verified once and remembered until `exp`.

A warm layout GET cannot afford an HMAC check (DESIGN section 7), so verified claims live in a
bounded cache keyed by the token string itself; an entry is only used while `exp` is in the
future, and a forged token never enters the cache because it fails verification first.
"""

from __future__ import annotations

import base64
import hmac
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
import msgspec
from jwt.exceptions import InvalidJTIError, InvalidSubjectError  # PyJWT >= 2.10

from uiserver.datastructures import BoundedDict
from uiserver.users.ids import user_id_problem

ALGORITHM = "HS256"
ROLES = ("user", "designer", "admin")
SECRET_FILE = "jwt-secret"


@dataclass(frozen=True, slots=True)
class Identity:
    """Who is calling. `user_id` "" means anonymous."""

    user_id: str
    role: str
    exp: float

    @property
    def anonymous(self) -> bool:
        return not self.user_id

    @property
    def is_designer(self) -> bool:
        return self.role in ("designer", "admin")


ANONYMOUS = Identity("", "user", float("inf"))


class AuthError(Exception):
    """The token is malformed, forged, expired or lacks a claim: a 401."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


# Plain words for each way a token can fail; PyJWT's own messages name decoder internals
# ("Invalid header string: 'utf-8' codec can't decode byte 0xb7"). Most specific class first.
_REASONS: tuple[tuple[type[Exception], str], ...] = (
    (
        jwt.InvalidAlgorithmError,
        "the token must be signed with HS256 (its header names another algorithm, or none)",
    ),
    (
        jwt.InvalidSignatureError,
        "the token's signature does not match: it was not signed with this server's secret",
    ),
    (
        jwt.ImmatureSignatureError,
        "the token is not valid yet: its 'nbf' or 'iat' is in the "
        "future by more than the allowed clock skew",
    ),
    (jwt.InvalidIssuedAtError, "claim 'iat' must be a number of Unix seconds"),
    (InvalidSubjectError, "claim 'sub' must be a string (the user id)"),
    (
        jwt.InvalidAudienceError,
        "the token names an audience ('aud'); this server accepts tokens without one",
    ),
    (jwt.InvalidIssuerError, "claim 'iss' must be a string"),
    (InvalidJTIError, "claim 'jti' must be a string"),
)
MALFORMED = (
    "the token is not a well-formed JWT: expected three base64url parts "
    "(header.claims.signature) holding JSON objects"
)
# A PyJWT DecodeError from its claim checks is already in plain words; any other DecodeError
# is about base64, UTF-8 or JSON and gets MALFORMED.
_PLAIN_DECODE_ERRORS = ("Expiration Time claim (exp)", "Not Before claim (nbf)")
# An `exp` past the year 9999 is a mistake (or `10**400`, which no float holds).
EXP_MAX = 253_402_300_799
TOKEN_CACHE_MAX_CHARS = 4096  # longer (valid) tokens are verified every time, never cached


def _reason(exc: jwt.PyJWTError) -> str:
    if isinstance(exc, jwt.MissingRequiredClaimError):
        return f"the token lacks the '{exc.claim}' claim"
    for kind, reason in _REASONS:
        if isinstance(exc, kind):
            return reason
    text = str(exc)
    if isinstance(exc, jwt.DecodeError) and text.startswith(_PLAIN_DECODE_ERRORS):
        return f"the token's {text[0].lower()}{text[1:].rstrip('.')}"
    return MALFORMED


class TokenVerifier:
    """Verifies bearer tokens; remembers verified claims in a bounded cache until they expire.

    `leeway` (seconds, `UISERVER_JWT_LEEWAY`, default 60) is the clock skew allowed on `exp`,
    `nbf` and `iat` between the operator's backend that mints tokens and this server (RFC 7519
    section 4.1.4 allows "a small leeway, usually no more than a few minutes").
    """

    def __init__(self, secret: str, cache_size: int = 100_000, leeway: float = 60.0) -> None:
        if not secret:
            raise ValueError("a JWT secret is required")
        if not 0 <= leeway < 86_400:
            raise ValueError("the JWT leeway must be 0 to 86,399 seconds")
        self._secret = secret
        self._leeway = leeway
        self._fast = FastVerifier(secret)
        self._cache: BoundedDict[str, Identity] = BoundedDict(cache_size)

    @property
    def cached(self) -> int:
        """How many verified tokens are remembered (a metric)."""
        return len(self._cache)

    def identify(self, authorization: str | None) -> Identity:
        """The caller of a request with this `Authorization` header value."""
        if not authorization:
            return ANONYMOUS
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthError("bad_token", "Authorization must be 'Bearer <token>'")
        return self.verify(token.strip())

    def _exp_is_bool(self, token: str) -> bool:
        """Whether a token PyJWT called expired carries a boolean `exp` (signature checked)."""
        try:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=[ALGORITHM],
                options={"verify_exp": False, "verify_iat": False, "verify_nbf": False},
            )
        except (jwt.PyJWTError, ValueError, TypeError, OverflowError, RecursionError):
            return False
        return isinstance(claims.get("exp"), bool)

    def verify(self, token: str) -> Identity:
        """The identity a token names; AuthError (`bad_token`, `token_expired`) otherwise.

        The user id passes `users.ids.user_id_problem`, the one rule for user ids.
        """
        cached = self._cache.get(token)
        if cached is not None:
            if cached.exp + self._leeway > time.time():
                return cached
            del self._cache[token]
            raise AuthError("token_expired", "the token has expired")
        # The common token in ~4 us (the fast path below); anything else goes to PyJWT.
        claims = self._fast.claims(token, time.time(), self._leeway)
        try:
            if claims is None:
                claims = jwt.decode(
                    token,
                    self._secret,
                    algorithms=[ALGORITHM],
                    options={"require": ["exp", "sub"]},
                    leeway=self._leeway,
                )
        except jwt.ExpiredSignatureError as exc:
            # PyJWT reads `"exp": true` as 1 (1970): that is a malformed claim, not an old token.
            if self._exp_is_bool(token):
                raise AuthError("bad_token", EXP_NOT_NUMBER) from None
            raise AuthError("token_expired", "the token has expired") from exc
        except jwt.PyJWTError as exc:
            raise AuthError("bad_token", _reason(exc)) from None
        except (ValueError, TypeError, OverflowError, RecursionError):
            # Whatever else a hostile header or payload makes the decoder raise is a bad token.
            raise AuthError("bad_token", MALFORMED) from None
        identity = _identity(claims)
        if len(token) <= TOKEN_CACHE_MAX_CHARS:
            self._cache[token] = identity
        return identity


EXP_NOT_NUMBER = "claim 'exp' must be Unix seconds before the year 10000"


def _identity(claims: dict[str, object]) -> Identity:
    """The Identity of verified claims; AuthError when a claim is not what it must be."""
    sub, role, exp = claims.get("sub"), claims.get("role", "user"), claims.get("exp")
    problem = user_id_problem(sub)
    if problem is not None:
        raise AuthError("bad_token", f"claim 'sub': {problem}")
    assert isinstance(sub, str)
    if not isinstance(role, str) or role not in ROLES:
        raise AuthError("bad_token", f"claim 'role' must be one of {', '.join(ROLES)}")
    if isinstance(exp, bool) or not isinstance(exp, int | float) or not exp <= EXP_MAX:
        raise AuthError("bad_token", EXP_NOT_NUMBER)
    return Identity(sub, role, float(exp))


def mint_token(secret: str, user: str, role: str = "user", ttl: int = 86_400) -> str:
    """A signed token for `user`, valid for `ttl` seconds."""
    now = int(time.time())
    claims: dict[str, object] = {"sub": user, "iat": now, "exp": now + ttl}
    if role != "user":
        claims["role"] = role
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def resolve_secret(data_dir: Path, *, create: bool) -> tuple[str, bool]:
    """`UISERVER_JWT_SECRET`, else the secret file in the data dir (made on first run).

    Returns (secret, created).
    """
    env = os.environ.get("UISERVER_JWT_SECRET", "")
    if env:
        return env, False
    path = data_dir / SECRET_FILE
    if path.exists():
        return path.read_text().strip(), False
    if not create:
        return "", False
    data_dir.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(secret + "\n")
    return secret, True


# --------------------------------------------------------------------------- fast path
# A fast path for the common token: plain HS256, claims `sub`, `exp`, `iat`, `role` only.
#
# PyJWT stays the authority. `fast_claims` returns the claims only for a token PyJWT's
# `jwt.decode(token, secret, algorithms=["HS256"], options={"require": ["exp", "sub"]},
# leeway=leeway)` accepts with the same claims, and None for anything else (then the caller runs
# PyJWT, which decides and words the error). It skips what costs PyJWT ~30 us a token (a Python
# loop over every character for its base64 check, three `json.loads`, key preparation): one HMAC
# (`hmac.digest`, C), C base64 and one msgspec decode, ~4 us.
#
# Accepted only when all of these hold, each at least as strict as PyJWT's own check:
# - three dot-separated parts, the header part one PyJWT would read as exactly
#   `{"alg": "HS256", "typ": "JWT"}` or `{"alg": "HS256"}` (checked once per distinct header);
# - the signature part is exactly the unpadded base64url of HMAC-SHA256(secret, header.payload),
#   compared with `hmac.compare_digest`;
# - the payload part is canonical unpadded base64url of a UTF-8 JSON object whose keys are among
#   `sub` (a string), `exp` (an int), `iat` (an int) and `role` (a string), with `sub` and `exp`
#   present; `exp > now - leeway` (PyJWT: expired when `exp <= now - leeway`) and
#   `iat <= now + leeway` (PyJWT >= 2.10: immature when `iat > now + leeway`).
# Anything else (`nbf`, `aud`, `iss`, `kid`, floats, padding, an expired token...) goes to PyJWT.

FAST_HEADERS = ({"alg": "HS256", "typ": "JWT"}, {"alg": "HS256"})
FAST_CLAIMS = frozenset(("sub", "exp", "iat", "role"))
_HEADER_CACHE_MAX = 64
_decode = msgspec.json.Decoder(dict[str, Any]).decode


def _b64decode(part: str) -> bytes | None:
    """The bytes of a canonical unpadded base64url part, else None."""
    try:
        raw = base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
    except (ValueError, TypeError):
        return None
    if base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii") != part:
        return None  # not canonical, or characters outside the alphabet that were skipped
    return raw


class FastVerifier:
    """`fast_claims` bound to one secret (the key bytes made once)."""

    __slots__ = ("_headers", "_key")

    def __init__(self, secret: str) -> None:
        self._key = secret.encode("utf-8")
        self._headers: dict[str, bool] = {}

    def _header_ok(self, part: str) -> bool:
        ok = self._headers.get(part)
        if ok is None:
            raw = _b64decode(part)
            try:
                header = _decode(raw) if raw is not None else None
            except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
                header = None
            ok = header in FAST_HEADERS
            if len(self._headers) < _HEADER_CACHE_MAX:
                self._headers[part] = ok
        return ok

    def claims(self, token: str, now: float, leeway: float) -> dict[str, Any] | None:
        """The claims of `token` when the fast path can vouch for them (see the module), else
        None. Never raises."""
        if not token.isascii():
            return None
        parts = token.split(".")
        if len(parts) != 3:
            return None
        header, payload, signature = parts
        if not self._header_ok(header):
            return None
        signing_input = f"{header}.{payload}".encode("ascii")
        expected = base64.urlsafe_b64encode(hmac.digest(self._key, signing_input, "sha256"))
        if not hmac.compare_digest(expected.rstrip(b"="), signature.encode("ascii")):
            return None
        raw = _b64decode(payload)
        if raw is None:
            return None
        try:
            claims = _decode(raw)
        except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
            return None
        if not FAST_CLAIMS.issuperset(claims):
            return None
        sub, exp, iat, role = (claims.get(k) for k in ("sub", "exp", "iat", "role"))
        if type(sub) is not str or type(exp) is not int:
            return None
        if "role" in claims and type(role) is not str:
            return None
        if exp <= now - leeway:
            return None
        if "iat" in claims and (type(iat) is not int or iat > now + leeway):
            return None
        return claims
