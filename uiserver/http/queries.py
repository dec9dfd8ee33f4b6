"""A query parameter given twice with different values, refused on the admin API, the phone
preview and the console before any route reads it (pure ASGI: `create_app` puts it inside
Starlette, in front of the routes).

Every route reads one value of a parameter (Starlette's `query_params.get`: the last), so
`?format=json&format=html`, `?limit=1&limit=` or `?persona=elderly&persona=off` silently picked
one. The caller meant one of them; saying so is a 400 `bad_query` naming the parameter (the
console: its 400 page), as `X-UI-Capabilities` sent twice with different values already was.
The same value twice is served. The launch context (`/v1/layouts`, the previews' context) is
checked by `serving.context.parse_context` itself.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from uiserver.http.console.api import API_PREFIX
from uiserver.http.console.render import html, is_console
from uiserver.http.errors import error_response
from uiserver.serving.context import conflicting_repeat, repeated

GUARDED = ("/v1/admin/", "/v1/preview/")
BRIDGE = API_PREFIX + "/"  # the console's JSON bridge to the admin API answers JSON


class RepeatedQuery:
    """Refuse a guarded request whose query gives a parameter twice with different values."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        query = scope.get("query_string", b"") if scope["type"] == "http" else b""
        path: str = scope.get("path", "")
        if query and b"&" in query and (path.startswith(GUARDED) or is_console(path)):
            name = conflicting_repeat(query)
            if name is not None:
                shown = name[:64]
                if is_console(path) and not path.startswith(BRIDGE):
                    response = html(
                        Request(scope),
                        "error.html",
                        400,
                        title="Bad request",
                        message=repeated(shown),
                    )
                else:
                    response = error_response(400, "bad_query", repeated(shown), shown)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
