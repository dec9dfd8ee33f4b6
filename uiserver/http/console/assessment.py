"""The designer console's assessment page (issue 24): a live page's ageing-friendly and WCAG 2.2
report (`admin.assessment`), each failing component linked to its place on that persona's phone
(`/pages/{page}/assessment/phone?persona=&theme=#c-<id>`, the H5 preview with every failure
marked at its component), and the items checked by people with the form that records a result.
"""

from __future__ import annotations

from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from uiserver.admin import assessment as report
from uiserver.admin.errors import NotFound
from uiserver.engine import PERSONAS
from uiserver.engine.assess import ASSESSED_PERSONAS, THEMES
from uiserver.http.console.auth import checked_form, session
from uiserver.http.console.render import console_page, html
from uiserver.http.deps import service_of, store_writes
from uiserver.http.errors import ApiError
from uiserver.http.preview.h5 import render_h5
from uiserver.schema import Context
from uiserver.users.ids import shown

PREFIX = "/designer"
# The phone is a picture of a page: no script, nothing loaded (as the API's H5 preview).
PHONE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; "
        "form-action 'none'; frame-ancestors 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}


def phone_url(page: str, persona: str, theme: str) -> str:
    return f"{PREFIX}/pages/{page}/assessment/phone?" + urlencode(
        {"persona": persona, "theme": theme}
    )


@console_page
async def assessment_page(request: Request) -> Response:
    current = await session(request)
    page = request.path_params["page"]
    service = service_of(request)
    with store_writes():
        found = await report.page_assessment(service.live, service.audit, page)
    return html(
        request,
        "assessment.html",
        current=current,
        section="assessment",
        page=page,
        report=found,
        table=report.to_html(found, lambda p, t: phone_url(page, p, t)),
    )


@console_page
async def assessment_phone(request: Request) -> Response:
    """One persona's phone in one theme, each failing component marked."""
    await session(request)
    page = request.path_params["page"]
    persona = request.query_params.get("persona", "default")
    theme = request.query_params.get("theme", "standard")
    if persona not in dict(ASSESSED_PERSONAS):
        raise ApiError(422, "invalid", "persona is one of the assessed personas", "persona")
    if theme not in {name for _, name in THEMES}:
        raise ApiError(422, "invalid", "theme is standard or dark", "theme")
    service = service_of(request)
    with store_writes():
        found = await report.page_assessment(service.live, service.audit, page)
    live = service.live.pages.get(page)
    if live is None:  # archived between the two reads
        raise NotFound(f"no page {shown(page)}", "page")
    dark = theme == "dark"
    # As measured: a live version whose base layout breaks a rule (stored before the rule) is
    # drawn as the template makes it, its failures marked (was a bare 500: LayoutRuleError).
    layout = service.engine.measured_layout(live.compiled, PERSONAS[persona], Context(dark=dark))
    document = render_h5(
        layout,
        service.catalog,
        title=live.template.title,
        caption=f"{dict(ASSESSED_PERSONAS)[persona]}, {theme} theme: failures marked",
        dark=dark,
        problems=report.offenders(found, persona, theme),
    )
    return HTMLResponse(document, headers=PHONE_HEADERS)


@console_page
async def record_manual(request: Request) -> Response:
    """The form of an item checked by people: record the result, back to the report."""
    current = await session(request)
    page, item = request.path_params["page"], request.path_params["item"]
    form = await checked_form(request, current)
    try:
        result, note = report.parse_record(
            item, {"result": form.get("result"), "note": form.get("note") or ""}
        )
    except report.RecordError as exc:
        raise ApiError(422, "invalid", exc.message, exc.field) from None
    service = service_of(request)
    with store_writes():
        await report.page_assessment(service.live, service.audit, page)
        await report.record(service.audit, page, item, result, note, current.who.user_id)
    return RedirectResponse(f"{PREFIX}/pages/{page}/assessment#manual", status_code=303)
