"""Templates written back as the files designers and engineers edit.

`compact` is a stored (canonical) template without the fields left at their defaults: what the
console's editor shows and what a new file gets. `export_yaml` writes a live version over an
existing YAML file with ruamel.yaml's round trip, so the file's comments, key order, quoting and
flow style survive wherever the value did not change; its first line names the version it was
exported from (`filesync.BASE_MARKER`), so start-up knows the file descends from it.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Mapping
from typing import Any

import msgspec
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from uiserver.publishing.filesync import BASE_MARKER

_MARKER_LINE = re.compile(rf"^#\s*{BASE_MARKER}:.*\n?", re.MULTILINE)


def compact(value: Any) -> Any:
    """A Struct as plain JSON without the fields left at their defaults, in field order.

    Stored documents spell out every default (they are canonical, for hashing); a designer
    editing one wants to see what the template says, as in `layouts/`.
    """
    if isinstance(value, msgspec.Struct):
        out: dict[str, Any] = {}
        for info in msgspec.structs.fields(value):
            item = getattr(value, info.name)
            if info.default is not msgspec.NODEFAULT:
                default = info.default
            elif info.default_factory is not msgspec.NODEFAULT:
                default = info.default_factory()
            else:
                out[info.encode_name] = compact(item)
                continue
            # Same type too: a float 16.0 is not the int default 16 in the canonical hash.
            if item != default or type(item) is not type(default):
                out[info.encode_name] = compact(item)
        return out
    if isinstance(value, list | tuple):
        return [compact(item) for item in value]
    if isinstance(value, dict):
        return {key: compact(item) for key, item in value.items()}
    return value


def template_text(template: Any) -> str:
    """The console editor's text for a template: compact, pretty JSON."""
    return json.dumps(compact(template), indent=2, ensure_ascii=False) + "\n"


def _yaml() -> YAML:
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 100
    yaml.indent(mapping=2, sequence=4, offset=2)
    return yaml


def _same(old: Any, new: Any) -> bool:
    """Equal and of the same kind (True is not 1; "1" is not 1). A file's 16 for a float
    field decodes to 16.0, so numbers compare by value (`export` checks the file reads back
    as the exported version); ruamel's quoted strings are subclasses of str."""
    kinds = (bool, str)
    return all(isinstance(old, k) == isinstance(new, k) for k in kinds) and bool(old == new)


def _update(old: Any, full: Any, short: Any) -> Any:
    """`old` (a round-trip node) changed to the value `full`; `short` is its compact form."""
    if isinstance(old, CommentedMap) and isinstance(full, Mapping):
        _merge(old, full, short if isinstance(short, Mapping) else {})
        return old
    if isinstance(old, CommentedSeq) and isinstance(full, list):
        return _update_list(old, full, short if isinstance(short, list) else full)
    if not isinstance(old, CommentedMap | CommentedSeq) and _same(old, full):
        return old  # keeps its quoting
    return short


def _merge(node: CommentedMap, full: Mapping[str, Any], short: Mapping[str, Any]) -> None:
    """Change a mapping in place: drop keys the template no longer has, update the rest, add
    keys with a non-default value where the compact form puts them."""
    for key in [k for k in node if k not in full]:
        del node[key]
    for position, (key, value) in enumerate(full.items()):
        if key in node:
            node[key] = _update(node[key], value, short.get(key, value))
        elif key in short:
            node.insert(min(position, len(node)), key, short[key])


def _update_list(old: CommentedSeq, full: list[Any], short: list[Any]) -> Any:
    """Lists of components are matched by id, so a moved component keeps its comments."""
    if all(isinstance(i, Mapping) and "id" in i for i in [*old, *full]):
        by_id = {item["id"]: item for item in old}
        if [item["id"] for item in old] == [item["id"] for item in full]:
            for item, value, small in zip(old, full, short, strict=True):
                _merge(item, value, small)
            return old
        out = CommentedSeq()
        for value, small in zip(full, short, strict=True):
            item = by_id.get(value["id"])
            if item is None:
                out.append(small)
            else:
                _merge(item, value, small)
                out.append(item)
        return out
    pairs = list(zip(old, full, strict=False))
    if len(old) == len(full) and all(
        isinstance(a, CommentedMap) and isinstance(b, Mapping) for a, b in pairs
    ):
        for item, value, small in zip(old, full, short, strict=True):
            _merge(item, value, small)  # e.g. variants: matched by position
        return old
    if len(old) == len(full) and all(_same(a, b) for a, b in zip(old, full, strict=True)):
        return old  # keeps flow style
    return short


def export_yaml(
    existing: str | None, full: Mapping[str, Any], short: Mapping[str, Any], version: str
) -> str:
    """The YAML text of a template version: `existing` updated in place, or a new file."""
    yaml = _yaml()
    data: Any
    if existing is None or not existing.strip():
        data = dict(short)
    else:
        data = yaml.load(existing)
        if not isinstance(data, CommentedMap):
            data = dict(short)
        else:
            _merge(data, full, short)
    stream = io.StringIO()
    yaml.dump(data, stream)
    body = _MARKER_LINE.sub("", stream.getvalue())
    marker = (
        f"# {BASE_MARKER}: {version} (the live version this file was exported from; "
        "keep this line)\n"
    )
    return marker + body
