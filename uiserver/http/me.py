"""The client's own-data routes: settings, events, export and erasure (`/v1/me...`).

Every write reads the user's erasure epoch when its request begins, before the body arrives, and
hands it to the store: a request in flight while the user is erased stores nothing (settings:
409 `erased`; events: 202 with nothing stored). See `uiserver.store.base`.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from uiserver.auth import TokenVerifier
from uiserver.http.deps import (
    body_timeout,
    decode_json,
    identify,
    read_body,
    read_stream,
    service_of,
    signed_in,
    store_writes,
    user,
)
from uiserver.http.errors import Answer, ApiError, error_answer
from uiserver.http.responses import json_response
from uiserver.schema import EVENT_TS_LEEWAY, EventBatch
from uiserver.service import Service
from uiserver.users.settings import MERGE_PATCH, kept, merge_patch, replacement

SETTINGS_LIMIT = 4 * 1024
PATCH_MEDIA_TYPES = (MERGE_PATCH, "application/json")
EVENTS_LIMIT = 256 * 1024
EVENTS_PATH = "/v1/me/events"
JSON_TYPE = (b"content-type", b"application/json")
_encoder = msgspec.json.Encoder()


async def get_settings(request: Request) -> Response:
    user_id = user(request)
    with store_writes():
        settings = await service_of(request).users.get_settings(user_id)
    return json_response(settings)


async def put_settings(request: Request) -> Response:
    """Replace the whole settings object (every field required: 422 naming the first one
    missing); the next layout reflects it."""
    user_id = user(request)
    service = service_of(request)
    with store_writes():
        epoch = await service.users.write_epoch(user_id)
    body = await read_body(request, SETTINGS_LIMIT)
    settings = replacement(body)
    keep = kept(body)
    with store_writes():
        if keep is None:
            await service.users.put_settings(user_id, settings, epoch)
        else:  # a field added after the contract left out: keep the stored one
            settings = await service.users.update_settings(
                user_id, lambda stored: keep(settings, stored), epoch
            )
    return json_response(settings)


async def patch_settings(request: Request) -> Response:
    """Merge a JSON Merge Patch (RFC 7396) into the stored settings; the whole stored object
    comes back. `application/merge-patch+json` or `application/json`, else 415."""
    user_id = user(request)
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type not in PATCH_MEDIA_TYPES:
        raise ApiError(
            415,
            "unsupported_media_type",
            f"send the patch as {MERGE_PATCH} (RFC 7396) or application/json",
            "content-type",
        )
    service = service_of(request)
    with store_writes():
        epoch = await service.users.write_epoch(user_id)
    update = merge_patch(await read_body(request, SETTINGS_LIMIT))
    with store_writes():
        if update is None:
            return json_response(await service.users.get_settings(user_id))
        stored = await service.users.update_settings(user_id, update, epoch)
    return json_response(stored)


async def post_events(request: Request) -> Response:
    """A batch of behaviour events (`answer_events`, as granian's RSGI entry answers it)."""
    status, headers, body = await answer_events(
        service_of(request),
        request.app.state.verifier,
        request.headers.get("authorization"),
        request.headers.get("content-length"),
        request.stream(),
        body_timeout(request),
    )
    response = Response(body, status)
    response.raw_headers = headers
    return response


async def answer_events(
    service: Service,
    verifier: TokenVerifier | None,
    authorization: str | None,
    content_length: str | None,
    stream: AsyncIterator[bytes],
    timeout: float,
) -> Answer:
    """`POST /v1/me/events`, whichever interface received it (the ASGI route `post_events`, or
    granian's RSGI entry in `http/rsgi.py`): a batch of behaviour events answered 202
    `{"accepted", "stored", "ignored", "ignored_reasons"}`, as (status, headers, body) with
    headers as ASGI byte pairs. `authorization` and `content_length` are those headers (None:
    absent), `stream` the body's chunks, `timeout` the body timeout in seconds (`read_stream`).

    Events on unknown pages or components, or on components that are not interactive, are
    ignored and counted by reason; all are ignored when personalization is off. Errors are
    the API's JSON errors (`errors.error_answer`): 401 without a good token, 413 over
    EVENTS_LIMIT bytes, 408 for a late body, 400 `bad_json`, 422 `invalid`, 503 (Retry-After)
    when the store is unreachable. Anything else raised is a bug, the caller's to answer (500).
    """
    try:
        user_id = signed_in(identify(verifier, authorization))
        with store_writes():
            epoch = await service.events.epoch(user_id)
        raw = await read_stream(stream, content_length, EVENTS_LIMIT, timeout)
        # No second parse for repeated member names: the batch's CPU budget (README targets).
        batch = decode_json(raw, EventBatch, unique_keys=False)
        refuse_future_events(batch, time.time())
        with store_writes():
            outcome = await service.events.record(user_id, batch.events, epoch)
    except ApiError as exc:
        return error_answer(exc)
    body = _encoder.encode(
        {
            "accepted": len(batch.events),
            "stored": outcome.stored,
            "ignored": outcome.ignored,
            "ignored_reasons": outcome.reasons,
        }
    )
    # As Starlette's `Response` writes them (`json_response`): Content-Length, Content-Type.
    return 202, [(b"content-length", str(len(body)).encode()), JSON_TYPE], body


def refuse_future_events(batch: EventBatch, now: float) -> None:
    """ApiError 422 naming the first event whose `ts` lies more than EVENT_TS_LEEWAY (a day)
    ahead of `now`: a clock a little fast is normal, a timestamp from next year is a bug."""
    for i, event in enumerate(batch.events):
        if event.ts is not None and event.ts > now + EVENT_TS_LEEWAY:
            raise ApiError(
                422,
                "invalid",
                f"`ts` {event.ts:.0f} is more than a day ahead of "
                "the server's clock (Unix seconds)",
                f"events[{i}].ts",
            )


async def export_data(request: Request) -> Response:
    user_id = user(request)
    with store_writes():
        data = await service_of(request).users.export(user_id)
    return json_response({"user": user_id, "data": data})


async def erase(request: Request) -> Response:
    user_id = user(request)
    service = service_of(request)
    with store_writes():
        await service.users.erase(user_id)
    # The act by its count: the audit log never names an end user (actor `user`: their own).
    await service.audit.record("user.erase", "user", details={"users": 1})
    return json_response({"erased": True})


def client_routes() -> list[BaseRoute]:
    return [
        Route("/v1/me/settings", get_settings, methods=["GET"]),
        Route("/v1/me/settings", put_settings, methods=["PUT"]),
        Route("/v1/me/settings", patch_settings, methods=["PATCH"]),
        Route(EVENTS_PATH, post_events, methods=["POST"]),
        Route("/v1/me/data", export_data, methods=["GET"]),
        Route("/v1/me", erase, methods=["DELETE"]),
    ]
