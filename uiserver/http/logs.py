"""Structured JSON logs with request ids (`uiserver serve --log-format json`,
`UISERVER_LOG_FORMAT=json`); the default `text` leaves logging as it was.

In JSON mode every line on stderr is one object:

    {"time": "2026-12-02T15:04:05.123Z", "level": "INFO", "logger": "uiserver.access",
     "message": "GET /v1/layouts/{page} 200", "request_id": "5f0c...", "method": "GET",
     "route": "/v1/layouts/{page}", "status": 200, "duration_ms": 0.41}

- `RequestLog` (installed in JSON mode only, so the default warm path pays nothing) gives each
  request an id: the caller's `X-Request-Id` when it is 1-128 characters of `[A-Za-z0-9._:-]`
  and not a JWT (a proxy's id carries through; a bearer token sent there is never logged), else
  a new one (`failures.request_id`, which a 500 names too); it is sent back as
  `X-Request-Id`, and every line logged while the request is handled carries it (a context
  variable).
- one access line per request at INFO (`uiserver.access`): the route template, never the raw
  path or query, and never the user id or token (DESIGN: no user ids or tokens at INFO).
- uvicorn's own loggers get the same formatter.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Mapping
from contextvars import ContextVar
from typing import Any

import msgspec
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from uiserver.http import jsonlog
from uiserver.http.failures import request_id as failures_request_id
from uiserver.http.jsonlog import current_id
from uiserver.http.layouts import PREFIX

LOG_FORMATS = ("text", "json")
request_id: ContextVar[str | None] = current_id  # the request's id while it is handled
access = logging.getLogger("uiserver.access")

_encode = msgspec.json.Encoder().encode


class JsonFormatter(jsonlog.JsonFormatter):
    """`jsonlog.JsonFormatter` (what granian's supervisor logs with) encoding with msgspec:
    the same objects, written faster on the workers' access lines."""

    def encode(self, doc: dict[str, Any]) -> str:
        return _encode(doc).decode()


def configure(log_format: str, level: str = "info") -> None:
    """JSON mode: one stderr handler with `JsonFormatter` on the `uiserver` logger (at `level`)
    and on uvicorn's loggers. Text mode changes nothing. Raises ValueError for another format."""
    if log_format not in LOG_FORMATS:
        raise ValueError(f"log format must be one of {', '.join(LOG_FORMATS)}, not {log_format!r}")
    if log_format == "text":
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    ours = logging.getLogger("uiserver")
    ours.handlers = [handler]
    ours.setLevel(level.upper())
    ours.propagate = False
    for name in ("uvicorn", "uvicorn.error"):
        for existing in logging.getLogger(name).handlers:
            existing.setFormatter(JsonFormatter())


def incoming_id(headers: list[tuple[bytes, bytes]]) -> str:
    """The caller's `X-Request-Id` when it is a plain token (not a JWT), else a new random id:
    `failures.request_id`, so a 500's body names the id this request's lines carry."""
    return failures_request_id(headers)


class RequestLog:
    """Request ids and one access line per request (JSON mode only)."""

    def __init__(self, app: ASGIApp, route_paths: Mapping[Any, str]) -> None:
        self.app = app
        self.route_paths = route_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = incoming_id(scope["headers"])
        token = request_id.set(rid)
        started = time.perf_counter()
        status = [0]
        header = (b"x-request-id", rid.encode())

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
                message = {**message, "headers": [*message.get("headers", ()), header]}
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            route = route_of(scope, self.route_paths)
            access.info(
                "%s %s %d",
                scope["method"],
                route,
                status[0],
                extra={
                    "method": scope["method"],
                    "route": route,
                    "status": status[0],
                    "duration_ms": round((time.perf_counter() - started) * 1000, 3),
                },
            )
            request_id.reset(token)


def route_of(scope: Scope, route_paths: Mapping[Any, str]) -> str:
    """The route template of a handled request (`other` for a path no route took)."""
    if scope["path"].startswith(PREFIX) and scope["method"] in ("GET", "HEAD"):
        return PREFIX + "{page}"
    return route_paths.get(scope.get("endpoint"), "other")
