"""How every designer console page is answered: the HTML shell with its security headers, and
error pages for whatever a handler raises (session problems, designer and decoding errors, an
unreachable store), so no console page ever shows a 500 or a JSON body.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from uiserver.admin.errors import AdminError
from uiserver.documents import DocumentError
from uiserver.http.console.auth import (
    CSRF_FIELD,
    PREFIX,
    ROTATED,
    SESSION_COOKIE,
    ConsoleError,
    cookie_args,
    resolved_session,
    set_session_cookie,
)
from uiserver.http.errors import ApiError, allowed_methods, api_error
from uiserver.http.views import render
from uiserver.store.base import StoreUnavailable

HEADERS = {
    # Scripts only from this server's own files (`static/`): never inline, never another
    # origin, so a label that smuggles markup cannot run even if an escape were ever missed.
    # The console works without them too. Styles allow inline for CodeMirror's injected sheets
    # and the previews' own; previews are srcdoc frames and inherit this policy. `connect-src`
    # lets the editor's scripts call the admin API bridge (`console.api`).
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-src 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
TITLES = {404: "Not found", 413: "Too large", 400: "Bad request"}

Handler = Callable[[Request], Awaitable[Response]]


def html(request: Request, name: str, status: int = 200, **context: Any) -> Response:
    """A console template rendered with the shell's defaults and the security headers."""
    context.setdefault("current", None)
    context.setdefault("section", "")
    context.setdefault("page", None)
    context.setdefault("tab", "")
    context.setdefault("status", status)
    body = render(name, prefix=PREFIX, csrf_field=CSRF_FIELD, **context)
    return HTMLResponse(body, status, headers=HEADERS)


def redirect(url: str) -> Response:
    """303 See Other (after a POST) with the console's headers."""
    return RedirectResponse(url, 303, headers=HEADERS)


def _error_page(request: Request, exc: ConsoleError) -> Response:
    if exc.status == 401 and request.method == "GET" and not exc.clear:
        # No session at all: the login page is where to go. Anything else gets the error.
        return redirect(f"{PREFIX}/login")
    # A designer whose request failed after signing in (a page, version or persona that is not
    # there) keeps the console's menu and Sign out; a session or role problem shows neither.
    current = None if exc.status in (401, 403) else resolved_session(request)
    response = html(
        request, "error.html", exc.status, title=exc.title, message=exc.message, current=current
    )
    if exc.status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="uiserver"'
    if exc.clear:
        response.delete_cookie(SESSION_COOKIE, path=PREFIX, **cookie_args(request))
    return response


def is_console(path: str) -> bool:
    """Whether a request path is the console's (its pages answer HTML, errors too)."""
    return path == PREFIX or path.startswith(PREFIX + "/")


async def http_error_page(request: Request, exc: Exception) -> Response:
    """The console's page for a request no console route took: a 404 (an address mistyped, or
    `%2F` in a page name, which the server decodes into a path) or a 405 (a method the page
    does not take, with `Allow`); the API's JSON answer is for the API's own paths."""
    status = int(getattr(exc, "status_code", 404))
    titles = {404: "Not found", 405: "Method not allowed"}
    messages = {
        404: "There is no console page at this address.",
        405: f"This console page does not take {request.method[:16]}.",
    }
    response = html(
        request,
        "error.html",
        status,
        title=titles.get(status, TITLES.get(status, "Cannot do that")),
        message=messages.get(status, str(getattr(exc, "detail", ""))),
    )
    for name, value in (getattr(exc, "headers", None) or {}).items():
        response.headers[name] = value
    if status == 405:
        response.headers["Allow"] = allowed_methods(request)
    return response


def unexpected_error_page(request: Request, answer: Response) -> Response:
    """The console's page for a bug (`failures.starlette_handler`'s JSON 500, `answer`): the
    same status, request id and `Connection: close`, as a page a designer's browser shows."""
    rid = answer.headers.get("x-request-id", "")
    response = html(
        request,
        "error.html",
        500,
        title="Something went wrong",
        message=f"An unexpected error; it was logged with request id {rid}. "
        "Your draft is kept: go back and try again.",
    )
    response.headers["Connection"] = "close"
    response.headers["X-Request-Id"] = rid
    return response


def console_page(handler: Handler) -> Handler:
    """Turn ConsoleError, ApiError, designer and decoding errors and an unreachable store into
    HTML error pages, with the status the API would answer."""

    @functools.wraps(handler)
    async def wrapped(request: Request) -> Response:
        response = await _answer(request)
        rotated = getattr(request.state, ROTATED, None)
        if rotated is not None:  # the session's new id (the old one works GRACE_S more)
            set_session_cookie(request, response, *rotated)
        return response

    async def _answer(request: Request) -> Response:
        try:
            return await handler(request)
        except ConsoleError as exc:
            return _error_page(request, exc)
        except (ApiError, AdminError, DocumentError) as exc:
            api = exc if isinstance(exc, ApiError) else api_error(exc)
            return _error_page(
                request,
                ConsoleError(api.status, TITLES.get(api.status, "Cannot do that"), api.message),
            )
        except StoreUnavailable as exc:
            return _error_page(request, ConsoleError(503, "Store unreachable", str(exc)))

    return wrapped
