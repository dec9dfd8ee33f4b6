"""The admin API for the console's own scripts, under `/designer/api/v1/admin/...`.

The console's scripts hold no token (the session cookie is HttpOnly and holds only a session
id). This bridge checks the session and a CSRF header (`X-CSRF-Token`, the page's synchronizer
token from `<meta name="csrf-token">`), then hands the request to the very same admin routes with
the session's identity in the scope (`deps.BRIDGED`; no Authorization or Cookie header goes
through): the editor shows exactly what the API answers, with no second implementation. Errors
are the API's JSON errors. The bridge never rotates the session id (its JSON answers set no
cookie); the next page the designer opens does.
"""

from __future__ import annotations

import hmac

from starlette.requests import Request
from starlette.routing import BaseRoute, Route, Router
from starlette.types import Receive, Scope, Send

from uiserver.http.admin import admin_routes
from uiserver.http.console.auth import PREFIX, ConsoleError, session
from uiserver.http.deps import BRIDGED
from uiserver.http.editor_api import designer_api_routes
from uiserver.http.errors import error_response
from uiserver.store.base import StoreUnavailable

API_PREFIX = f"{PREFIX}/api"
CSRF_HEADER = "x-csrf-token"
CODES = {401: "unauthenticated", 403: "forbidden", 503: "unavailable"}


class ConsoleBridge:
    """An ASGI app: session + CSRF header checked, then the admin routes."""

    def __init__(self) -> None:
        self.router = Router(routes=[*admin_routes(), *designer_api_routes()])

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        try:
            current = await session(request, rotate=False)
        except ConsoleError as exc:
            response = error_response(exc.status, CODES.get(exc.status, "forbidden"), exc.message)
            await response(scope, receive, send)
            return
        except StoreUnavailable:
            response = error_response(
                503, "store_unavailable", "the data store is unreachable; try again shortly"
            )
            await response(scope, receive, send)
            return
        given = request.headers.get(CSRF_HEADER, "")
        if not given or not hmac.compare_digest(given.encode(), current.csrf.encode()):
            response = error_response(
                403,
                "forbidden",
                "the X-CSRF-Token header is missing or wrong; reload the page",
                CSRF_HEADER,
            )
            await response(scope, receive, send)
            return
        path = scope["path"][len(API_PREFIX) :]
        headers = [(k, v) for k, v in scope["headers"] if k not in (b"authorization", b"cookie")]
        inner = {
            **scope,
            "path": path,
            "raw_path": path.encode(),
            "headers": headers,
            BRIDGED: current.who,
        }
        await self.router(inner, receive, send)


def console_api_routes() -> list[BaseRoute]:
    methods = ["GET", "POST", "PUT", "DELETE"]
    return [Route(f"{API_PREFIX}/v1/admin/{{rest:path}}", ConsoleBridge(), methods=methods)]
