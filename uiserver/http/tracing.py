"""The request span of OpenTelemetry tracing (`uiserver.tracing`; installed only when tracing
is on, so the default warm path pays nothing).

Each request is one SERVER span named `METHOD route` (the route template: `GET
/v1/layouts/{page}`), child of the caller's W3C `traceparent` when it sent one, with the
attributes of the HTTP semantic conventions (`http.request.method`, `http.route`,
`http.response.status_code`) and an error status for a 5xx. The layout miss path adds children
(`store.profile`, `engine.plan`, `engine.render`). No user id, token or query is recorded.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from uiserver import tracing
from uiserver.http.logs import route_of


class Traced:
    """ASGI middleware: one span per HTTP request."""

    def __init__(self, app: ASGIApp, route_paths: Mapping[Any, str]) -> None:
        self.app = app
        self.route_paths = route_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        tracer = tracing.tracer()
        if scope["type"] != "http" or tracer is None:
            await self.app(scope, receive, send)
            return
        from opentelemetry.trace import SpanKind, Status, StatusCode

        method = scope["method"]
        parent = tracing.remote_parent(scope["headers"])
        with tracer.start_as_current_span(
            method, context=parent, kind=SpanKind.SERVER, attributes={"http.request.method": method}
        ) as span:
            status = [0]

            async def sending(message: Message) -> None:
                if message["type"] == "http.response.start":
                    status[0] = message["status"]
                await send(message)

            try:
                await self.app(scope, receive, sending)
            finally:
                route = route_of(scope, self.route_paths)
                span.update_name(f"{method} {route}")
                span.set_attribute("http.route", route)
                if status[0]:
                    span.set_attribute("http.response.status_code", status[0])
                if status[0] >= 500:
                    span.set_status(Status(StatusCode.ERROR))
