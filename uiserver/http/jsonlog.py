"""One JSON object per log line (`--log-format json`), importable without the app.

granian's supervisor (`http.supervisor`) names `JsonFormatter` in its log config, so importing
this module must not bring in the app: the standard library only. `http.logs` re-exports it with
msgspec's faster encoder for the workers' own lines (the same text: msgspec and `json` write
strings, ints and the access line's 3-decimal floats alike).
"""

from __future__ import annotations

import json
import logging
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

# The id of the request being handled, set by `logs.RequestLog` (JSON logs): a 500's body and
# its ERROR line name the id the access line and the `X-Request-Id` header carry
# (`failures.current_id` is this variable).
current_id: ContextVar[str | None] = ContextVar("uiserver_request_id", default=None)
# Fields a caller may add with `log.info(..., extra={...})` that go into the object as they are.
EXTRA = ("method", "route", "status", "duration_ms")
_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time (UTC, ms), level, logger, message, the request id of
    the request being handled, the access fields, and the exception's traceback if any. Raises
    TypeError (logging reports it) for an extra field JSON cannot hold."""

    def format(self, record: logging.LogRecord) -> str:
        stamp = datetime.fromtimestamp(record.created, UTC)
        doc: dict[str, Any] = {
            "time": stamp.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        current = current_id.get()
        if current is not None:
            doc["request_id"] = current
        for name in EXTRA:
            if name in record.__dict__:
                doc[name] = record.__dict__[name]
        if record.exc_info:
            doc["exception"] = self.formatException(record.exc_info)
        return self.encode(doc)

    def encode(self, doc: dict[str, Any]) -> str:
        """`doc` as compact JSON text (UTF-8 kept, not escaped)."""
        return _dumps(doc)
