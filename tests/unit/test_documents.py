"""`uiserver.documents`: the one JSON/YAML decoding path, and its limits (size, nesting,
finite numbers, no YAML aliases) refused as DocumentError before any parser can recurse."""

from __future__ import annotations

import json
import math
from typing import Any

import msgspec
import pytest

from uiserver import documents
from uiserver.documents import (
    DocumentError,
    Limits,
    convert,
    decode_json,
    decode_yaml,
    error_path,
    json_depth_exceeds,
    named_field,
)
from uiserver.schema import Settings, Template

LIMITS = Limits(max_bytes=1024 * 1024, max_depth=64)


def nested_json(depth: int) -> bytes:
    return b'{"a":' * depth + b"1" + b"}" * depth


def nested_yaml(depth: int) -> str:
    return "a: " + "[" * depth + "]" * depth


@pytest.mark.parametrize("depth", [1_000, 100_000])
def test_deep_json_is_refused_before_msgspec_recurses(depth: int) -> None:
    with pytest.raises(RecursionError):  # what the scan protects against
        msgspec.json.decode(nested_json(1_000))
    with pytest.raises(DocumentError) as caught:
        decode_json(nested_json(depth), None, LIMITS)
    assert caught.value.limit and not caught.value.schema
    assert "nested deeper than 64 levels" in caught.value.message


def test_depth_is_counted_exactly_and_brackets_in_strings_do_not_count() -> None:
    assert decode_json(b"[" * 64 + b"]" * 64, None, LIMITS) is not None
    with pytest.raises(DocumentError):
        decode_json(b"[" * 65 + b"]" * 65, None, LIMITS)
    in_string = json.dumps({"label": "[" * 500 + "{" * 500, "q": '\\"[[['}).encode()
    assert not json_depth_exceeds(in_string, 64)
    assert decode_json(in_string, None, LIMITS)["label"].startswith("[[[")
    assert json_depth_exceeds(b"[" * 70, 64)  # unbalanced but deep
    assert not json_depth_exceeds(b"[[[", 64)  # unbalanced, shallow: msgspec says why


def test_deep_yaml_is_refused_with_its_line() -> None:
    with pytest.raises(DocumentError) as caught:
        decode_yaml(nested_yaml(1_000), None, LIMITS)
    assert caught.value.limit and caught.value.where == "line 1, column 67"
    value = decode_yaml(nested_yaml(63), None, LIMITS)  # the mapping is level 1
    for _ in range(62):
        value = value["a"] if isinstance(value, dict) else value[0]
    assert value == [[]]


@pytest.mark.parametrize("text", [".nan", ".NaN", ".inf", "-.inf", "+.Inf"])
def test_yaml_non_finite_numbers_are_refused(text: str) -> None:
    with pytest.raises(DocumentError) as caught:
        decode_yaml(f"x: {text}\n", None, LIMITS)
    assert caught.value.limit and "not a finite number" in caught.value.message


@pytest.mark.parametrize(
    "text", [b'{"x": NaN}', b'{"x": Infinity}', b'{"x": -Infinity}', b'{"x": 1e999}']
)
def test_json_non_finite_numbers_are_refused(text: bytes) -> None:
    with pytest.raises(DocumentError) as caught:
        decode_json(text, None, LIMITS)
    assert not caught.value.schema


def test_yaml_aliases_are_refused() -> None:
    with pytest.raises(DocumentError, match="aliases"):
        decode_yaml("a: &x [1, 2]\nb: *x\n", None, LIMITS)


@pytest.mark.parametrize(
    ("text", "key", "where"),
    [
        pytest.param('title: "A"\npage: home\ntitle: "B"\n', "title", "line 3, column 1", id="top"),
        pytest.param("c:\n  - {id: a, id: b}\n", "id", "line 2, column 13", id="flow"),
        pytest.param('a: 1\n"a": 2\n', "a", "line 2, column 1", id="quoted"),
        pytest.param('{"a": 1, "a": 2}', "a", "line 1, column 10", id="json-text"),
    ],
)
def test_a_yaml_key_given_twice_is_refused_where_it_repeats(
    text: str, key: str, where: str
) -> None:
    """PyYAML kept the last value in silence: a designer's pasted `title:` won unseen."""
    with pytest.raises(DocumentError) as caught:
        decode_yaml(text, None, LIMITS)
    assert caught.value.where == where
    assert f"the key {key!r} is given twice" in caught.value.message


def test_equal_keys_in_different_mappings_or_of_different_types_are_kept() -> None:
    assert decode_yaml("a: 1\nb: {a: 2}\n", None, LIMITS) == {"a": 1, "b": {"a": 2}}
    assert decode_yaml('1: x\n"1": y\n', None, LIMITS) == {1: "x", "1": "y"}


