"""The launch context in a query string (`?device=tablet&dark=1&font_px=20`), derived from the
`schema.Context` Struct: its fields are the parameters, their types say how each is parsed, and
the OpenAPI parameters come from its JSON schema. Adding a field to Context adds the parameter.

Booleans are written `0`/`1` (also `false`/`true`), numbers as decimal text; unknown parameters
are ignored (clients add their own, such as cache busters).

A parsed context has one canonical key (`context_key`: its fields encoded, unknown parameters
and their order gone), so every cache keyed by context is bounded by what the context can be,
not by what URLs clients send (`ContextMemo`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qsl

import msgspec
import msgspec.inspect

from uiserver.datastructures import BoundedDict
from uiserver.documents import error_path
from uiserver.schema import Context

_BOOLS = {"0": False, "1": True, "false": False, "true": True}


class QueryError(ValueError):
    """A context parameter that cannot be used: a 400 `bad_query` naming `field`."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def _bool(name: str, value: str) -> bool:
    if value.lower() not in _BOOLS:
        raise QueryError(name, f"{name} must be 0 or 1")
    return _BOOLS[value.lower()]


# Numbers in a query as JSON writes them, in ASCII: int() and float() also take '٣٩٠'
# (Arabic-Indic digits), '1_6', ' 16 ' and 4,000-digit integers, none of which a client means.
WHOLE = re.compile(r"[+-]?[0-9]{1,12}")
DECIMAL = re.compile(
    r"[+-]?(?:[0-9]{1,15}(?:\.[0-9]{0,15})?|\.[0-9]{1,15})(?:[eE][+-]?[0-9]{1,3})?"
)


def _number(kind: Callable[[str], float | int]) -> Callable[[str, str], float | int]:
    pattern = WHOLE if kind is int else DECIMAL

    def parse(name: str, value: str) -> float | int:
        if not pattern.fullmatch(value):
            raise QueryError(name, f"{name} must be a number")
        return kind(value)

    return parse


def _text(name: str, value: str) -> str:
    return value


def _base(info: msgspec.inspect.Type) -> msgspec.inspect.Type:
    """`X | None` as X (a parameter is either given or not)."""
    if isinstance(info, msgspec.inspect.UnionType):
        rest = [t for t in info.types if not isinstance(t, msgspec.inspect.NoneType)]
        if len(rest) == 1:
            return rest[0]
    return info


def _parser(info: msgspec.inspect.Type) -> Callable[[str, str], Any]:
    base = _base(info)
    if isinstance(base, msgspec.inspect.BoolType):
        return _bool
    if isinstance(base, msgspec.inspect.IntType):
        return _number(int)
    if isinstance(base, msgspec.inspect.FloatType):
        return _number(float)
    return _text  # strings and literals: msgspec checks them in `convert`


_INFO = msgspec.inspect.type_info(Context)
assert isinstance(_INFO, msgspec.inspect.StructType)
_FIELDS = _INFO.fields
PARSERS: Mapping[str, Callable[[str, str], Any]] = {
    field.encode_name: _parser(field.type) for field in _FIELDS
}


def repeated(name: str) -> str:
    """The message for a parameter given twice with different values."""
    return f"{name} is given twice with different values; give it once"


def conflicting_repeat(query: bytes) -> str | None:
    """The first parameter the raw query string gives twice with different values (`dark=1&
    dark=0`: which one was meant?), else None; the same value twice is no conflict."""
    seen: dict[str, str] = {}
    for name, value in parse_qsl(query.decode("latin-1"), keep_blank_values=True):
        if seen.setdefault(name, value) != value:
            return name
    return None


def parse_context(query: bytes) -> Context:
    """The launch context from the raw query string; QueryError on a bad value, or on a context
    parameter given twice with different values (it was the last one, silently)."""
    raw: dict[str, object] = {}
    given: dict[str, str] = {}
    for name, value in parse_qsl(query.decode("latin-1"), keep_blank_values=True):
        parse = PARSERS.get(name)
        if parse is not None:
            if given.setdefault(name, value) != value:
                raise QueryError(name, repeated(name))
            raw[name] = parse(name, value)
    try:
        return msgspec.convert(raw, Context)
    except msgspec.ValidationError as exc:
        field, message = error_path(exc, Context)
        raise QueryError("query" if field == "$" else field, message) from None


_KEY_ENCODER = msgspec.json.Encoder()


def context_key(context: Context) -> bytes:
    """The canonical bytes of a context: equal for equal contexts, whatever the query's order,
    spelling (`dark=1`, `dark=true`) or unknown parameters. At most ~200 bytes (every field is
    bounded by Context's own limits)."""
    return _KEY_ENCODER.encode(context)


Parsed = tuple[Context, bytes]  # (context, context_key(context))


class ContextMemo(BoundedDict[bytes, "Parsed | QueryError"]):
    """Raw query string -> parsed context and key (or the QueryError), bounded in count and in
    the size of what it keeps: a query longer than `max_query_bytes` (junk parameters, padding)
    is parsed on every request and never stored, so hostile URLs cannot grow memory.

    The warm path reads it with `dict.get` (C); a miss calls `parse`.
    """

    def __init__(self, maxsize: int = 4096, max_query_bytes: int = 512) -> None:
        super().__init__(maxsize)
        self.max_query_bytes = max_query_bytes

    def parse(self, query: bytes) -> Parsed | QueryError:
        try:
            context = parse_context(query)
            parsed: Parsed | QueryError = (context, context_key(context))
        except QueryError as exc:
            parsed = exc.with_traceback(None)  # a kept traceback would keep the query alive
        if len(query) <= self.max_query_bytes:
            self[query] = parsed
        return parsed


def openapi_parameters() -> list[dict[str, Any]]:
    """The context's query parameters for OpenAPI, from Context's JSON schema (booleans as the
    `0`/`1` the query takes; optional numbers without their `null`)."""
    schema = msgspec.json.schema(Context)["$defs"]["Context"]["properties"]
    params = []
    for field in _FIELDS:
        prop = dict(schema[field.encode_name])
        prop.pop("default", None)
        if isinstance(_base(field.type), msgspec.inspect.BoolType):
            prop = {"enum": ["0", "1"]}
        elif "anyOf" in prop:
            prop = next(p for p in prop["anyOf"] if p.get("type") != "null")
        params.append({"name": field.encode_name, "in": "query", "schema": prop})
    return params
