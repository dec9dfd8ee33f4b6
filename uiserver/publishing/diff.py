"""What changed between two template versions: a unified text diff and a structured list.

The text diff is of the pretty-printed JSON (sorted keys), so it reads the same whatever format
the designer wrote. The structured list is what a reviewer asks first: which components were
added, removed or moved, and which fields changed. Components are matched by id, not position,
so inserting one component does not report every later one as changed; "moved" uses the same
LCS definition as the change ratio (DESIGN section 5).
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping, Sequence
from typing import Any

import msgspec

# A structured change: kind is added / removed / moved / changed.
Change = dict[str, Any]

_MISSING = object()


def pretty(document: Mapping[str, Any]) -> str:
    """The canonical human-readable form of a template document (what the editor shows)."""
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def lcs_ids(a: Sequence[str], b: Sequence[str]) -> set[str]:
    """The ids of a longest common subsequence of two orders (ids are unique within a page)."""
    rows = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i in range(len(a) - 1, -1, -1):
        for j in range(len(b) - 1, -1, -1):
            rows[i][j] = (
                rows[i + 1][j + 1] + 1 if a[i] == b[j] else max(rows[i + 1][j], rows[i][j + 1])
            )
    kept: set[str] = set()
    i = j = 0
    while i < len(a) and j < len(b):
        if a[i] == b[j]:
            kept.add(a[i])
            i, j = i + 1, j + 1
        elif rows[i + 1][j] >= rows[i][j + 1]:
            i += 1
        else:
            j += 1
    return kept


def _flatten(value: Any, prefix: str, out: dict[str, Any]) -> None:
    """Leaf paths of a JSON value (`theme.palette.text`, `variants[0].weight`)."""
    if isinstance(value, Mapping) and value:
        for key in sorted(value):
            _flatten(value[key], f"{prefix}.{key}" if prefix else str(key), out)
    elif isinstance(value, list) and value and any(isinstance(v, Mapping) for v in value):
        for i, item in enumerate(value):
            _flatten(item, f"{prefix}[{i}]", out)
    else:
        out[prefix] = value


def _field_changes(
    old: Mapping[str, Any], new: Mapping[str, Any], prefix: str, component: str | None
) -> list[Change]:
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    _flatten(old, prefix, before)
    _flatten(new, prefix, after)
    changes: list[Change] = []
    for path in sorted(before.keys() | after.keys()):
        if before.get(path, _MISSING) != after.get(path, _MISSING):
            change: Change = {
                "kind": "changed",
                "field": path,
                "from": before.get(path),
                "to": after.get(path),
            }
            if component is not None:
                change["component"] = component
            changes.append(change)
    return changes


def _components(document: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    return {c["id"]: c for c in document.get("components", []) if isinstance(c, Mapping)}


def structured_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[Change]:
    """Components added / removed / moved, then every changed field (page and component)."""
    old_components, new_components = _components(old), _components(new)
    old_order, new_order = list(old_components), list(new_components)
    changes: list[Change] = []
    for cid in new_order:
        if cid not in old_components:
            changes.append({"kind": "added", "component": cid, "to": new_order.index(cid)})
    for cid in old_order:
        if cid not in new_components:
            changes.append({"kind": "removed", "component": cid, "from": old_order.index(cid)})
    common_old = [c for c in old_order if c in new_components]
    common_new = [c for c in new_order if c in old_components]
    kept = lcs_ids(common_old, common_new)
    for cid in common_new:
        if cid not in kept:
            changes.append(
                {
                    "kind": "moved",
                    "component": cid,
                    "from": old_order.index(cid),
                    "to": new_order.index(cid),
                }
            )
    page_old = {k: v for k, v in old.items() if k != "components"}
    page_new = {k: v for k, v in new.items() if k != "components"}
    changes += _field_changes(page_old, page_new, "", None)
    for cid in common_new:
        changes += _field_changes(
            _without_id(old_components[cid]),
            _without_id(new_components[cid]),
            f"components[{cid}]",
            cid,
        )
    return changes


def _without_id(component: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in component.items() if k != "id"}


def unified(old: Mapping[str, Any], new: Mapping[str, Any], old_name: str, new_name: str) -> str:
    return "".join(
        difflib.unified_diff(
            pretty(old).splitlines(keepends=True),
            pretty(new).splitlines(keepends=True),
            fromfile=old_name,
            tofile=new_name,
        )
    )


def diff_documents(
    old: bytes, new: bytes, old_name: str = "from", new_name: str = "to"
) -> dict[str, Any]:
    """`{"unified": "...", "changes": [...]}` for two stored (JSON) template documents."""
    before = msgspec.json.decode(old)
    after = msgspec.json.decode(new)
    return {
        "unified": unified(before, after, old_name, new_name),
        "changes": structured_changes(before, after),
    }
