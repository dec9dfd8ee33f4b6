"""Console sessions and CSRF: who is signed in, and whether a form really came from them.

The session cookie holds the designer's token itself (HttpOnly, SameSite=Strict, Secure over
https, expiring with the token), so no server-side session table exists to lose or replicate.
The synchronizer token of every form is HMAC(server secret, session token): only this server can
make it, it fits only this session, and it changes when the session does. The login form, which
has no session yet, is bound the same way to a random pre-login cookie.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request

from uiserver.auth import AuthError, Identity
from uiserver.http.deps import read_body

PREFIX = "/designer"
SESSION_COOKIE = "uiserver_console"
LOGIN_COOKIE = "uiserver_login"
CSRF_FIELD = "csrf_token"
FORM_LIMIT = 2 * 1024 * 1024


class ConsoleError(Exception):
    """Ends a console request with an HTML error page (or a redirect to the login page)."""

    def __init__(self, status: int, title: str, message: str, *, clear: bool = False) -> None:
        super().__init__(message)
        self.status = status
        self.title = title
        self.message = message
        self.clear = clear


@dataclass(frozen=True, slots=True)
class Session:
    who: Identity
    token: str
    csrf: str


# --------------------------------------------------------------------------- sessions and CSRF


def server_secret(request: Request) -> str:
    secret: str = request.app.state.config.jwt_secret
    if not secret or request.app.state.verifier is None:
        raise ConsoleError(503, "Console unavailable", "this server has no token secret set")
    return secret


def sign(secret: str, purpose: str, value: str) -> str:
    """The synchronizer token: an HMAC only this server can make, bound to `value`."""
    message = f"{purpose}\x1f{value}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def _token_of(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if header and scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return request.cookies.get(SESSION_COOKIE, "")


def session(request: Request) -> Session:
    """The signed-in designer: 401 without a valid token, 403 for a token without the role."""
    secret = server_secret(request)
    token = _token_of(request)
    if not token:
        raise ConsoleError(401, "Sign in required", "sign in with a designer or admin token")
    try:
        who = request.app.state.verifier.verify(token)
    except AuthError as exc:
        raise ConsoleError(401, "Sign in again", exc.message, clear=True) from None
    if not who.is_designer:
        raise ConsoleError(
            403,
            "Not allowed",
            f"{who.user_id!r} has role {who.role!r}; the console needs designer or admin",
            clear=True,
        )
    return Session(who, token, sign(secret, "csrf", token))


def check_csrf(form: Mapping[str, str], expected: str) -> None:
    given = form.get(CSRF_FIELD, "")
    if not given or not hmac.compare_digest(given.encode(), expected.encode()):
        raise ConsoleError(
            403,
            "Form expired",
            "the form's CSRF token is missing or wrong; reload the page and try again",
        )


async def read_form(request: Request, limit: int = FORM_LIMIT) -> dict[str, str]:
    """An urlencoded form (the only kind the console sends), size-limited."""
    body = await read_body(request, limit)
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=50)
    except (UnicodeDecodeError, ValueError):
        raise ConsoleError(400, "Bad form", "the form could not be read") from None
    return dict(pairs)


async def checked_form(
    request: Request, current: Session, limit: int = FORM_LIMIT
) -> dict[str, str]:
    """The form of a signed-in POST, after its CSRF token checks out (403 otherwise)."""
    form = await read_form(request, limit)
    check_csrf(form, current.csrf)
    return form


def cookie_args(request: Request) -> dict[str, Any]:
    """Attributes of every console cookie: no script reads them, no other site sends them."""
    return {"httponly": True, "samesite": "strict", "secure": request.url.scheme == "https"}
