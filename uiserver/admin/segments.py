"""Operators' segment import (`PUT /v1/admin/segments`, the console's segments page)."""

from __future__ import annotations

from uiserver.audit.log import AuditLog
from uiserver.users.data import UserData


async def import_segments(
    users: UserData,
    body: bytes,
    content_type: str = "",
    audit: AuditLog | None = None,
    actor: str = "",
) -> int:
    """Replace the segments of every user in the import (all checked first, written in
    batches off the event loop: `UserData.import_segments`): users written. The audit log
    (when given) records `segments.import` by `actor` with the count and the body's size,
    never a user id."""
    written = await users.import_segments(body, content_type)
    if audit is not None:
        await audit.record("segments.import", actor, details={"users": written, "bytes": len(body)})
    return written
