"""The designer console's segments page: bulk import (as `PUT /v1/admin/segments`) and every
page's A/B variants with the share of users each gets."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from uiserver import designer
from uiserver.documents import DocumentError
from uiserver.http.console_auth import Session, checked_form, session
from uiserver.http.console_render import console_page, html
from uiserver.http.deps import service_of
from uiserver.http.errors import api_error

SEGMENTS_FORM_LIMIT = 24 * 1024 * 1024  # a 20 MB import, percent-encoded


async def _segments(request: Request, current: Session, status: int = 200,
                    **context: Any) -> Response:
    experiments = await designer.experiments(service_of(request))
    context.setdefault("notice", "")
    context.setdefault("error", None)
    context.setdefault("text", "")
    return html(request, "segments.html", status, current=current, section="segments",
                experiments=experiments, **context)


@console_page
async def segments_page(request: Request) -> Response:
    return await _segments(request, session(request))


@console_page
async def import_segments(request: Request) -> Response:
    current = session(request)
    form = await checked_form(request, current, SEGMENTS_FORM_LIMIT)
    text = form.get("segments", "")
    try:
        users = await designer.import_segments(service_of(request), text.encode())
    except DocumentError as exc:
        refused = api_error(exc)
        return await _segments(request, current, refused.status, text=text, error=refused.message)
    return await _segments(request, current, notice=f"Imported segments for {users} user(s).")
