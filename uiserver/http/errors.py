"""The contract's JSON error body, `{"error": {"code", "message", "field"}}`, and its statuses."""

from __future__ import annotations

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from uiserver.schema import ErrorBody, ErrorDetail

_encoder = msgspec.json.Encoder()


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
    status: int, code: str, message: str, field: str | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    return Response(
        error_body(code, message, field), status, headers=headers, media_type="application/json"
    )


def validation_field(exc: msgspec.ValidationError) -> tuple[str, str | None]:
    """msgspec's message and the `$.a.b` path it names, as ("message", "a.b")."""
    text = str(exc)
    if " - at `$" in text:
        message, _, where = text.rpartition(" - at `$")
        return message, where.rstrip("`").lstrip(".") or None
    return text, None


async def api_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    headers = {"Retry-After": "1"} if exc.status == 503 else None
    if exc.status == 401:
        headers = {"WWW-Authenticate": 'Bearer realm="uiserver"'}
    return error_response(exc.status, exc.code, exc.message, exc.field, headers)


async def http_exception_handler(request: Request, exc: Exception) -> Response:
    status = getattr(exc, "status_code", 500)
    detail = getattr(exc, "detail", "error")
    codes = {404: "not_found", 405: "method_not_allowed", 413: "too_large", 400: "bad_request"}
    return error_response(status, codes.get(status, "http_error"), str(detail))
