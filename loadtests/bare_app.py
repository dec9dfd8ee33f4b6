"""The ceiling for a warm layout GET: a bare Starlette route returning constant bytes.

Run under the same uvicorn settings as `uiserver serve` (see `servers.uvicorn_options`). It
answers `/v1/layouts/{page}` with the layout bytes in `BARE_BODY_FILE` and the same headers a
warm uiserver answer carries; an `If-None-Match` equal to `BARE_ETAG` gets a 304, so the 304
path has a ceiling too. Nothing else: no auth, no cache lookup, no context parsing — whatever
uiserver spends on those is the gap the ratio measures.
"""

from __future__ import annotations

import os
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

BODY = (
    Path(os.environ["BARE_BODY_FILE"]).read_bytes()
    if "BARE_BODY_FILE" in os.environ
    else b'{"schema":1}'
)
ETAG = os.environ.get("BARE_ETAG", '"bare"')
HEADERS = {
    "ETag": ETAG,
    "Cache-Control": "private, max-age=60, stale-while-revalidate=86400, stale-if-error=604800",
    "Vary": "Authorization, Accept-Encoding",
}


async def layout(request: Request) -> Response:
    if request.headers.get("if-none-match") == ETAG:
        return Response(status_code=304, headers=HEADERS)
    return Response(BODY, media_type="application/json", headers=HEADERS)


app = Starlette(routes=[Route("/v1/layouts/{page}", layout)])
