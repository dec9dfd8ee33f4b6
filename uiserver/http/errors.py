"""The contract's JSON error body, `{"error": {"code", "message", "field"}}`, and its statuses."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route

from uiserver.admin.errors import AdminError, Conflict
from uiserver.documents import DocumentError, error_path, named_field
from uiserver.schema import ErrorBody, ErrorDetail

_encoder = msgspec.json.Encoder()
# (status, headers, body), headers as ASGI byte pairs: a whole answer, sent by the caller.
Answer = tuple[int, list[tuple[bytes, bytes]], bytes]


class ApiError(Exception):
    """Raised anywhere in a handler: becomes a JSON error response with this status."""

    def __init__(self, status: int, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field


def error_body(code: str, message: str, field: str | None = None) -> bytes:
    return _encoder.encode(ErrorBody(ErrorDetail(code, message, field)))


def error_response(
    status: int,
    code: str,
    message: str,
    field: str | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    return Response(
        error_body(code, message, field), status, headers=headers, media_type="application/json"
    )


def validation_field(exc: msgspec.ValidationError, kind: Any = None) -> tuple[str, str | None]:
    """msgspec's message and the `$.a.b` path it names, as ("message", "a.b"); None for the
    root (`documents.error_path`, the one parser of msgspec's paths)."""
    field, message = error_path(exc, kind)
    return message, None if field == "$" else field


# The contract's status for each code a domain error carries.
STATUS_OF_CODE: Mapping[str, int] = {
    "bad_request": 400,
    "bad_json": 400,
    "not_found": 404,
    "invalid": 422,
    "layout_rule": 422,
    "conflict": 409,
    "stale_base": 409,
    "rollout_running": 409,
    "no_rollout": 409,
}


def api_error(exc: AdminError | DocumentError) -> ApiError:
    """A designer or decoding error as the API answers it: a malformed or over-limit document is
    400 `bad_json`, a well-formed one of the wrong shape 422 `invalid`."""
    if isinstance(exc, DocumentError):
        code = "invalid" if exc.schema else "bad_json"
        # An unknown or missing member is named itself, not the object around it.
        named = named_field(exc.field, exc.message) if exc.schema and not exc.named else exc.field
        field = None if named == "$" else named
        return ApiError(STATUS_OF_CODE[code], code, exc.message, field)
    # A Conflict is a 409 whatever its code (`no_schedule`, `schedule_conflict`, a store's
    # conflict code): the console's pages come here for every AdminError (a KeyError, a 500,
    # for a code missing from the table).
    status = 409 if isinstance(exc, Conflict) else STATUS_OF_CODE.get(exc.code, 422)
    return ApiError(status, exc.code, exc.message, exc.field)


async def api_error_handler(request: Request, exc: Exception) -> Response:
    if isinstance(exc, Conflict):
        # 409 with what the caller needs to resolve it beside the error (`live_version`,
        # `changes`, `rollout`).
        detail = {
            "error": {"code": exc.code, "message": exc.message, "field": exc.field},
            **exc.extra,
        }
        return Response(_encoder.encode(detail), 409, media_type="application/json")
    if isinstance(exc, AdminError | DocumentError):
        exc = api_error(exc)
    assert isinstance(exc, ApiError)
    status, headers, body = error_answer(exc)
    response = Response(body, status)
    response.raw_headers = headers
    return response


def error_answer(exc: ApiError) -> Answer:
    """An ApiError as every route answers it (the ASGI routes through `api_error_handler`, the
    RSGI events route in `http/rsgi.py` directly): the JSON error body, `Retry-After: 1` on a
    503, `WWW-Authenticate` on a 401 and `Connection: close` on a 408 (the body was not read
    to its end: the connection cannot carry another request). Headers in the order Starlette's
    `Response` writes them (extra ones, Content-Length, Content-Type)."""
    body = error_body(exc.code, exc.message, exc.field)
    status = exc.status
    if status == 503:
        extra = [(b"retry-after", b"1")]
    elif status == 401:
        extra = [(b"www-authenticate", b'Bearer realm="uiserver"')]
    elif status == 408:
        extra = [(b"connection", b"close")]
    else:
        extra = []
    return (
        status,
        [
            *extra,
            (b"content-length", str(len(body)).encode()),
            (b"content-type", b"application/json"),
        ],
        body,
    )


def allowed_methods(request: Request) -> str:
    """The `Allow` value of a 405 (RFC 9110 15.5.6): every method some route takes at this
    path. Starlette's own lists only the first matching route's methods, and the routes of a
    path are split by method here (GET and PUT `/v1/me/settings` are two routes)."""
    path = request.url.path
    methods: set[str] = set()
    for route in request.app.router.routes:
        if isinstance(route, Route) and route.path_regex.match(path):
            methods.update(route.methods or ())
        elif isinstance(route, Mount) and route.path_regex.match(path):
            methods.update(("GET", "HEAD"))  # static files
    return ", ".join(sorted(methods or {"GET", "HEAD"}))


async def http_exception_handler(request: Request, exc: Exception) -> Response:
    status = getattr(exc, "status_code", 500)
    detail = getattr(exc, "detail", "error")
    headers = dict(getattr(exc, "headers", None) or {})
    if status == 405:
        headers["Allow"] = allowed_methods(request)
    codes = {404: "not_found", 405: "method_not_allowed", 413: "too_large", 400: "bad_request"}
    return error_response(status, codes.get(status, "http_error"), str(detail), headers=headers)
