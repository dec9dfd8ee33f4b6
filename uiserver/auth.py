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

from uiserver.cache import BoundedDict

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


class TokenVerifier:
    """Verifies bearer tokens; remembers verified claims in a bounded cache until they expire."""

    def __init__(self, secret: str, cache_size: int = 100_000) -> None:
        if not secret:
            raise ValueError("a JWT secret is required")
        self._secret = secret
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
        if scheme.lower() != "bearer" or not token:
            raise AuthError("bad_token", "Authorization must be 'Bearer <token>'")
        return self.verify(token.strip())

    def verify(self, token: str) -> Identity:
        cached = self._cache.get(token)
        if cached is not None:
            if cached.exp > time.time():
                return cached
            del self._cache[token]
            raise AuthError("token_expired", "the token has expired")
        try:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=[ALGORITHM],
                options={"require": ["exp", "sub"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise AuthError("token_expired", "the token has expired") from exc
        except jwt.PyJWTError as exc:
            raise AuthError("bad_token", f"invalid token: {exc}") from exc
        sub, role = claims.get("sub"), claims.get("role", "user")
        if not isinstance(sub, str) or not sub or len(sub) > 128:
            raise AuthError("bad_token", "claim 'sub' must be a non-empty string")
        if role not in ROLES:
            raise AuthError("bad_token", f"unknown role {role!r}")
        identity = Identity(sub, role, float(claims["exp"]))
        self._cache[token] = identity
        return identity


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

