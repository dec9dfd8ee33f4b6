"""One way to turn JSON or YAML bytes into values: the admin API, the console and the files.

Every document people send or write passes the same limits before a parser sees it, so a hostile
or broken input is refused with one error type, `DocumentError`, never a RecursionError or a
NaN that would poison a hash:

- size: at most `Limits.max_bytes` bytes;
- nesting: at most `Limits.max_depth` levels of objects/arrays (mappings/sequences). JSON is
  scanned for brackets outside strings before msgspec runs (msgspec and PyYAML recurse once per
  level and fail near Python's recursion limit of 1,000); YAML is composed by a loader that counts
  levels as it goes;
- numbers: finite only (JSON has no NaN/Infinity and msgspec refuses 1e999; YAML's `.nan` and
  `.inf` are refused here);
- text: valid Unicode only (a YAML `"\\ud800"` escape is refused as msgspec refuses it in JSON);
- YAML aliases are refused (`*ref` repeats a subtree: a few lines could expand to gigabytes).

The HTTP layer maps `DocumentError` to 400 `bad_json`, or to 422 `invalid` when `schema` is true
(well-formed, but not the shape asked for).

Usage:

    settings = decode_json(body, Settings)              # DocumentError on any failure
    template = decode(text, "yaml", Template, FILE_LIMITS)
    data = decode_json(body)                            # untyped: dicts, lists, str, ...
"""

from __future__ import annotations

import datetime
import functools
import json
import math
import pickle
import re
from array import array
from dataclasses import dataclass
from itertools import accumulate
from typing import Any, Literal, TypeVar, overload

import msgspec
import yaml

T = TypeVar("T")
Format = Literal["json", "yaml"]


@dataclass(frozen=True, slots=True)
class Limits:
    """What a document may be: bytes (UTF-8) and levels of nesting."""

    max_bytes: int = 1024 * 1024
    # A template is ~6 levels deep before its free-form `props`; 64 leaves props room and
    # stays far below the ~1,000 levels at which the parsers run out of stack.
    max_depth: int = 64


DEFAULT_LIMITS = Limits()


class DocumentError(ValueError):
    """A document that cannot be used.

    `field` is the path inside the document ("$" for the whole), `message` the readable reason
    (prefixed with what failed: "malformed JSON: ..."), `detail` the reason alone, `where`
    "line L, column C" when the parser knows it, `schema` True when the syntax is fine but
    the value does not fit the type asked for (a 422 rather than a 400), and `limit` True when
    the document broke a limit (size, depth, a non-finite number, an alias) rather than the
    syntax. `named` is True once `field` names the member itself (`named_field` applied).
    """

    def __init__(
        self,
        message: str,
        field: str = "$",
        *,
        detail: str | None = None,
        where: str | None = None,
        schema: bool = False,
        limit: bool = False,
        named: bool = False,
    ) -> None:
        super().__init__(message if field == "$" else f"{field}: {message}")
        self.message = message
        self.field = field
        self.detail = message if detail is None else detail
        self.where = where
        self.schema = schema
        self.limit = limit
        self.named = named


# --------------------------------------------------------------------------- error paths

_NAMED_FIELD = re.compile(r"^Object (?:contains unknown|missing required) field `([^`]+)`")


_STEP = re.compile(r"\.?([^.\[\]]+)|\[(\d+)\]")


def _narrow(info: msgspec.inspect.Type) -> list[msgspec.inspect.Type]:
    """The alternatives of a union (None left out), else the type itself."""
    if isinstance(info, msgspec.inspect.UnionType):
        return [t for t in info.types if not isinstance(t, msgspec.inspect.NoneType)]
    return [info]


def _step(info: msgspec.inspect.Type, name: str | None) -> msgspec.inspect.Type | None:
    """The type one path step (`name` for a member, None for an item) leads to."""
    for alt in _narrow(info):
        if isinstance(alt, msgspec.inspect.StructType) and name is not None:
            for field in alt.fields:
                if field.encode_name == name:
                    return field.type
        elif isinstance(alt, msgspec.inspect.DictType):
            return alt.value_type
        elif isinstance(alt, (msgspec.inspect.ListType, msgspec.inspect.VarTupleType)):
            return alt.item_type if name is None else None
    return None


