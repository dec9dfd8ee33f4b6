"""Admin API routes for the visual designer: drafts (autosave), contrast readouts for the
colour pickers, and the component catalogue for the palette. Every route needs the designer or
admin role; a draft belongs to the designer whose token saves it.

  GET    /v1/admin/drafts          the caller's drafts (no text), by page
  GET    /v1/admin/drafts/{page}   the caller's draft of a page (404 `not_found` without one)
  PUT    /v1/admin/drafts/{page}   {"text": "...", "base_version": "..."} -> the saved draft
  DELETE /v1/admin/drafts/{page}   discard it -> {"discarded": true|false}
  POST   /v1/admin/contrast        {"palette": {...}, "pairs": [...], "enhanced": false}
  GET    /v1/admin/catalog         every component type (name, role, description, flags)
"""

from __future__ import annotations

import time
from collections.abc import Mapping

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from uiserver.admin import drafts
from uiserver.admin.contrast import ContrastRequest, readouts
from uiserver.http.deps import designer, json_document, service_of, store_writes
from uiserver.http.errors import ApiError, validation_field
from uiserver.http.phone_preview import phone_preview_routes
from uiserver.http.responses import json_response

# The body wraps a draft's text in JSON: escaping may double it, plus the other fields.
BODY_LIMIT = 2 * drafts.MAX_BYTES + 4096


async def list_drafts(request: Request) -> Response:
    service = service_of(request)
    who = designer(request)
    with store_writes():
        rows = await drafts.mine(service.live, service.drafts, who.user_id)
    return json_response({"drafts": rows})


async def get_draft(request: Request) -> Response:
    service = service_of(request)
    who = designer(request)
    with store_writes():
        body = await drafts.load(
            service.live,
            service.drafts,
            who.user_id,
            request.path_params["page"],
        )
    return json_response(body)


async def put_draft(request: Request) -> Response:
    service = service_of(request)
    who = designer(request)
    body = await json_document(request, BODY_LIMIT)
    if not isinstance(body, Mapping) or not isinstance(body.get("text"), str):
        raise ApiError(422, "invalid", 'the body must be {"text": "..."}', "text")
    base = body.get("base_version") or ""
    if not isinstance(base, str):
        raise ApiError(422, "invalid", "base_version must be a string", "base_version")
    page = request.path_params["page"]
    with store_writes():
        draft = await drafts.save(
            service.live,
            service.drafts,
            who.user_id,
            page,
            body["text"],
            base,
            time.time(),
        )
    return json_response(
        {"page": page, "base_version": draft.base_version, "updated": draft.updated}
    )


async def delete_draft(request: Request) -> Response:
    who = designer(request)
    with store_writes():
        gone = await drafts.discard(
            service_of(request).drafts, who.user_id, request.path_params["page"]
        )
    return json_response({"discarded": gone})


async def contrast(request: Request) -> Response:
    """Each pair's ratio, floor and WCAG source (`contrast_pairs`)."""
    designer(request)
    try:
        spec = msgspec.convert(await json_document(request, BODY_LIMIT), ContrastRequest)
    except msgspec.ValidationError as exc:
        message, field = validation_field(exc, ContrastRequest)
        raise ApiError(422, "invalid", message, field) from None
    return json_response({"pairs": readouts(service_of(request).policy, spec)})


async def catalog(request: Request) -> Response:
    designer(request)
    types = service_of(request).catalog.types
    return json_response({"types": [types[name] for name in sorted(types)]})


def designer_api_routes() -> list[BaseRoute]:
    return [
        Route("/v1/admin/drafts", list_drafts, methods=["GET"]),
        Route("/v1/admin/drafts/{page}", get_draft, methods=["GET"]),
        Route("/v1/admin/drafts/{page}", put_draft, methods=["PUT"]),
        Route("/v1/admin/drafts/{page}", delete_draft, methods=["DELETE"]),
        Route("/v1/admin/contrast", contrast, methods=["POST"]),
        Route("/v1/admin/catalog", catalog, methods=["GET"]),
        *phone_preview_routes(),  # a draft on a real phone (QR + preview token)
    ]
