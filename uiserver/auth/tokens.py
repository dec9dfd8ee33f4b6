"""Identity: HS256 JWTs (`sub`, `exp`, optional `role`, `iat`, `jti`), verified once and
remembered until `exp`.

A warm layout GET cannot afford an HMAC check (DESIGN section 7), so verified claims live in a
bounded cache keyed by the token string itself; an entry is only used while `exp` is in the
future, and a forged token never enters the cache because it fails verification first.

Two checks bound what a valid signature buys (`Lifetimes`): a token may live at most
`Lifetimes.user` seconds (designer and admin tokens `Lifetimes.privileged`, and they must carry
`iat`), counted as `exp - iat`, or `exp - now` (plus the leeway) without `iat`; and a token
its subject or `jti` was revoked for (`auth.revocations`) is refused on every use, cached or not.
"""

from __future__ import annotations

import base64
import hmac
import os
import secrets
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, cast

import jwt
import msgspec
from jwt.exceptions import InvalidJTIError, InvalidSubjectError  # PyJWT >= 2.10

from uiserver.datastructures import BoundedDict
from uiserver.files import read_limited
from uiserver.users.ids import user_id_problem

ALGORITHM = "HS256"
ROLES = ("user", "designer", "admin")
SECRET_FILE = "jwt-secret"
SECRET_FILE_MAX_BYTES = 4096  # the generated secret is 64 characters and a newline


PRIVILEGED = ("designer", "admin")
# Defaults of the maximum lifetimes (seconds), NIST SP 800-63B's reauthentication bounds: a
# designer's or admin's token 12 h (AAL2, 4.2.3: "at least once per 12 hours"; a stolen one is
# useful for hours, not for years), a user's 30 days (AAL1, 4.1.3: "at least once per 30
# days"). Both configurable (`config.Config`).
USER_MAX_LIFETIME = 30 * 86_400
PRIVILEGED_MAX_LIFETIME = 12 * 3_600


@dataclass(frozen=True, slots=True)
class Identity:
    """Who is calling. `user_id` "" means anonymous. `iat` is None when the token had none;
    `jti` "" likewise."""

    user_id: str
    role: str
    exp: float
    iat: float | None = None
    jti: str = ""

    @property
    def anonymous(self) -> bool:
        return not self.user_id

    @property
    def is_designer(self) -> bool:
        return self.role in PRIVILEGED

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


@dataclass(frozen=True, slots=True)
class Lifetimes:
    """The longest a token may be valid, in seconds: `user` for role user, `privileged` for
    designer and admin. A token's lifetime is `exp - iat` (both from the issuer's clock, so no
    leeway), or, without `iat`, `exp - now`, allowed the clock-skew leeway (RFC 7519 4.1.4)."""

    user: float = USER_MAX_LIFETIME
    privileged: float = PRIVILEGED_MAX_LIFETIME

    def __post_init__(self) -> None:
        for value in (self.user, self.privileged):
            if not 0 < value <= EXP_MAX:
                raise ValueError("a maximum token lifetime must be a positive number of seconds")

    def of(self, role: str) -> float:
        return self.privileged if role in PRIVILEGED else self.user

    @property
    def longest(self) -> float:
        return max(self.user, self.privileged)


class RevocationCheck(Protocol):
    """What `TokenVerifier` asks on every use of a token (`auth.revocations.Revocations`)."""

    def refuses(self, who: Identity) -> bool:
        """Whether a revocation covers this token (cheap: in-memory, on every request)."""


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

    def __init__(
        self,
        secret: str,
        cache_size: int = 100_000,
        leeway: float = 60.0,
        lifetimes: Lifetimes | None = None,
        revocations: RevocationCheck | None = None,
    ) -> None:
        if not secret:
            raise ValueError("a JWT secret is required")
        if not 0 <= leeway < 86_400:
            raise ValueError("the JWT leeway must be 0 to 86,399 seconds")
        self._secret = secret
        self._leeway = leeway
        self.lifetimes = lifetimes or Lifetimes()
        self._refuses = revocations.refuses if revocations is not None else None
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

    def known(self, authorization: str) -> Identity | None:
        """The caller of a request with this `Authorization` value when it is `Bearer <token>`
        with a token verified before, not expired and not revoked: what `identify` would
        answer, for the cost of a dict lookup (a warm request). None in every other case, the
        errors included: `identify` then says which."""
        if authorization[:7] != "Bearer ":  # (`startswith` parses its arguments: slower)
            return None
        cached = self._cache.get(authorization[7:])  # keys are stripped tokens: no " " at ends
        if cached is None or cached.exp + self._leeway <= time.time():
            return None
        if self._refuses is not None and self._refuses(cached):
            return None
        return cached

    def valid_until(self, who: Identity) -> float:
        """The Unix time from which `known` and `verify` call this identity's token expired
        (`exp` plus the leeway); a caller that keeps what `known` answered checks the clock
        against it on every use."""
        return who.exp + self._leeway

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
        """The identity a token names; AuthError otherwise: `bad_token`, `token_expired`,
        `token_lifetime` (valid for longer than `Lifetimes` allows), `token_revoked`.

        The user id passes `users.ids.user_id_problem`, the one rule for user ids.
        """
        cached = self._cache.get(token)
        if cached is not None:
            if cached.exp + self._leeway > time.time():
                if self._refuses is not None and self._refuses(cached):
                    raise _revoked()
                return cached
            del self._cache[token]
            raise AuthError("token_expired", "the token has expired")
        identity = self._decode(token)
        self._check_lifetime(identity)
        if self._refuses is not None and self._refuses(identity):
            raise _revoked()
        if len(token) <= TOKEN_CACHE_MAX_CHARS:
            self._cache[token] = identity
        return identity

    def _check_lifetime(self, who: Identity) -> None:
        """Refuse a token valid for longer than its role may be (see `Lifetimes`)."""
        longest = self.lifetimes.of(who.role)
        if who.iat is None:
            if who.is_designer:
                raise AuthError(
                    "bad_token",
                    "the token lacks the 'iat' claim: designer and admin tokens must say when "
                    "they were issued",
                )
            lifetime, counted = who.exp - time.time(), "exp - now"
            allowed = longest + self._leeway
        else:
            lifetime, counted = who.exp - who.iat, "exp - iat"
            allowed = longest
        if lifetime > allowed:
            raise AuthError(
                "token_lifetime",
                f"the token is valid for too long ({counted} = {lifetime:,.0f} s): this server "
                f"accepts {who.role} tokens valid for at most {longest:,.0f} s; mint a shorter one",
            )

    def _decode(self, token: str) -> Identity:
        """The identity of a token whose signature and claims check out; AuthError otherwise."""
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
        return _identity(claims)