def allowed_values(kind: Any, field: str) -> list[Any] | None:
    """The values a literal or enum field of `kind` allows, at msgspec's path `field`
    ("components[3].placement"); None when the path names no such field.

    `allowed_values(Context, "device")` is ['desktop', 'phone', 'tablet']."""
    info: msgspec.inspect.Type | None = msgspec.inspect.type_info(kind)
    for match in _STEP.finditer("" if field == "$" else field):
        if info is None:
            return None
        info = _step(info, match.group(1))
    for alt in _narrow(info) if info is not None else []:
        if isinstance(alt, msgspec.inspect.LiteralType):
            return list(alt.values)
        if isinstance(alt, msgspec.inspect.EnumType):
            return [member.value for member in alt.cls]
    return None


def error_path(exc: msgspec.ValidationError, kind: Any = None) -> tuple[str, str]:
    """msgspec's `Expected ... - at `$.a[0].b`` as ("a[0].b", "Expected ..."); "$" for the root.
    With the `kind` decoded, an enum error lists the allowed values ("Invalid enum value
    'ipad'; allowed: 'desktop', 'phone', 'tablet'")."""
    text = str(exc)
    message, sep, where = text.rpartition(" - at `$")
    if not sep:
        return "$", text
    field = where.rstrip("`").lstrip(".") or "$"
    if kind is not None and message.startswith("Invalid enum value"):
        allowed = allowed_values(kind, field)
        if allowed:
            message += "; allowed: " + ", ".join(repr(v) for v in allowed)
    return field, message


def named_field(field: str, message: str) -> str:
    """The path of the field an unknown/missing-field message names (msgspec names its parent).

    `named_field("components[3]", "Object contains unknown field `lable`")` is
    "components[3].lable"; any other message leaves `field` as it is.
    """
    match = _NAMED_FIELD.match(message)
    if not match:
        return field
    name = match.group(1)
    return name if field in ("", "$") else f"{field}.{name}"


def unknown_field_name(message: str) -> str | None:
    """The field name of an "Object contains unknown field `x`" message, else None."""
    match = _NAMED_FIELD.match(message)
    return match.group(1) if match and "unknown" in message else None


def _schema_error(exc: msgspec.ValidationError, kind: Any = None) -> DocumentError:
    field, message = error_path(exc, kind)
    return DocumentError(message, field, schema=True)


def convert(data: Any, kind: type[T]) -> T:
    """An already-decoded value (from `decode_json(..., Any)`) as `kind`, strict as a decode."""
    try:
        return msgspec.convert(data, kind)
    except msgspec.ValidationError as exc:
        raise _schema_error(exc, kind) from None


# --------------------------------------------------------------------------- limits

_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
# Opening brackets become 1, closing ones 255: -1 as a signed byte.
_STEPS = bytes.maketrans(b"[{]}", b"\x01\x01\xff\xff")


def _as_bytes(data: bytes | str) -> bytes:
    return data.encode() if isinstance(data, str) else data


def _check_size(data: bytes, limits: Limits) -> None:
    if len(data) > limits.max_bytes:
        raise DocumentError(f"document over {limits.max_bytes} bytes", limit=True)


def json_depth_exceeds(data: bytes, max_depth: int) -> bool:
    """Whether the brackets of `data` (outside strings) nest deeper than `max_depth`.

    Strings are cut out by one regex, every other byte by `bytes.translate`, and the running
    depth is a C-level `accumulate` over signed steps: about 50 ms for a megabyte of brackets,
    well under a millisecond for a template.
    """
    brackets = _JSON_STRING.sub(b"", data).translate(None, _NOT_BRACKETS)
    if len(brackets) <= max_depth:  # cannot be deeper than it has brackets
        return False
    return max(accumulate(array("b", brackets.translate(_STEPS)))) > max_depth


def _too_deep(limits: Limits) -> DocumentError:
    return DocumentError(f"nested deeper than {limits.max_depth} levels", limit=True)


# --------------------------------------------------------------------------- JSON

_BYTE_AT = re.compile(r"\s*\(byte (\d+)\)$")


def _line_column(data: bytes, offset: int) -> str:
    before = data[:offset]
    line = before.count(b"\n") + 1
    column = offset - (before.rfind(b"\n") + 1) + 1
    return f"line {line}, column {column}"


def _json_syntax(data: bytes, exc: msgspec.DecodeError) -> DocumentError:
    text = str(exc)
    at = _BYTE_AT.search(text)
    if at:
        where = _line_column(data, int(at.group(1)))
        detail = text[: at.start()].removeprefix("JSON is malformed: ")
    else:
        where = _line_column(data, len(data.rstrip()))
        detail = text
    return DocumentError(f"malformed JSON: {text}", detail=detail, where=where)


