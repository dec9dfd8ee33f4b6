"""`GET /v1/admin/assessment/{page}` (designer role): the page's ageing-friendly and WCAG 2.2
assessment (`engine.assess`): per persona and theme every server-judged item with its result,
measured figure, clause and the failing components, a score out of 100 (60 to pass), and the
items checked by people with their recorded results. `?format=md` or `html`: the report as
Markdown or an HTML fragment. `PUT /v1/admin/assessment/{page}/manual/{item}`
`{"result": "pass"|"fail"|"unchecked", "note"}` records a person's result (kept in the audit log).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from uiserver.admin import assessment as report
from uiserver.http.deps import designer, json_document, service_of, store_writes
from uiserver.http.errors import ApiError
from uiserver.http.responses import json_response

FORMATS = ("json", "md", "html")


async def get_assessment(request: Request) -> Response:
    """The report; 404 naming `page` for a page not live, 422 naming `format` for another."""
    designer(request)
    fmt = request.query_params.get("format", "json")
    if fmt not in FORMATS:
        raise ApiError(422, "invalid", f"format is one of {', '.join(FORMATS)}", "format")
    service = service_of(request)
    with store_writes():
        found = await report.page_assessment(
            service.live, service.audit, request.path_params["page"]
        )
    if fmt == "md":
        return PlainTextResponse(report.to_markdown(found), media_type="text/markdown")
    if fmt == "html":
        return HTMLResponse(report.to_html(found))
    return json_response(report.assessment_json(found))


async def record_manual(request: Request) -> Response:
    """Record a result for an item checked by people; the page's report comes back."""
    who = designer(request)
    page, item = request.path_params["page"], request.path_params["item"]
    body = await json_document(request)
    try:
        result, note = report.parse_record(item, body)
    except report.RecordError as exc:
        raise ApiError(422, "invalid", exc.message, exc.field) from None
    service = service_of(request)
    with store_writes():
        await report.page_assessment(service.live, service.audit, page)  # 404 first
        await report.record(service.audit, page, item, result, note, who.user_id)
        found = await report.page_assessment(service.live, service.audit, page)
    return json_response(report.assessment_json(found))


def assessment_routes() -> list[BaseRoute]:
    return [
        Route("/v1/admin/assessment/{page}", get_assessment, methods=["GET"]),
        Route("/v1/admin/assessment/{page}/manual/{item}", record_manual, methods=["PUT"]),
    ]
