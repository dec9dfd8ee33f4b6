"""Identity: HS256 JWTs (`sub`, `exp`, optional `role`), verified once and remembered until `exp`.

A warm layout GET cannot afford an HMAC check (DESIGN section 7), so verified claims live in a
bounded cache keyed by the token string itself; an entry is only used while `exp` is in the
future, and a forged token never enters the cache because it fails verification first.
"""

from __future__ import annotations

import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

import jwt
from jwt.exceptions import InvalidJTIError, InvalidSubjectError  # PyJWT >= 2.10

from uiserver.cache import BoundedDict
from uiserver.identifiers import user_id_problem
from uiserver.token_fast import FastVerifier

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
    (jwt.InvalidAlgorithmError, "the token must be signed with HS256 (its header names another "
                                "algorithm, or none)"),
    (jwt.InvalidSignatureError, "the token's signature does not match: it was not signed with "
                                "this server's secret"),
    (jwt.ImmatureSignatureError, "the token is not valid yet: its 'nbf' or 'iat' is in the "
                                 "future by more than the allowed clock skew"),
    (jwt.InvalidIssuedAtError, "claim 'iat' must be a number of Unix seconds"),
    (InvalidSubjectError, "claim 'sub' must be a string (the user id)"),
    (jwt.InvalidAudienceError, "the token names an audience ('aud'); this server accepts "
                               "tokens without one"),
    (jwt.InvalidIssuerError, "claim 'iss' must be a string"),
    (InvalidJTIError, "claim 'jti' must be a string"),
)
MALFORMED = ("the token is not a well-formed JWT: expected three base64url parts "
             "(header.claims.signature) holding JSON objects")
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
            claims = jwt.decode(token, self._secret, algorithms=[ALGORITHM],
                                options={"verify_exp": False, "verify_iat": False,
                                         "verify_nbf": False})
        except (jwt.PyJWTError, ValueError, TypeError, OverflowError, RecursionError):
            return False
        return isinstance(claims.get("exp"), bool)

    def verify(self, token: str) -> Identity:
        """The identity a token names; AuthError (`bad_token`, `token_expired`) otherwise.

        The user id passes `identifiers.user_id_problem`, the one rule for user ids.
        """
        cached = self._cache.get(token)
        if cached is not None:
            if cached.exp + self._leeway > time.time():
                return cached
            del self._cache[token]
            raise AuthError("token_expired", "the token has expired")
        # The common token in ~4 us; anything it cannot vouch for goes to PyJWT (`token_fast`).
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

