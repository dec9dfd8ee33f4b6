"""Unexpected errors: one JSON 500 that closes the connection, one log line, one count.

Before this, a bug raised in a route reached the server after Starlette had sent its plain-text
500 without `Connection: close`; uvicorn then closed the socket under the client, so the
client's *next* request on that keep-alive connection was reset too (issue 27, section 7: one
bug cost a mini-program two failed requests). Now the error ends in the app:

- before the response started: a JSON 500 (`{"error": {"code": "internal", ...}}`) with
  `Connection: close` and `X-Request-Id`, so the client opens a fresh connection for its next
  request instead of reusing one whose state nobody can vouch for (RFC 9112 9.6: the server
  says it closes, then closes after this response);
- during a streamed response (headers sent, body unfinished): nothing more can be said; the app
  returns without finishing the body, the server aborts the connection and the client sees a
  truncated response, never a silently short one;
- after the response (a background task): the client already has its whole answer and the
  connection stays usable.

Each is logged once at ERROR with a request id (the client's `X-Request-Id` when it is a short
token, e.g. nginx's `$request_id`, else a fresh one), the method, the route template and the
traceback frames, but not the exception's message, which may quote a user id or a token (the
message goes to DEBUG with the same id). Each is counted in
`uiserver_unexpected_errors_total{stage}`.
"""

from __future__ import annotations

import logging
import re
import secrets
import traceback
from collections.abc import Mapping
from typing import Any

from prometheus_client import Counter
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send

from uiserver.http.errors import error_body
from uiserver.http.jsonlog import current_id

log = logging.getLogger("uiserver.errors")

# A client's id is kept only when it is a short token: it goes into a log line and a header.
REQUEST_ID = re.compile(rb"[A-Za-z0-9._:-]{1,128}")
# The scope key Starlette's 500 handler leaves its request id under, for the outer guard.
SCOPE_KEY = "uiserver.request_id"
STAGES = ("before_response", "during_response", "after_response")


def request_id(headers: Any) -> str:
    """The id of the request being handled (`current_id`) when one was given it, else its
    `X-Request-Id` when that is 1-128 characters of `[A-Za-z0-9._:-]` and not a JSON Web
    Token (a client that sent its bearer token there would have it logged at INFO: its user
    id is in the payload), else 16 fresh hex digits. `headers`: the ASGI scope's
    `[(name, value)]` list. The one reading of the header (`logs.RequestLog` uses it too)."""
    current = current_id.get()
    if current is not None:
        return current
    for name, value in headers:
        if name == b"x-request-id" and REQUEST_ID.fullmatch(value) and not _jwt(value):
            return str(value.decode("ascii"))
    return secrets.token_hex(8)


def _jwt(value: bytes) -> bool:
    """Whether a value looks like a JWS compact token or its start: `eyJ` (base64url of `{"`,
    the header) then a dot (the payload, with the user id, follows it)."""
    return value.startswith(b"eyJ") and b"." in value


def internal_error(rid: str) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """The 500 answered for a bug: (status, headers, body), JSON, closing the connection."""
    body = error_body("internal", f"an unexpected error; it was logged with request id {rid}")
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
        (b"x-request-id", rid.encode()),
    ]
    return 500, headers, body


class Failures:
    """Logs and counts unexpected errors, and answers them when nothing was sent yet.

    `counter` is `uiserver_unexpected_errors_total{stage}` in the app's registry (`Metrics`).
    """

    def __init__(self, counter: Counter, routes: Mapping[Any, str] | None = None) -> None:
        self.counter = counter
        self.routes = routes or {}
        for stage in STAGES:
            counter.labels(stage=stage)  # every series shows from the start, at 0

    def record(self, scope: Scope, exc: BaseException, stage: str, rid: str) -> None:
        """Log `exc` once (ERROR without its message; DEBUG with it) and count it."""
        self.counter.labels(stage=stage).inc()
        route = self.routes.get(scope.get("endpoint"), "other")
        if scope.get("path", "").startswith("/v1/layouts/"):
            route = "/v1/layouts/{page}"
        frames = "".join(traceback.format_tb(exc.__traceback__))
        log.error(
            "unexpected %s %s %s %s (request id %s)\n%s",
            type(exc).__qualname__,
            stage.replace("_", " "),
            scope.get("method", "?"),
            route,
            rid,
            frames.rstrip(),
        )
        log.debug("request id %s: %r", rid, exc)

    async def answer(self, scope: Scope, send: Send, exc: Exception) -> None:
        """Nothing was sent yet: record `exc`, then send the JSON 500 that closes."""
        rid = request_id(scope.get("headers", ()))
        self.record(scope, exc, "before_response", rid)
        status, headers, body = internal_error(rid)
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def guard(self, app: Any, scope: Scope, receive: Receive, send: Send) -> None:
        """Run `app`, ending any exception it raises here (the server never sees one).

        Starlette's own 500 (the handler below) has already answered a route's error and left
        its request id in the scope; anything raised outside Starlette is answered here.
        """
        tracked = _TrackedSend(send, scope)
        try:
            await app(scope, receive, tracked)
        except Exception as exc:
            rid = scope.get(SCOPE_KEY) or request_id(scope.get("headers", ()))
            if tracked.answered:
                self.record(scope, exc, "before_response", rid)
            elif not tracked.started:
                await self.answer(scope, send, exc)
            elif tracked.done:
                self.record(scope, exc, "after_response", rid)
            else:
                # Headers and part of the body are out: return without finishing it, and the
                # server aborts the connection (a truncated body, never a short "complete" one).
                self.record(scope, exc, "during_response", rid)

    async def starlette_handler(self, request: Request, exc: Exception) -> Response:
        """Starlette's handler for `Exception` (its ServerErrorMiddleware sends this, then
        re-raises to `guard`, which logs and counts once)."""
        rid = request_id(request.scope.get("headers", ()))
        request.scope[SCOPE_KEY] = rid
        status, headers, body = internal_error(rid)
        response = Response(body, status)
        response.raw_headers = headers
        return response


class _TrackedSend:
    """`send`, remembering whether the response started, whether its body ended, and whether
    what started was Starlette's 500 (its handler marks the scope before the 500 goes out; it
    is called, but its answer not sent, when an error strikes after the response started)."""

    __slots__ = ("answered", "done", "scope", "send", "started")

    def __init__(self, send: Send, scope: Scope) -> None:
        self.send = send
        self.scope = scope
        self.started = False
        self.done = False
        self.answered = False

    async def __call__(self, message: Message) -> None:
        kind = message["type"]
        if kind == "http.response.start":
            self.started = True
            self.answered = SCOPE_KEY in self.scope
        elif kind == "http.response.body" and not message.get("more_body", False):
            self.done = True
        await self.send(message)