@overload
def decode_json(
    data: bytes | str, kind: type[T], limits: Limits = ..., *, unique_keys: bool = ...
) -> T: ...
@overload
def decode_json(
    data: bytes | str, kind: None = ..., limits: Limits = ..., *, unique_keys: bool = ...
) -> Any: ...


def decode_json(
    data: bytes | str,
    kind: type[T] | None = None,
    limits: Limits = DEFAULT_LIMITS,
    *,
    unique_keys: bool = False,
) -> T | Any:
    """JSON bytes as `kind` (untyped values when None); DocumentError on any failure.
    `unique_keys`: a member name given twice in one object is refused (`duplicate_key`);
    msgspec keeps the last in silence. It costs a second parse (the standard library's, of a
    document msgspec accepted): the admin API's and the settings' bodies take it, the events
    batch (a CPU budget of its own) and each line of a segment import do not."""
    raw = _as_bytes(data)
    _check_size(raw, limits)
    if not raw.strip():
        raise DocumentError("a JSON document is required")
    if json_depth_exceeds(raw, limits.max_depth):
        raise _too_deep(limits)
    try:
        value = msgspec.json.decode(raw) if kind is None else msgspec.json.decode(raw, type=kind)
    except msgspec.ValidationError as exc:
        if kind is None:  # untyped: only "Number out of range" gets here, a syntax matter
            raise DocumentError(f"malformed JSON: {exc}", detail=str(exc)) from None
        raise _schema_error(exc, kind) from None
    except msgspec.DecodeError as exc:
        raise _json_syntax(raw, exc) from None
    if unique_keys:
        duplicate = duplicate_key(raw)
        if duplicate is not None:
            shown = repr(duplicate[:64])
            raise DocumentError(
                f"the member {shown} is given twice in one object; give it once",
                duplicate[:64],
                detail=f"the member {shown} is given twice",
                schema=True,
                named=True,
            )
    return value


def duplicate_key(raw: bytes) -> str | None:
    """The first member name some object of a JSON document (already accepted by msgspec)
    gives twice, else None (RFC 8259 4: names SHOULD be unique; parsers differ on which wins)."""
    found: list[str] = []

    def pairs(items: list[tuple[str, Any]]) -> None:
        if not found:
            seen: set[str] = set()
            for name, _ in items:
                if name in seen:
                    found.append(name)
                    break
                seen.add(name)

    try:
        json.loads(raw, object_pairs_hook=pairs)
    except ValueError:  # what msgspec accepts the standard library reads; never a refusal here
        return None
    return found[0] if found else None


# --------------------------------------------------------------------------- YAML


_SURROGATE = re.compile("[\ud800-\udfff]")


class _LimitedLoader(yaml.SafeLoader):
    """PyYAML's safe loader that counts nesting as it composes, refuses aliases and non-finite
    floats. (The C loader cannot be taught this; documents are small and parsed rarely.)"""

    max_depth = DEFAULT_LIMITS.max_depth

    def __init__(self, stream: bytes) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()  # type: ignore[no-untyped-call]
            raise DocumentError(
                "YAML aliases (*name) are not accepted",
                detail="aliases are not accepted",
                where=_mark(event.start_mark),
                limit=True,
            )
        self._depth += 1
        if self._depth > self.max_depth:
            raise DocumentError(
                f"nested deeper than {self.max_depth} levels",
                where=_mark(self.peek_event().start_mark),  # type: ignore[no-untyped-call]
                limit=True,
            )
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_scalar(self, node: Any) -> Any:
        value = super().construct_scalar(node)
        # YAML's "\ud800" escape makes a lone surrogate, which no UTF-8 encoder (hash, store,
        # JSON) accepts later; msgspec refuses the same escape in JSON.
        if isinstance(value, str) and _SURROGATE.search(value):
            raise DocumentError(
                "a string holds a lone surrogate (not valid Unicode)",
                detail="a lone surrogate is not valid Unicode",
                where=_mark(node.start_mark),
            )
        return value

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        # A key given twice in one mapping (`title:` twice, a designer's paste): PyYAML keeps
        # the last in silence. Refused at the second, naming the first (YAML 1.2 3.2.1.1:
        # mapping keys are unique).
        if isinstance(node, yaml.MappingNode):
            seen: dict[tuple[str, str], Any] = {}
            for key_node, _ in node.value:
                if not isinstance(key_node, yaml.ScalarNode):
                    continue
                key = (key_node.tag, key_node.value)
                first = seen.setdefault(key, key_node.start_mark)
                if first is not key_node.start_mark:
                    shown = repr(key_node.value[:64])
                    raise DocumentError(
                        f"the key {shown} is given twice in one mapping "
                        f"({_mark(key_node.start_mark)}; first at {_mark(first)})",
                        detail=f"the key {shown} is given twice (first at {_mark(first)})",
                        where=_mark(key_node.start_mark),
                    )
        return super().construct_mapping(node, deep)

    def construct_yaml_float(self, node: Any) -> float:
        value: float = super().construct_yaml_float(node)
        if not math.isfinite(value):
            raise DocumentError(
                f"{node.value!r} is not a finite number", where=_mark(node.start_mark), limit=True
            )
        return value


