"""`GET /v1/admin/audit` (role designer or admin): the audit log, newest first.

Query parameters (`admin.audit`): `limit` (1..200, default 50), `before` (an entry id, the
`next` of the page before), `page`, `act`, `actor`, `since`, `until` (Unix seconds or ISO
8601). Answer: `{"entries": [{"id", "time", "actor", "act", "page", "before", "after",
"details"}], "next": <id> | null}`; a bad or unknown parameter is 400 `bad_request` naming it.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from uiserver.admin import audit as audit_ops
from uiserver.http.deps import designer, service_of, store_writes
from uiserver.http.responses import json_response


async def audit_log(request: Request) -> Response:
    designer(request)
    with store_writes():
        _, page = await audit_ops.entries(service_of(request).audit, request.query_params)
    return json_response(page)


def audit_routes() -> list[BaseRoute]:
    return [Route("/v1/admin/audit", audit_log, methods=["GET"])]
