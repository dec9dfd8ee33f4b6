"""Console sessions and CSRF: who is signed in, and whether a form really came from them.

Signing in with a token opens a server-side session (`auth.sessions`): the cookie holds only
its random id (HttpOnly, SameSite=Strict, Secure over https, Max-Age the session's absolute
end), never the token; logout ends it in the store, so a copied cookie stops working on every
replica. The synchronizer token of every form is HMAC(server secret, the session's CSRF seed):
only this server can make it, it fits only this sign-in (it survives the periodic rotation of
the id, so open forms keep working, and a new sign-in gets a new one). The login form, which has
no session yet, is bound the same way to a random pre-login cookie. A caller sending
`Authorization: Bearer` (a script, not a browser) gets no session; its synchronizer token is
bound to the token.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import Response

from uiserver.auth import AuthError, Identity
from uiserver.auth.sessions import SessionEnded
from uiserver.documents import DEFAULT_LIMITS
from uiserver.http.deps import read_body, service_of
from uiserver.store.base import SessionRecord

PREFIX = "/designer"
SESSION_COOKIE = "uiserver_console"
LOGIN_COOKIE = "uiserver_login"
CSRF_FIELD = "csrf_token"
# A console form carries a template of up to DEFAULT_LIMITS.max_bytes (the limit the admin API
# and the drafts apply) percent-encoded: at most 3 bytes per byte (`%XX`, RFC 3986 2.1; every
# byte of a CJK character is one), plus the form's other fields. 2 MiB refused a 760 kB
# Chinese template the API accepted, with a bare "Too large" page instead of the editor.
FORM_LIMIT = 3 * DEFAULT_LIMITS.max_bytes + 64 * 1024


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
    """The signed-in designer; `record` None for a bearer-header caller (no console session)."""

    who: Identity
    csrf: str
    record: SessionRecord | None = None


_CURRENT = "console_session"  # request.state: the session, resolved once per request
ROTATED = "console_rotated"  # request.state: (new id, expires) to set as the cookie


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


def _bearer_of(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if header and scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return ""


def _bearer_session(request: Request, secret: str, token: str) -> Session:
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
    return Session(who, sign(secret, "csrf", f"bearer\x1f{token}"))


def resolved_session(request: Request) -> Session | None:
    """The session this request already resolved (`session`), else None; no store read."""
    known = getattr(request.state, _CURRENT, None)
    return known if isinstance(known, Session) else None


async def session(request: Request, *, rotate: bool = True) -> Session:
    """The signed-in designer: 401 without a session (or a valid bearer token), 403 for a token
    without the role. A session due for a new id gets one (`rotate`); the page's response sets
    it as the cookie (`console.render.console_page`). Raises StoreUnavailable."""
    known = getattr(request.state, _CURRENT, None)
    if isinstance(known, Session):
        return known
    secret = server_secret(request)
    token = _bearer_of(request)
    if token:
        current = _bearer_session(request, secret, token)
    else:
        session_id = request.cookies.get(SESSION_COOKIE, "")
        if not session_id:
            raise ConsoleError(401, "Sign in required", "sign in with a designer or admin token")
        try:
            resumed = await service_of(request).sessions.resume(session_id, rotate=rotate)
        except SessionEnded as exc:
            raise ConsoleError(401, "Sign in again", exc.message, clear=True) from None
        if resumed.new_id is not None:
            setattr(request.state, ROTATED, (resumed.new_id, resumed.record.expires))
        current = Session(resumed.who, sign(secret, "csrf", resumed.record.csrf), resumed.record)
    setattr(request.state, _CURRENT, current)
    return current


def set_session_cookie(
    request: Request, response: Response, session_id: str, expires: float
) -> None:
    """The session cookie: its id, living until the session's absolute end at most."""
    max_age = max(1, int(expires - time.time()))
    response.set_cookie(
        SESSION_COOKIE, session_id, max_age=max_age, path=PREFIX, **cookie_args(request)
    )


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
