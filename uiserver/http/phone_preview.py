"""A designer's draft on a real phone: a signed, short-lived preview token per draft x persona,
its QR code for the console, and the preview-only route the mini-program SDK fetches the draft
from instead of the live layout.

- `POST /v1/admin/preview-tokens/{page}` (designer) `{"persona": "default"}` -> 201
  `{"token", "url", "expires", "persona", "qr_svg"}`: `url` is
  `/v1/preview/layouts/{page}?preview_token=...` on this server, `qr_svg` its QR code (segno,
  error correction M). The token is valid `PREVIEW_TTL_S` (10 minutes).
- `GET /v1/preview/layouts/{page}?preview_token=...` (the token is the credential; no user token
  needed): the layout of the designer's saved draft of `page` as the persona gets it (the live
  version when the designer has no draft), re-read on every request, so a phone that reloads
  sees each save. Answers carry `Cache-Control: no-store`: never cached by a CDN, a proxy or the
  SDK's own cache. 401 `bad_preview_token` for a missing, forged, expired or other page's
  token; 422 when the saved draft fails lint (its problems listed).

The token is an HS256 JWT (RFC 7519) signed with a key derived from the server's JWT secret
(HMAC-SHA256 of it and "uiserver preview token", so it can never pass as a bearer token), with
the audience `uiserver-preview` (RFC 7519 4.1.3), the designer as `sub`, the page and persona.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Any

import jwt
import msgspec
import segno
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from uiserver import admin
from uiserver.admin import drafts
from uiserver.admin.preview import PersonaSpec
from uiserver.http.deps import designer, json_document, service_of, store_writes
from uiserver.http.errors import ApiError
from uiserver.http.responses import json_response
from uiserver.users.ids import shown

PREVIEW_TTL_S = 600  # ten minutes: long enough to scan and look, short enough to leak little
AUDIENCE = "uiserver-preview"
QUERY = "preview_token"
NO_STORE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


def _key(secret: str) -> bytes:
    return hmac.new(secret.encode(), b"uiserver preview token", hashlib.sha256).digest()


def mint_preview_token(
    secret: str, designer_id: str, page: str, persona: str, now: float | None = None
) -> tuple[str, int]:
    """(token, expiry in Unix seconds) for the designer's draft of `page` as `persona`."""
    issued = int(time.time() if now is None else now)
    expires = issued + PREVIEW_TTL_S
    claims = {
        "sub": designer_id,
        "aud": AUDIENCE,
        "page": page,
        "persona": persona,
        "iat": issued,
        "exp": expires,
    }
    return jwt.encode(claims, _key(secret), algorithm="HS256"), expires


def read_preview_token(secret: str, token: str, page: str) -> dict[str, Any]:
    """The claims of a valid token for `page`; ApiError 401 otherwise (forged, expired, another
    page's, or a bearer token; none sent: said so, not PyJWT's "Not enough segments")."""
    if not token:
        raise ApiError(
            401,
            "bad_preview_token",
            f"no preview token: open the URL the console's QR code shows (?{QUERY}=...)",
            QUERY,
        )
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            _key(secret),
            algorithms=["HS256"],
            audience=AUDIENCE,
            options={"require": ["exp", "iat", "sub", "aud"]},
        )
    except jwt.PyJWTError as exc:
        raise ApiError(401, "bad_preview_token", f"preview token refused: {exc}", QUERY) from None
    if claims.get("page") != page or not isinstance(claims.get("persona"), str):
        raise ApiError(401, "bad_preview_token", "this preview token is for another page", QUERY)
    return claims


def qr_svg(url: str) -> str:
    """An SVG QR code of `url` (error correction M, 4-module quiet zone, ISO/IEC 18004)."""
    code = segno.make(url, error="m", micro=False)
    return str(code.svg_inline(scale=4, dark="#000000", light="#FFFFFF", title="QR code"))


def _secret(request: Request) -> str:
    secret: str = request.app.state.config.jwt_secret
    if not secret:
        raise ApiError(503, "unavailable", "this server has no token secret set")
    return secret


async def create_preview_token(request: Request) -> Response:
    who = designer(request)
    page = request.path_params["page"]
    body = await json_document(request, 4096)
    persona = body.get("persona", "default") if isinstance(body, dict) else None
    if persona not in admin.persona_names():
        raise ApiError(
            422,
            "invalid",
            f"unknown persona {shown(str(persona))}; allowed: {', '.join(admin.persona_names())}",
            "persona",
        )
    with store_writes():
        await admin.live_page(service_of(request).live, page)
    token, expires = mint_preview_token(_secret(request), who.user_id, page, persona)
    root = request.scope.get("root_path", "")
    url = str(request.base_url).rstrip("/") + f"{root}/v1/preview/layouts/{page}?{QUERY}={token}"
    return json_response(
        {"token": token, "url": url, "expires": expires, "persona": persona, "qr_svg": qr_svg(url)},
        201,
        headers=NO_STORE,
    )


async def preview_layout(request: Request) -> Response:
    page = request.path_params["page"]
    claims = read_preview_token(_secret(request), request.query_params.get(QUERY, ""), page)
    service = service_of(request)
    with store_writes():
        live = await admin.live_page(service.live, page)
        try:
            saved = await drafts.load(service.live, service.drafts, claims["sub"], page)
        except admin.NotFound:
            saved = None
    template = live.template
    version: str | None = live.record.version
    if saved is not None:
        data = admin.decode_text(saved.text)
        checked, problems = admin.check_draft(service.publisher, page, data)
        if checked is None or problems:
            return json_response(
                {
                    "error": {
                        "code": "invalid",
                        "message": "the saved draft fails lint; fix it in the console",
                        "field": "draft",
                    },
                    "problems": msgspec.to_builtins(problems),
                },
                422,
                headers=NO_STORE,
            )
        template, version = checked, None
    layout = admin.preview_persona(
        service.publisher, template, PersonaSpec(base=claims["persona"]), None, version
    )
    return json_response(layout, headers=NO_STORE)


def phone_preview_routes() -> list[BaseRoute]:
    return [
        Route("/v1/admin/preview-tokens/{page}", create_preview_token, methods=["POST"]),
        Route("/v1/preview/layouts/{page}", preview_layout, methods=["GET"]),
    ]
