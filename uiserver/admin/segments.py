"""Operators' segment import (`PUT /v1/admin/segments`, the console's segments page)."""

from __future__ import annotations

from uiserver.users.data import UserData


async def import_segments(users: UserData, body: bytes, content_type: str = "") -> int:
    """Replace the segments of every user in the import (all checked first, written in
    batches off the event loop: `UserData.import_segments`): users written."""
    return await users.import_segments(body, content_type)
