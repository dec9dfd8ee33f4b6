"""`POST /v1/admin/revocations` and `GET /v1/admin/revocations` (role admin): revoke every token
of a user or designer issued until now (`{"subject": ...}`), or one token (`{"jti": ...}`).

A revocation is stored, and every replica refuses the tokens it covers (401 `token_revoked`) from
its next request on (SQLite: the change log its next request polls; Redis: pub/sub, milliseconds).
Console sessions opened with a revoked token end too. `uiserver token revoke` does the same from a
shell.
"""

from __future__ import annotations

import time

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from uiserver.audit.acts import revocation_details
from uiserver.auth.revocations import RevocationRefused, revocation
from uiserver.http.deps import admin, decode_json, read_body, service_of, store_writes
from uiserver.http.errors import ApiError
from uiserver.http.responses import json_response
from uiserver.store.base import Revocation

BODY_LIMIT = 4 * 1024


class RevokeBody(msgspec.Struct, forbid_unknown_fields=True):
    """Exactly one of `subject` (a token `sub`) or `jti`."""

    subject: str | None = None
    jti: str | None = None


def revocation_json(record: Revocation) -> dict[str, object]:
    """`{"kind", "subject"|"jti", "not_before", "expires", "author"}` (Unix seconds)."""
    return {
        "kind": record.kind,
        record.kind: record.value,
        "not_before": record.not_before,
        "expires": record.expires,
        "author": record.author,
    }


async def revoke(request: Request) -> Response:
    who = admin(request)
    body = decode_json(await read_body(request, BODY_LIMIT), RevokeBody)
    service = service_of(request)
    try:
        record = revocation(
            subject=body.subject,
            jti=body.jti,
            author=who.user_id,
            lifetimes=service.lifetimes,
            leeway=service.config.jwt_leeway,
            now=time.time(),
        )
    except RevocationRefused as exc:
        raise ApiError(422, "invalid", exc.message, exc.field) from None
    with store_writes():
        stored = await service.store.revocations.revoke(record)
    await service.audit.record("token.revoke", who.user_id, details=revocation_details(stored))
    return json_response(revocation_json(stored), 201)


async def list_revocations(request: Request) -> Response:
    admin(request)
    with store_writes():
        records = await service_of(request).store.revocations.revocations(time.time())
    return json_response({"revocations": [revocation_json(r) for r in records]})


def revocation_routes() -> list[BaseRoute]:
    return [
        Route("/v1/admin/revocations", revoke, methods=["POST"]),
        Route("/v1/admin/revocations", list_revocations, methods=["GET"]),
    ]
