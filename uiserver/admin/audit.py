"""The audit log as the admin API (`GET /v1/admin/audit`) and the console's audit page read it:
their filters checked the same way (`parse_query`), one page of entries at a time.

Filters (query parameters; empty ones are ignored, as the console's form sends them):
`limit` 1..`MAX_LIMIT` (default 50), `before` (an entry id: entries older than it, the
`next` of the previous page), `page`, `act`, `actor` (exact), `since` and `until` (Unix
seconds, or ISO 8601: `2026-12-02`, `2026-12-02T10:00:00+08:00`; without a zone, UTC;
`since` <= time < `until`). Anything else is BadRequest naming the parameter.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime

from uiserver.admin.errors import BadRequest
from uiserver.audit.log import AuditLog
from uiserver.serving.context import DECIMAL
from uiserver.store.base import AuditPage, AuditQuery

MAX_LIMIT = 200
DEFAULT_LIMIT = 50
TEXT_MAX = 200
PARAMETERS = ("limit", "before", "page", "act", "actor", "since", "until")


def _whole(name: str, raw: str, low: int, high: int) -> int:
    # The length first: int() refuses more than 4300 digits (ValueError).
    if len(raw) > len(str(high)) or not raw.isascii() or not raw.isdigit():
        raise BadRequest(f"{name} must be a whole number from {low} to {high}", name)
    if not low <= int(raw) <= high:
        raise BadRequest(f"{name} must be a whole number from {low} to {high}", name)
    return int(raw)


def _instant(name: str, raw: str) -> float:
    """Unix seconds from a number or an ISO 8601 date or time (UTC without a zone; a space
    before the zone's hours is read as the "+" a URL turned into it)."""
    try:
        if not DECIMAL.fullmatch(raw):  # ASCII only: float() reads '١٢٣' and '1_000' too
            raise ValueError(raw)
        value = float(raw)
    except ValueError:
        # A zone's "+" typed into a URL unescaped arrives as a space (form encoding).
        zoned = re.sub(r"(\d\d:\d\d(?::\d\d(?:\.\d+)?)?) (\d\d(?::?\d\d)?)$", r"\1+\2", raw)
        try:
            parsed = datetime.fromisoformat(zoned)
        except ValueError:
            raise BadRequest(
                f"{name} must be Unix seconds or an ISO 8601 time (2026-12-02T10:00:00Z)", name
            ) from None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return parsed.timestamp()
    if not math.isfinite(value) or not 0 <= value < 10**11:
        raise BadRequest(f"{name} must be Unix seconds from 0 to 10^11", name)
    return value


def _text(name: str, raw: str) -> str:
    if len(raw) > TEXT_MAX or not raw.isprintable():
        raise BadRequest(f"{name} must be printable and at most {TEXT_MAX} characters", name)
    return raw


def parse_query(params: Mapping[str, str]) -> AuditQuery:
    """The query the parameters ask for; BadRequest naming the first bad (or unknown) one."""
    for name in params:
        if name not in PARAMETERS:
            raise BadRequest(
                f"unknown parameter {name[:40]!r}: expected one of {', '.join(PARAMETERS)}",
                name[:40],
            )
    given = {name: value for name, value in params.items() if value != ""}
    since = _instant("since", given["since"]) if "since" in given else None
    until = _instant("until", given["until"]) if "until" in given else None
    if since is not None and until is not None and until <= since:
        raise BadRequest("until must be later than since", "until")
    texts = {name: _text(name, given[name]) for name in ("page", "act", "actor") if name in given}
    return AuditQuery(
        limit=_whole("limit", given["limit"], 1, MAX_LIMIT) if "limit" in given else DEFAULT_LIMIT,
        before=_whole("before", given["before"], 1, 2**62) if "before" in given else 0,
        page=texts.get("page"),
        act=texts.get("act"),
        actor=texts.get("actor"),
        since=since,
        until=until,
    )


async def entries(audit: AuditLog, params: Mapping[str, str]) -> AuditPage:
    """The page of entries (newest first) the parameters ask for. Raises BadRequest and
    StoreUnavailable."""
    return await audit.entries(parse_query(params))
