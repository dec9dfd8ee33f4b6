"""The audit log and its webhooks over HTTP.

`GET /v1/admin/audit` (role designer or admin): the audit log, newest first. Query parameters
(`admin.audit`): `limit` (1..200, default 50), `before` (an entry id, the `next` of the page
before), `page`, `act`, `actor`, `since`, `until` (Unix seconds or ISO 8601). Answer:
`{"entries": [{"id", "time", "actor", "act", "page", "before", "after", "details"}], "next":
<id> | null}`; a bad or unknown parameter is 400 `bad_request` naming it.

Webhooks (role admin; `audit.webhooks`, `audit.outbox`, `audit.formats`):
`POST /v1/admin/webhooks` `{"url", "format"?, "secret"?, "acts"?, "pages"?}` -> 201 with the
hook and, this once, its `secret`; `GET /v1/admin/webhooks` lists hooks with their delivery
state; `DELETE /v1/admin/webhooks/{id}`. Registering and deleting are audit entries too. The
same URL, format and filters registered again is 409 `webhook_exists` with the hook's `id`.
"""

from __future__ import annotations

import time

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from uiserver.admin import audit as audit_ops
from uiserver.admin.errors import Conflict
from uiserver.audit.webhooks import (
    WebhookRefused,
    check_address,
    hook_json,
    new_hook,
    same_hook,
    shown_url,
)
from uiserver.http.deps import admin, decode_json, designer, read_body, service_of, store_writes
from uiserver.http.errors import ApiError
from uiserver.http.responses import json_response

BODY_LIMIT = 16 * 1024


class HookBody(msgspec.Struct, forbid_unknown_fields=True):
    url: str
    format: str | None = None
    secret: str | None = None
    acts: list[str] | None = None
    pages: list[str] | None = None


async def audit_log(request: Request) -> Response:
    designer(request)
    with store_writes():
        page = await audit_ops.entries(service_of(request).audit, request.query_params)
    return json_response(page)


async def add_webhook(request: Request) -> Response:
    who = admin(request)
    body = decode_json(await read_body(request, BODY_LIMIT), HookBody)
    service = service_of(request)
    with store_writes():
        newest = await service.store.audit.last_id()
        try:
            hook = new_hook(
                body.url,
                body.format,
                body.secret,
                body.acts,
                body.pages,
                who.user_id,
                time.time(),
                newest,
            )
            await check_address(hook.url, service.config.webhook_allow_private)
        except WebhookRefused as exc:
            raise ApiError(422, "invalid", exc.message, exc.field) from None
        same = next((h for h in await service.store.webhooks.hooks() if same_hook(h, hook)), None)
        if same is not None:
            # The same URL, format and filters again (a retried POST, a script run twice):
            # every entry would be delivered twice to one receiver.
            raise Conflict(
                "webhook_exists",
                f"webhook {same.id} already delivers these entries to this URL in this format; "
                "delete it first to register it anew",
                "url",
                {"id": same.id},
            )
        await service.store.webhooks.add_hook(hook)
    details = {"id": hook.id, "format": hook.format, "url": shown_url(hook.url)}
    await service.audit.record("webhook.create", who.user_id, details=details)
    return json_response(hook_json(hook, newest, secret=True), 201)


async def list_webhooks(request: Request) -> Response:
    admin(request)
    service = service_of(request)
    with store_writes():
        newest = await service.store.audit.last_id()
        hooks = await service.store.webhooks.hooks()
    return json_response({"webhooks": [hook_json(h, newest) for h in hooks]})


async def delete_webhook(request: Request) -> Response:
    who = admin(request)
    hook_id = request.path_params["id"]
    service = service_of(request)
    with store_writes():
        deleted = await service.store.webhooks.delete_hook(hook_id)
    if not deleted:
        raise ApiError(404, "not_found", "no such webhook", "id")
    await service.audit.record("webhook.delete", who.user_id, details={"id": hook_id})
    return json_response({"id": hook_id, "deleted": True})


def audit_routes() -> list[BaseRoute]:
    return [
        Route("/v1/admin/audit", audit_log, methods=["GET"]),
        Route("/v1/admin/webhooks", add_webhook, methods=["POST"]),
        Route("/v1/admin/webhooks", list_webhooks, methods=["GET"]),
        Route("/v1/admin/webhooks/{id}", delete_webhook, methods=["DELETE"]),
    ]
