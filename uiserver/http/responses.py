"""JSON responses encoded by msgspec (Structs and plain values alike)."""

from __future__ import annotations

from typing import Any

import msgspec
from starlette.responses import Response

_encoder = msgspec.json.Encoder()


def json_response(
    content: Any, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    return Response(_encoder.encode(content), status, headers, media_type="application/json")