def _revoked() -> AuthError:
    return AuthError(
        "token_revoked",
        "the token was revoked (by its id, or every token of its subject issued before a time); "
        "get a new one",
    )


EXP_NOT_NUMBER = "claim 'exp' must be Unix seconds before the year 10000"
IAT_NOT_NUMBER = "claim 'iat' must be Unix seconds before the year 10000"
NBF_NOT_NUMBER = "claim 'nbf' must be Unix seconds before the year 10000"
JTI_MAX = 256  # characters of a `jti` (a UUID is 36)


def _seconds(value: object) -> bool:
    """Whether a time claim is a number of Unix seconds (RFC 7519 2, NumericDate) within
    +-`EXP_MAX`: not a bool, not a string (PyJWT reads `true` and "1" as 1)."""
    return (
        not isinstance(value, bool)
        and isinstance(value, int | float)
        and -EXP_MAX <= value <= EXP_MAX
    )


def _identity(claims: dict[str, object]) -> Identity:
    """The Identity of verified claims; AuthError when a claim is not what it must be."""
    sub, role, exp = claims.get("sub"), claims.get("role", "user"), claims.get("exp")
    iat, jti = claims.get("iat"), claims.get("jti", "")
    problem = user_id_problem(sub)
    if problem is not None:
        raise AuthError("bad_token", f"claim 'sub': {problem}")
    assert isinstance(sub, str)
    if not isinstance(role, str) or role not in ROLES:
        raise AuthError("bad_token", f"claim 'role' must be one of {', '.join(ROLES)}")
    if isinstance(exp, bool) or not isinstance(exp, int | float) or not exp <= EXP_MAX:
        raise AuthError("bad_token", EXP_NOT_NUMBER)
    if iat is not None and not _seconds(iat):
        raise AuthError("bad_token", IAT_NOT_NUMBER)
    if "nbf" in claims and not _seconds(claims["nbf"]):
        raise AuthError("bad_token", NBF_NOT_NUMBER)
    if not isinstance(jti, str) or len(jti) > JTI_MAX or not jti.isprintable():
        # Printable: what a revocation can name (`auth.revocations.revocation`).
        raise AuthError(
            "bad_token",
            f"claim 'jti' must be a string of at most {JTI_MAX} printable characters",
        )
    issued = None if iat is None else float(cast(float, iat))  # a number: `_seconds` above
    return Identity(sub, role, float(exp), issued, jti)


def default_ttl(role: str, lifetimes: Lifetimes | None = None) -> int:
    """What `mint_token` gives without a `ttl`: a day for users, the longest a designer or admin
    token may live (12 h by default) for them."""
    limits = lifetimes or Lifetimes()
    return int(min(86_400, limits.of(role)))


def mint_token(
    secret: str,
    user: str,
    role: str = "user",
    ttl: int | None = None,
    *,
    now: Callable[[], float] = time.time,
) -> str:
    """A signed token for `user`, valid for `ttl` seconds (default `default_ttl(role)`), with
    `iat` and a random `jti` (a UUID4) that `uiserver token revoke --jti` can name."""
    issued = int(now())
    lifetime = default_ttl(role) if ttl is None else ttl
    claims: dict[str, object] = {
        "sub": user,
        "iat": issued,
        "exp": issued + lifetime,
        "jti": str(uuid.uuid4()),
    }
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
        # Bounded and never blocking (a FIFO or device there is refused: `uiserver.files`).
        return read_limited(path, SECRET_FILE_MAX_BYTES).decode().strip(), False
    if not create:
        return "", False
    data_dir.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(secret + "\n")
    return secret, True


# --------------------------------------------------------------------------- fast path
# A fast path for the common token: plain HS256, claims `sub`, `exp`, `iat`, `role`, `jti` only.
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
#   `sub` (a string), `exp` (an int), `iat` (an int), `role` and `jti` (strings), with `sub`
#   and `exp` present; `exp > now - leeway` (PyJWT: expired when `exp <= now - leeway`) and
#   `iat <= now + leeway` (PyJWT >= 2.10: immature when `iat > now + leeway`).
# Anything else (`nbf`, `aud`, `iss`, `kid`, floats, padding, an expired token...) goes to PyJWT.

FAST_HEADERS = ({"alg": "HS256", "typ": "JWT"}, {"alg": "HS256"})
FAST_CLAIMS = frozenset(("sub", "exp", "iat", "role", "jti"))
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
        sub, exp, iat = (claims.get(k) for k in ("sub", "exp", "iat"))
        if type(sub) is not str or type(exp) is not int:
            return None
        if any(k in claims and type(claims[k]) is not str for k in ("role", "jti")):
            return None
        if exp <= now - leeway:
            return None
        if "iat" in claims and (type(iat) is not int or iat > now + leeway):
            return None
        return claims