def test_size_limit() -> None:
    small = Limits(max_bytes=10)
    with pytest.raises(DocumentError, match="over 10 bytes"):
        decode_json(b'{"a": "0123456789"}', None, small)
    with pytest.raises(DocumentError, match="over 10 bytes"):
        decode_yaml("a: 0123456789", None, small)


def test_syntax_errors_name_the_line_and_column() -> None:
    with pytest.raises(DocumentError) as caught:
        decode_json(b'{\n  "page": "home",\n  oops\n}', None, LIMITS)
    assert caught.value.where == "line 3, column 3" and not caught.value.limit
    with pytest.raises(DocumentError) as caught:
        decode_yaml("a: [1, 2", None, LIMITS)
    assert caught.value.where is not None and caught.value.message.startswith("not valid YAML")


def test_schema_errors_carry_the_field_path() -> None:
    with pytest.raises(DocumentError) as caught:
        decode_json(b'{"font_scale": 9}', Settings, LIMITS)
    assert caught.value.schema and caught.value.field == "font_scale"
    with pytest.raises(DocumentError) as caught:
        decode_yaml("font_scale: 1\nbogus: 1\n", Settings, LIMITS)
    assert caught.value.schema and named_field(caught.value.field, caught.value.message) == "bogus"
    with pytest.raises(DocumentError) as caught:
        convert({"page": "home"}, Template)
    assert caught.value.schema


def test_error_path_is_the_one_parser_of_msgspec_paths() -> None:
    with pytest.raises(msgspec.ValidationError) as caught:
        msgspec.convert(
            {"page": "home", "title": "t", "theme": {}, "components": [{"id": 1, "type": "x"}]},
            Template,
        )
    assert error_path(caught.value) == ("components[0].id", "Expected `str`, got `int`")
    assert (
        named_field("components[3]", "Object contains unknown field `lable`")
        == "components[3].lable"
    )
    assert named_field("$", "Object missing required field `page`") == "page"


def test_yaml_decodes_like_msgspec_yaml() -> None:
    text = "font_scale: 1.5\nhandedness: left\n"
    assert decode_yaml(text, Settings, LIMITS) == msgspec.yaml.decode(text, type=Settings)
    value: Any = decode_yaml("x: 1.5\ny: [1, two]\n", None, LIMITS)
    assert value == {"x": 1.5, "y": [1, "two"]} and math.isfinite(value["x"])


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"page: home\ntitle: \xff\xfe\n", id="latin-1-bytes"),
        pytest.param(bytes(range(256)), id="every-byte"),
        pytest.param(b"x: \x80", id="lone-continuation-byte"),
    ],
)
def test_yaml_that_is_not_utf8_is_a_document_error(data: bytes) -> None:
    with pytest.raises(DocumentError) as refused:
        decode_yaml(data)
    assert refused.value.message.startswith("not valid YAML")


UNKNOWN, MISSING = "Object contains unknown field", "Object missing required field"


@pytest.mark.parametrize(
    ("field", "message", "named"),
    [
        pytest.param("$", "Object contains unknown field `bogus`", "bogus", id="root"),
        pytest.param(
            "events[0]", "Object missing required field `page`", "events[0].page", id="missing"
        ),
        pytest.param(
            "theme", "Object contains unknown field `theme`", "theme.theme", id="same-name"
        ),
        pytest.param(
            "theme.palette",
            "Object contains unknown field `palette`",
            "theme.palette.palette",
            id="same-name-nested",
        ),
        pytest.param("font_scale", "Expected `float`, got `str`", "font_scale", id="other-message"),
    ],
)
def test_named_field_names_the_member_itself(field: str, message: str, named: str) -> None:
    assert named_field(field, message) == named


def test_a_yaml_document_read_again_is_parsed_once_and_each_reader_gets_its_own_copy(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    parses: list[int] = []
    parse = documents._parse_yaml

    def counting(raw: bytes, max_depth: int) -> Any:
        parses.append(len(raw))
        return parse(raw, max_depth)

    monkeypatch.setattr(documents, "_parse_yaml", counting)
    text = "page: cached-once\nitems: [1, 2]\nwhen: 2026-12-02\n"
    first = decode_yaml(text, None, LIMITS)
    first["items"].append(3)  # a reader changing its copy changes no one else's
    second = decode_yaml(text, None, LIMITS)
    assert second == {"page": "cached-once", "items": [1, 2], "when": first["when"]}
    assert len(parses) == 1
    with pytest.raises(DocumentError):  # a tighter depth limit is not answered from the cache
        decode_yaml(text, None, Limits(max_bytes=1024, max_depth=1))
    big = "items:\n" + "- cached-not\n" * 6_000  # over 64 KiB: parsed every time
    assert decode_yaml(big, None, LIMITS) == decode_yaml(big, None, LIMITS)
    assert parses[-2:] == [len(big), len(big)]
