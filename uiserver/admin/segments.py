"""Operators' segment import (`PUT /v1/admin/segments`, the console's segments page)."""

from __future__ import annotations

from uiserver.users.data import UserData
from uiserver.users.segments import parse_segments


async def import_segments(users: UserData, body: bytes, content_type: str = "") -> int:
    """Replace the segments of every user in the import (all checked first): users written."""
    return await users.put_segments(parse_segments(body, content_type))
