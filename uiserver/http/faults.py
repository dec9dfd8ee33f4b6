"""Fault injection for tests of a real server process: off unless `UISERVER_FAULTS=1`.

With it on, a request carrying `X-Uiserver-Fault: <kind>` fails on purpose, so process tests can
show what a client sees when code has a bug (issue 27, section 7); without it nothing here is
installed and the header means nothing. Never turn it on in production: anyone could make any
request fail.

- `raise`: before anything is sent; in the layout fast path for `GET /v1/layouts/{page}`,
  else in a Starlette middleware before the route;
- `stream`: after a 200's headers and the first chunk of a streamed body went out;
- `after`: after the route's whole response went out (as a failing background task does).
"""

from __future__ import annotations

import os

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from uiserver.http.errors import Answer
from uiserver.http.layouts import LayoutApp

HEADER = b"x-uiserver-fault"
ENV = "UISERVER_FAULTS"


class InjectedFault(RuntimeError):
    """The error a fault raises (a stand-in for any bug). Its message quotes the request's
    query string, as a real bug's message may quote what a client sent: tests check that it
    never reaches the log at INFO."""

    def __init__(self, where: str, scope: Scope) -> None:
        super().__init__(f"injected fault {where}: {scope.get('query_string', b'')!r}")


def enabled() -> bool:
    """`UISERVER_FAULTS` is `1`."""
    return os.environ.get(ENV, "") == "1"


def _kind(scope: Scope) -> bytes | None:
    for name, value in scope["headers"]:
        if name == HEADER:
            return bytes(value)
    return None


class FaultyLayoutApp(LayoutApp):
    """`LayoutApp` whose fast path raises on `X-Uiserver-Fault: raise`."""

    async def _layout(self, scope: Scope) -> Answer:
        if _kind(scope) == b"raise":
            raise InjectedFault("in the layout fast path", scope)
        return await super()._layout(scope)

    def injected(self, kind: str | None, query: bytes) -> None:
        """The same fault on the RSGI entry point (`http/rsgi.py`)."""
        if kind == "raise":
            raise InjectedFault("in the layout fast path", {"query_string": query})


class FaultMiddleware:
    """A pure ASGI middleware inside Starlette that raises where the request asks."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = _kind(scope) if scope["type"] == "http" else None
        if kind == b"raise":
            raise InjectedFault("in middleware", scope)
        if kind == b"stream":
            start: Message = {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"text/plain")],
            }
            await send(start)
            await send({"type": "http.response.body", "body": b"first chunk\n", "more_body": True})
            raise InjectedFault("while streaming", scope)
        await self.app(scope, receive, send)
        if kind == b"after":
            raise InjectedFault("after the response", scope)
