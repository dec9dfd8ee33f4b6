"""The client's own-data routes: settings, events, export and erasure (`/v1/me...`)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from uiserver.http.deps import decode_json, read_body, service_of, store_writes, user
from uiserver.http.responses import json_response
from uiserver.schema import EventBatch, Settings

SETTINGS_LIMIT = 4 * 1024
EVENTS_LIMIT = 256 * 1024


async def get_settings(request: Request) -> Response:
    user_id = user(request)
    with store_writes():
        settings = await service_of(request).get_settings(user_id)
    return json_response(settings)


async def put_settings(request: Request) -> Response:
    """Replace the whole settings object; the next layout reflects it."""
    user_id = user(request)
    settings = decode_json(await read_body(request, SETTINGS_LIMIT), Settings)
    with store_writes():
        await service_of(request).put_settings(user_id, settings)
    return json_response(settings)


async def post_events(request: Request) -> Response:
    """A batch of behaviour events: 202 `{"accepted", "stored", "ignored", "ignored_reasons"}`.

    Events on unknown pages or components, or on components that are not interactive, are
    ignored and counted by reason; all are ignored when personalization is off.
    """
    user_id = user(request)
    batch = decode_json(await read_body(request, EVENTS_LIMIT), EventBatch)
    with store_writes():
        outcome = await service_of(request).record_events(user_id, batch.events)
    body = {
        "accepted": len(batch.events),
        "stored": outcome.stored,
        "ignored": outcome.ignored,
        "ignored_reasons": outcome.reasons,
    }
    return json_response(body, status=202)


async def export_data(request: Request) -> Response:
    user_id = user(request)
    with store_writes():
        data = await service_of(request).export_user(user_id)
    return json_response({"user": user_id, "data": data})


async def erase(request: Request) -> Response:
    user_id = user(request)
    with store_writes():
        await service_of(request).erase(user_id)
    return json_response({"erased": True})


def client_routes() -> list[BaseRoute]:
    return [
        Route("/v1/me/settings", get_settings, methods=["GET"]),
        Route("/v1/me/settings", put_settings, methods=["PUT"]),
        Route("/v1/me/events", post_events, methods=["POST"]),
        Route("/v1/me/data", export_data, methods=["GET"]),
        Route("/v1/me", erase, methods=["DELETE"]),
    ]
