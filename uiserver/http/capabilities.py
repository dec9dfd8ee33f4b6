"""Capability negotiation's routes (`engine.capability`, README "Capabilities"):

    POST   /v1/capabilities                 a client registers its type list (any caller; an
                                            anonymous one's new lists are rate-limited)
    GET    /v1/admin/kill-switches          the kill switches (role admin)
    PUT    /v1/admin/kill-switches/{type}   switch a type off for a range of renderer versions
    DELETE /v1/admin/kill-switches/{type}   switch it back on

A kill switch is stored and invalidates `all`: every replica reloads the switches and no cached
layout keeps the type for the versions it covers, without a release of the app.
"""

from __future__ import annotations

import time
from typing import Annotated

import msgspec
from msgspec import Meta
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from uiserver.engine.capability import KillSwitch, parse_version
from uiserver.http.deps import admin, decode_json, identity, read_body, service_of, store_writes
from uiserver.http.errors import ApiError, error_response
from uiserver.http.responses import json_response
from uiserver.schema import IDENT_PATTERN, RendererVersion
from uiserver.serving.capabilities import RegistrationsLimited
from uiserver.store.base import RegistryFull

BODY_LIMIT = 32 * 1024
MAX_TYPES = 512  # types a client may list (the catalogue has a few dozen)
TypeName = Annotated[str, Meta(pattern=IDENT_PATTERN)]


class TypeList(msgspec.Struct, forbid_unknown_fields=True):
    """What a client can draw: its renderer version and every type it registered."""

    renderer: RendererVersion
    types: Annotated[list[TypeName], Meta(max_length=MAX_TYPES)]


class SwitchBody(msgspec.Struct, forbid_unknown_fields=True):
    """The renderer versions a type is switched off for: `since` through `until` (inclusive;
    null: every later one)."""

    since: RendererVersion = "0.0.0"
    until: RendererVersion | None = None
    reason: Annotated[str, Meta(max_length=500)] = ""


async def register(request: Request) -> Response:
    """201 `{"capability", "drawable", "unknown"}`: the value to send (`X-UI-Capabilities`),
    the listed types the server may send, the listed types it does not know. 409
    `registry_full` past the store's bound. Anonymous callers may register too (DESIGN 5: an
    anonymous launch gets the layout adapted to its context, and the server never serves a
    type the client cannot draw, so the 428 it answers must be answerable without a token):
    bounded by BODY_LIMIT and MAX_TYPES like anyone, and their new lists by a per-process
    budget (429 `rate_limited` with `Retry-After`); a bad token is still a 401."""
    anonymous = identity(request).anonymous
    body = decode_json(await read_body(request, BODY_LIMIT), TypeList)
    caps = service_of(request).capabilities
    try:
        with store_writes():
            capability = await caps.register(body.renderer, body.types, anonymous=anonymous)
    except RegistryFull as exc:
        raise ApiError(409, "registry_full", str(exc)) from None
    except RegistrationsLimited as exc:
        return error_response(
            429, "rate_limited", str(exc), None, {"Retry-After": str(exc.retry_after)}
        )
    listed = set(body.types)
    return json_response(
        {
            "capability": capability.key,
            "drawable": sorted(t for t in listed if t in caps.catalog),
            "unknown": sorted(t for t in listed if t not in caps.catalog),
        },
        201,
    )


def switch_json(switch: KillSwitch) -> dict[str, object]:
    return msgspec.to_builtins(switch)  # type: ignore[no-any-return]


async def list_switches(request: Request) -> Response:
    admin(request)
    with store_writes():
        switches = await service_of(request).store.capabilities.kill_switches()
    return json_response({"kill_switches": [switch_json(s) for s in switches]})


def _known_type(request: Request) -> str:
    name = request.path_params["type"]
    if name not in service_of(request).capabilities.catalog:
        raise ApiError(404, "not_found", f"no component type {name[:64]!r}", "type")
    return str(name)


async def put_switch(request: Request) -> Response:
    """200 the switch stored; 404 for a type not in the catalogue, 422 for `since` > `until`."""
    who = admin(request)
    name = _known_type(request)
    body = decode_json(await read_body(request, BODY_LIMIT), SwitchBody)
    if body.until is not None and parse_version(body.until) < parse_version(body.since):
        raise ApiError(422, "invalid", "`until` is before `since`", "until")
    switch = KillSwitch(name, body.since, body.until, body.reason, who.user_id, time.time())
    with store_writes():
        await service_of(request).store.capabilities.put_kill_switch(switch)
    return json_response(switch_json(switch))


async def delete_switch(request: Request) -> Response:
    """200 `{"type", "deleted": true}`; 404 when the type has no switch."""
    admin(request)
    name = _known_type(request)
    with store_writes():
        deleted = await service_of(request).store.capabilities.delete_kill_switch(name)
    if not deleted:
        raise ApiError(404, "not_found", f"{name!r} has no kill switch", "type")
    return json_response({"type": name, "deleted": True})


def capability_routes() -> list[BaseRoute]:
    base = "/v1/admin/kill-switches"
    return [
        Route("/v1/capabilities", register, methods=["POST"]),
        Route(base, list_switches, methods=["GET"]),
        Route(f"{base}/{{type}}", put_switch, methods=["PUT"]),
        Route(f"{base}/{{type}}", delete_switch, methods=["DELETE"]),
    ]
