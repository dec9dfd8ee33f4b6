"""Bulk segment import: a JSON array or JSON lines of `{"user", "segments"}`, all checked first.

Every item is validated before anything is returned, so one bad line stores nothing. Failures
are `DocumentError`s naming the line or index: malformed JSON (a 400 `bad_json` over HTTP), or
a well-formed item that breaks a rule (`schema` true: a 422 `invalid`).
"""

from __future__ import annotations

import msgspec

from uiserver.documents import DocumentError, Limits, decode_json, named_field
from uiserver.schema import IDENT_MAX, IDENT_RULE, is_ident
from uiserver.users.ids import USER_ID_MAX, user_id_problem

__all__ = ["IMPORT_LIMITS", "USER_ID_MAX", "Assignment", "parse_segments"]

SEGMENT_NAME_MAX = IDENT_MAX  # segment names are identifiers (`schema.Ident`)
SEGMENTS_PER_USER_MAX = 100
IMPORT_LIMITS = Limits(max_bytes=20 * 1024 * 1024)  # the admin API's body limit
JSON_LINES_TYPES = frozenset(
    {
        "application/x-ndjson",
        "application/jsonl",
        "application/x-jsonlines",
        "application/jsonlines",
    }
)


class Assignment(msgspec.Struct, forbid_unknown_fields=True):
    """One line of a segment import: the user's segments, replacing what they had."""

    user: str
    segments: list[str]


def _invalid(field: str, message: str) -> DocumentError:
    return DocumentError(f"{field}: {message}", field, schema=True, named=True)


def _located(exc: DocumentError, where: str) -> DocumentError:
    """`exc` with its path under `where` (a line or array index; "" for the whole body)."""
    if not exc.schema:
        return DocumentError(
            f"{where}: {exc.message}" if where else exc.message, where or "$", detail=exc.detail
        )
    field = named_field(exc.field, exc.message)
    field = "" if field == "$" else field
    if where:
        field = f"{where}.{field}" if field else where
    return _invalid(field, exc.message) if field else DocumentError(exc.message, schema=True)


def _check(item: Assignment, where: str) -> None:
    problem = user_id_problem(item.user)  # the same rule as a token's `sub`
    if problem is not None:
        raise DocumentError(f"{where}: {problem}", f"{where}.user", schema=True)
    if len(item.segments) > SEGMENTS_PER_USER_MAX:
        raise DocumentError(
            f"{where}: at most {SEGMENTS_PER_USER_MAX} segments per user",
            f"{where}.segments",
            schema=True,
        )
    for i, name in enumerate(item.segments):
        if not is_ident(name):
            raise DocumentError(
                f"{where}: a segment name is an identifier ({IDENT_RULE})",
                f"{where}.segments[{i}]",
                schema=True,
            )


def _json_lines(body: bytes) -> list[Assignment]:
    items = []
    for number, line in enumerate(body.split(b"\n"), start=1):
        if not line.strip():
            continue
        where = f"line {number}"
        try:
            item = decode_json(line, Assignment, IMPORT_LIMITS)
        except DocumentError as exc:
            raise _located(exc, where) from None
        _check(item, where)
        items.append(item)
    return items


def _json_array(body: bytes) -> list[Assignment]:
    try:
        items = decode_json(body, list[Assignment], IMPORT_LIMITS)
    except DocumentError as exc:
        raise _located(exc, "") from None
    for i, item in enumerate(items):
        _check(item, f"[{i}]")
    return items


def parse_segments(body: bytes, content_type: str = "") -> list[tuple[str, list[str]]]:
    """(user, segments) pairs from a JSON array or JSON lines (by Content-Type, else by the
    first character); DocumentError on the first bad item."""
    if not body.strip():
        raise DocumentError("a body is required: a JSON array or JSON lines")
    if len(body) > IMPORT_LIMITS.max_bytes:
        raise DocumentError(f"document over {IMPORT_LIMITS.max_bytes} bytes")
    kind = content_type.split(";")[0].strip().lower()
    lines = kind in JSON_LINES_TYPES or not body.lstrip().startswith(b"[")
    items = _json_lines(body) if lines else _json_array(body)
    return [(item.user, item.segments) for item in items]
