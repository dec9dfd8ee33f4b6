"""Who is calling: tokens (`tokens`: HS256 JWTs, their lifetimes, the verified-claims cache and
its fast path), revocations (`revocations`: by `jti` or by subject, in every process within a
second) and the designer console's server-side sessions (`sessions`).
"""

from uiserver.auth.tokens import (
    ALGORITHM,
    ANONYMOUS,
    EXP_MAX,
    PRIVILEGED,
    ROLES,
    SECRET_FILE,
    AuthError,
    FastVerifier,
    Identity,
    Lifetimes,
    TokenVerifier,
    default_ttl,
    mint_token,
    resolve_secret,
)

__all__ = [
    "ALGORITHM",
    "ANONYMOUS",
    "EXP_MAX",
    "PRIVILEGED",
    "ROLES",
    "SECRET_FILE",
    "AuthError",
    "FastVerifier",
    "Identity",
    "Lifetimes",
    "TokenVerifier",
    "default_ttl",
    "mint_token",
    "resolve_secret",
]
