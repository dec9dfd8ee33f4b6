"""The rungs below the bare Starlette route: an app that only returns the layout bytes.

`app` is a raw ASGI callable (no framework), `rsgi_app` the same thing on granian's RSGI
interface. Both answer every GET with the bytes in `BARE_BODY_FILE` and the headers a warm
uiserver answer carries, and a matching `If-None-Match` (`BARE_ETAG`) with 304. They measure
what the HTTP server itself costs for these bytes, with no routing, parsing or auth at all.

    uvicorn raw_app:app --app-dir loadtests ...
    granian --interface asgi raw_app:app ...  /  granian --interface rsgi raw_app:rsgi_app ...
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

BODY = (
    Path(os.environ["BARE_BODY_FILE"]).read_bytes()
    if "BARE_BODY_FILE" in os.environ
    else b'{"schema":1}'
)
ETAG = os.environ.get("BARE_ETAG", '"bare"')
CACHE_CONTROL = "private, max-age=60, stale-while-revalidate=86400, stale-if-error=604800"
VARY = "Authorization, Accept-Encoding"

_ASGI_COMMON = [
    (b"content-type", b"application/json"),
    (b"cache-control", CACHE_CONTROL.encode()),
    (b"vary", VARY.encode()),
    (b"etag", ETAG.encode()),
]
_ASGI_200 = [*_ASGI_COMMON, (b"content-length", str(len(BODY)).encode())]
_ETAG_BYTES = ETAG.encode()


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Raw ASGI: the bytes, or 304; lifespan messages are acknowledged."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    for name, value in scope["headers"]:
        if name == b"if-none-match" and value == _ETAG_BYTES:
            await send({"type": "http.response.start", "status": 304, "headers": _ASGI_COMMON})
            await send({"type": "http.response.body", "body": b""})
            return
    await send({"type": "http.response.start", "status": 200, "headers": _ASGI_200})
    await send({"type": "http.response.body", "body": BODY})


_RSGI_COMMON = [
    ("content-type", "application/json"),
    ("cache-control", CACHE_CONTROL),
    ("vary", VARY),
    ("etag", ETAG),
]
_RSGI_200 = [*_RSGI_COMMON, ("content-length", str(len(BODY)))]


async def rsgi_app(scope: Any, protocol: Any) -> None:
    """granian RSGI: the same answers, one call into the server."""
    if scope.headers.get("if-none-match") == ETAG:
        protocol.response_bytes(304, _RSGI_COMMON, b"")
        return
    protocol.response_bytes(200, _RSGI_200, BODY)
