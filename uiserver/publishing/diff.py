"""What changed between two template versions: a unified text diff and a structured list.

The text diff is of the pretty-printed JSON (sorted keys), so it reads the same whatever format
the designer wrote. The structured list is what a reviewer asks first: which components were
added, removed or moved, and which fields changed. Components are matched by id, not position,
so inserting one component does not report every later one as changed; "moved" uses the same
LCS definition as the change ratio (DESIGN section 5).
"""

from __future__ import annotations

import bisect
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
    """The ids of a longest common subsequence of two orders (ids are unique within a page).

    With unique ids an LCS of two orders is a longest increasing subsequence of the positions
    in `a` of `b`'s shared ids, found by patience sorting in O(n log n) time and O(n) memory
    (Hunt & Szymanski 1977; Fredman 1975): two 5,000-component versions cost about 60,000
    steps, where the dynamic-programming table took 25 million cells (and 200 MB)."""
    position = {cid: i for i, cid in enumerate(a)}
    shared = [(position[cid], cid) for cid in b if cid in position]
    tails: list[int] = []  # tails[k]: the smallest position ending an increasing run of k + 1
    ends: list[int] = []  # index into `shared` of that run's last element
    back = [-1] * len(shared)  # the element before each one in its run
    for index, (pos, _) in enumerate(shared):
        k = bisect.bisect_left(tails, pos)
        if k == len(tails):
            tails.append(pos)
            ends.append(index)
        else:
            tails[k] = pos
            ends[k] = index
        back[index] = ends[k - 1] if k else -1
    kept: set[str] = set()
    index = ends[-1] if ends else -1
    while index >= 0:
        kept.add(shared[index][1])
        index = back[index]
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
    """Components added / removed / moved, then every changed field (page and component).

    Linear in the components (plus the O(n log n) of `lcs_ids`): components are matched by id,
    positions come from one index per side."""
    old_components, new_components = _components(old), _components(new)
    old_at = {cid: i for i, cid in enumerate(old_components)}
    new_at = {cid: i for i, cid in enumerate(new_components)}
    changes: list[Change] = []
    for cid, at in new_at.items():
        if cid not in old_at:
            changes.append({"kind": "added", "component": cid, "to": at})
    for cid, at in old_at.items():
        if cid not in new_at:
            changes.append({"kind": "removed", "component": cid, "from": at})
    common_old = [c for c in old_at if c in new_at]
    common_new = [c for c in new_at if c in old_at]
    kept = lcs_ids(common_old, common_new)
    for cid in common_new:
        if cid not in kept:
            changes.append(
                {"kind": "moved", "component": cid, "from": old_at[cid], "to": new_at[cid]}
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


# The unified text diff runs difflib's SequenceMatcher, quadratic in the lines at worst: it is
# made only when both pretty-printed documents have at most this many lines. A template within
# `lint.templates.MAX_COMPONENTS` (200) is about 4,200 lines (the shipped home page: 48
# components, 1,092 lines), so every template published under the limit gets its text diff;
# versions stored before the limit get the structured changes alone (`unified_complete` false).
UNIFIED_MAX_LINES = 10_000


def unified(
    old: Mapping[str, Any], new: Mapping[str, Any], old_name: str, new_name: str
) -> str | None:
    """The unified diff of the pretty-printed documents, or None when either is over
    `UNIFIED_MAX_LINES` lines (not computed)."""
    before = pretty(old).splitlines(keepends=True)
    after = pretty(new).splitlines(keepends=True)
    if max(len(before), len(after)) > UNIFIED_MAX_LINES:
        return None
    return "".join(difflib.unified_diff(before, after, fromfile=old_name, tofile=new_name))


def diff_documents(
    old: bytes, new: bytes, old_name: str = "from", new_name: str = "to"
) -> dict[str, Any]:
    """`{"unified": "...", "unified_complete": bool, "changes": [...]}` for two stored (JSON)
    template documents; `unified` is "" and `unified_complete` false past
    `UNIFIED_MAX_LINES`. CPU-bound: callers on an event loop run it in a thread."""
    before = msgspec.json.decode(old)
    after = msgspec.json.decode(new)
    text = unified(before, after, old_name, new_name)
    return {
        "unified": text or "",
        "unified_complete": text is not None,
        "changes": structured_changes(before, after),
    }


def document_changes(old: bytes, new: bytes) -> list[Change]:
    """The structured changes alone (a stale base's 409 shows these, never the text)."""
    return structured_changes(msgspec.json.decode(old), msgspec.json.decode(new))
