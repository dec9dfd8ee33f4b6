"""Bulk segment import: a JSON array or JSON lines of `{"user", "segments"}`, all checked first.

Every item is validated before anything is written, so one bad line stores nothing. Failures
are `DocumentError`s naming the line or index: malformed JSON (a 400 `bad_json` over HTTP), or
a well-formed item that breaks a rule (`schema` true: a 422 `invalid`).

A large import (500,000 users in a 20 MiB body) never holds the event loop: `batches` reads
the body in two passes over its items, `IMPORT_BATCH` at a time, and yields to the loop after
each slice: the first pass only checks (nothing parsed is kept), the second parses each slice
again and hands it to the caller to write. Items are located by offsets (JSON lines) or as
`msgspec.Raw` slices of the body (an array), so the import never holds 500,000 parsed structs
at once, only one batch of them.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Iterator

import msgspec

from uiserver.documents import DocumentError, Limits, decode_json, named_field
from uiserver.schema import IDENT_MAX, IDENT_RULE, is_ident
from uiserver.users.ids import USER_ID_MAX, user_id_problem

__all__ = [
    "IMPORT_BATCH",
    "IMPORT_LIMITS",
    "USER_ID_MAX",
    "Assignment",
    "batches",
]

SEGMENT_NAME_MAX = IDENT_MAX  # segment names are identifiers (`schema.Ident`)
SEGMENTS_PER_USER_MAX = 100
IMPORT_LIMITS = Limits(max_bytes=20 * 1024 * 1024)  # the admin API's body limit
# Users checked or written between two yields to the event loop, and the pause between two
# slices: an import is a background chore that gives way to launches. A slice of 250 is 2-3 ms
# of checking, or one store transaction of about as long (SQLite in a thread; Redis: packing
# and reading ~500 replies); the 1 ms pause lets a launch that needs several turns of the
# loop (a profile read, then the render) finish between two slices. 500,000 users cost 4,000
# pauses (~4 s more than flat out). Measured by `loadtests/segment_import.py` (README).
IMPORT_BATCH = 250
IMPORT_PAUSE_S = 0.001
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


Item = tuple[str, bytes | memoryview | msgspec.Raw]  # where ("line 3", "[2]"), the item's JSON


def _line_items(body: bytes) -> Iterator[Item]:
    """Each non-blank line with its number, as a view of the body (no copy)."""
    view = memoryview(body)
    start, number = 0, 0
    while start <= len(body):
        end = body.find(b"\n", start)
        end = len(body) if end < 0 else end
        number += 1
        if body[start:end].strip():
            yield f"line {number}", view[start:end]
        start = end + 1


def _array(body: bytes) -> list[msgspec.Raw]:
    """The array's items as slices of the body (about 50 bytes each), unparsed."""
    try:
        return decode_json(body, list[msgspec.Raw], IMPORT_LIMITS)
    except DocumentError as exc:
        raise _located(exc, "") from None


def _item(where: str, raw: bytes | memoryview | msgspec.Raw) -> Assignment:
    try:
        item = decode_json(bytes(raw), Assignment, IMPORT_LIMITS)
    except DocumentError as exc:
        raise _located(exc, where) from None
    _check(item, where)
    return item


def _is_lines(body: bytes, content_type: str) -> bool:
    """JSON lines or a JSON array (by Content-Type, else by the first character);
    DocumentError for an empty or oversized body."""
    if not body.strip():
        raise DocumentError("a body is required: a JSON array or JSON lines")
    if len(body) > IMPORT_LIMITS.max_bytes:
        raise DocumentError(f"document over {IMPORT_LIMITS.max_bytes} bytes")
    kind = content_type.split(";")[0].strip().lower()
    return kind in JSON_LINES_TYPES or not body.lstrip().startswith(b"[")


def _array_items(raws: list[msgspec.Raw]) -> Iterator[Item]:
    for i, raw in enumerate(raws):
        yield f"[{i}]", raw


async def batches(
    body: bytes, content_type: str = "", size: int = IMPORT_BATCH
) -> AsyncIterator[list[tuple[str, list[str]]]]:
    """The import's (user, segments) pairs, `size` at a time, once every item has been
    checked (DocumentError on the first bad one, before the first batch). Yields to the event
    loop after every `size` items of both passes (see the module docstring)."""
    if _is_lines(body, content_type):

        def items() -> Iterator[Item]:
            return _line_items(body)

    else:
        raws = await asyncio.to_thread(_array, body)  # one C-speed pass over 20 MiB: off the loop

        def items() -> Iterator[Item]:
            return _array_items(raws)

    checked = items()
    while _slice(checked, size, keep=False):
        await asyncio.sleep(IMPORT_PAUSE_S)
    parsed = items()
    while batch := _slice(parsed, size, keep=True):
        yield batch
        await asyncio.sleep(IMPORT_PAUSE_S)


def _slice(items: Iterator[Item], size: int, *, keep: bool) -> list[tuple[str, list[str]]]:
    """Check (and, with `keep`, return) the next `size` items; an empty list at the end.
    Without `keep` it returns one placeholder per item, so the caller sees whether any were
    left."""
    out: list[tuple[str, list[str]]] = []
    for where, raw in itertools.islice(items, size):
        item = _item(where, raw)
        out.append((item.user, item.segments) if keep else ("", []))
    return out