_LimitedLoader.add_constructor("tag:yaml.org,2002:float", _LimitedLoader.construct_yaml_float)


def _mark(mark: Any) -> str | None:
    return f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else None


@overload
def decode_yaml(data: bytes | str, kind: type[T], limits: Limits = ...) -> T: ...
@overload
def decode_yaml(data: bytes | str, kind: None = ..., limits: Limits = ...) -> Any: ...


def decode_yaml(
    data: bytes | str, kind: type[T] | None = None, limits: Limits = DEFAULT_LIMITS
) -> T | Any:
    """YAML (a superset of JSON) as `kind`, with msgspec.yaml's conversion rules."""
    raw = _as_bytes(data)
    _check_size(raw, limits)
    if len(raw) <= _PARSED_MAX_BYTES:
        # Our own pickle; each caller gets its own copy (nothing shared is ever mutated).
        value = pickle.loads(_parsed_yaml(raw, limits.max_depth))
    else:
        value = _parse_yaml(raw, limits.max_depth)
    if kind is None:
        return value
    try:
        return msgspec.convert(value, kind, builtin_types=(datetime.datetime, datetime.date))
    except msgspec.ValidationError as exc:
        raise _schema_error(exc, kind) from None


# Documents up to this size are parsed once per process and kept (pickled, at most 128): every
# start of the server reads the same component and template files (the tests start hundreds of
# apps), and PyYAML's pure-Python parser is most of a start's cost. Refusals are not kept.
_PARSED_MAX_BYTES = 64 * 1024


@functools.lru_cache(maxsize=128)
def _parsed_yaml(raw: bytes, max_depth: int) -> bytes:
    return pickle.dumps(_parse_yaml(raw, max_depth), protocol=pickle.HIGHEST_PROTOCOL)


def _parse_yaml(raw: bytes, max_depth: int) -> Any:
    """The plain value of a YAML document (`_LimitedLoader`); DocumentError otherwise."""
    loader: _LimitedLoader | None = None
    try:
        # Building the loader already decodes the bytes (not UTF-8: a ReaderError).
        loader = _LimitedLoader(raw)
        loader.max_depth = max_depth
        return loader.get_single_data()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        detail = getattr(exc, "problem", None) or str(exc)
        raise DocumentError(f"not valid YAML: {exc}", detail=detail, where=_mark(mark)) from None
    except (ValueError, LookupError, AttributeError) as exc:
        if isinstance(exc, DocumentError):
            raise
        raise DocumentError(f"not valid YAML: {exc}", detail=str(exc)) from None
    finally:
        if loader is not None:
            loader.dispose()


@overload
def decode(data: bytes | str, fmt: Format, kind: type[T], limits: Limits = ...) -> T: ...
@overload
def decode(data: bytes | str, fmt: Format, kind: None = ..., limits: Limits = ...) -> Any: ...


def decode(
    data: bytes | str, fmt: Format, kind: type[T] | None = None, limits: Limits = DEFAULT_LIMITS
) -> T | Any:
    """`decode_json` or `decode_yaml` by format."""
    if fmt == "json":
        return decode_json(data, kind, limits)
    return decode_yaml(data, kind, limits)


def format_of_text(text: str) -> Format:
    """How an editor's text is read: JSON when it starts with `{`, else YAML (as in `layouts/`)."""
    return "json" if text.lstrip().startswith("{") else "yaml"
