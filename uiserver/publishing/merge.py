"""Re-apply a designer's edit on top of a version someone else published meanwhile.

A three-way merge of template documents (canonical JSON, every default spelled out): `base` is
the version the designer opened, `mine` their draft, `theirs` the live version. What only one
side changed is taken from that side; what both changed to different values is a conflict,
resolved to the designer's value and listed, so the console can say what to check before
publishing. Components are matched by id (as in `publishing.diff`), so a component added by one
side and a label changed by the other both survive.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

_MISSING: Any = object()


def merge3(base: Any, mine: Any, theirs: Any) -> tuple[Any, list[str]]:
    """(the merged document, the paths both sides changed differently)."""
    conflicts: list[str] = []
    merged = _merge(base, mine, theirs, "", conflicts)
    return merged, conflicts


def _merge(base: Any, mine: Any, theirs: Any, path: str, conflicts: list[str]) -> Any:
    if mine == base:
        return theirs
    if theirs == base or mine == theirs:
        return mine
    if all(isinstance(v, Mapping) for v in (base, mine, theirs)):
        return _merge_maps(base, mine, theirs, path, conflicts)
    if path == "components" and all(isinstance(v, list) for v in (base, mine, theirs)):
        return _merge_components(base, mine, theirs, conflicts)
    conflicts.append(path or "template")
    return mine


def _merge_maps(
    base: Mapping[str, Any],
    mine: Mapping[str, Any],
    theirs: Mapping[str, Any],
    path: str,
    conflicts: list[str],
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in [*theirs, *(k for k in mine if k not in theirs)]:
        value = _merge(
            base.get(key, _MISSING),
            mine.get(key, _MISSING),
            theirs.get(key, _MISSING),
            f"{path}.{key}" if path else key,
            conflicts,
        )
        if value is not _MISSING:
            out[key] = value
    return out


def _ids(components: list[Any]) -> list[str]:
    return [c["id"] for c in components if isinstance(c, Mapping) and "id" in c]


def _merge_components(
    base: list[Any], mine: list[Any], theirs: list[Any], conflicts: list[str]
) -> list[Any]:
    by = [
        {c["id"]: c for c in side if isinstance(c, Mapping) and "id" in c}
        for side in (base, mine, theirs)
    ]
    base_ids, mine_ids, their_ids = (_ids(side) for side in (base, mine, theirs))
    # The order: whichever side reordered the components it shares with the base.
    common = [i for i in base_ids if i in by[1] and i in by[2]]
    mine_moved = [i for i in mine_ids if i in common] != common
    theirs_moved = [i for i in their_ids if i in common] != common
    if mine_moved and theirs_moved:
        conflicts.append("components (order)")
    order = _with_additions(
        mine_ids if mine_moved else their_ids, their_ids if mine_moved else mine_ids, by[0]
    )
    out = []
    for cid in order:
        b, m, t = (side.get(cid, _MISSING) for side in by)
        if b is not _MISSING and (m is _MISSING or t is _MISSING):
            if (m is _MISSING and t not in (_MISSING, b)) or (
                t is _MISSING and m not in (_MISSING, b)
            ):
                conflicts.append(f"components[{cid}] (removed and changed)")
            continue  # removed by a side: removed
        value = _merge(b, m, t, f"components[{cid}]", conflicts)
        if value is not _MISSING:
            out.append(value)
    return out


def _with_additions(order: list[str], other: list[str], base: Mapping[str, Any]) -> list[str]:
    """`order` with what `other` added (ids in neither `order` nor `base`), each right after
    its neighbour in `other` (at the front when that neighbour is not placed). Linear: each
    addition is hung on its anchor, then the order is written out once (inserting into a list
    one by one was quadratic in a large page)."""
    placed = set(order)
    front: list[str] = []
    after: dict[str, str] = {}  # anchor -> the id added right after it (one per anchor)
    for position, cid in enumerate(other):
        if cid in placed or cid in base:
            continue
        before = other[position - 1] if position else None
        if before is not None and before in placed:
            after[before] = cid
        else:
            front.append(cid)
        placed.add(cid)
    out: list[str] = []
    for start in [*reversed(front), *order]:  # as inserting at index 0 one by one did
        link: str | None = start
        while link is not None:
            out.append(link)
            link = after.get(link)
    return out
