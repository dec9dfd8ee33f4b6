"""Re-applying a designer's edit on a newer version: what one side changed survives."""

from __future__ import annotations

import random
from typing import Any

import pytest

from uiserver.publishing.merge import merge3


def page(*components: dict[str, Any], title: str = "Home") -> dict[str, Any]:
    return {"page": "home", "title": title, "components": list(components)}


def comp(cid: str, label: str = "x") -> dict[str, Any]:
    return {"id": cid, "label": label}


def test_both_sides_changes_survive() -> None:
    base = page(comp("a"), comp("b"), comp("c"))
    mine = page(comp("a", "mine"), comp("b"), comp("c"), comp("new"))
    theirs = page(comp("a"), comp("c"), title="Theirs")  # removed b, changed the title
    merged, conflicts = merge3(base, mine, theirs)
    assert merged == page(comp("a", "mine"), comp("c"), comp("new"), title="Theirs")
    assert conflicts == []


def test_a_reorder_on_one_side_is_kept() -> None:
    base = page(comp("a"), comp("b"), comp("c"))
    mine = page(comp("c"), comp("a"), comp("b"))
    theirs = page(comp("a"), comp("b", "theirs"), comp("c"))
    merged, conflicts = merge3(base, mine, theirs)
    assert [c["id"] for c in merged["components"]] == ["c", "a", "b"]
    assert merged["components"][2]["label"] == "theirs" and conflicts == []


def test_the_same_field_changed_differently_is_a_conflict_kept_as_mine() -> None:
    base = page(comp("a"))
    merged, conflicts = merge3(base, page(comp("a", "mine")), page(comp("a", "theirs")))
    assert merged["components"][0]["label"] == "mine"
    assert conflicts == ["components[a].label"]


def _order_as_before(order: list[str], other: list[str], base: set[str]) -> list[str]:
    """The insertion the merge did before it was made linear (the reference)."""
    order = list(order)
    for position, cid in enumerate(other):
        if cid not in order and cid not in base:
            before = other[position - 1] if position else None
            order.insert(order.index(before) + 1 if before in order else 0, cid)
    return order


@pytest.mark.parametrize("seed", range(60))
def test_a_merge_places_additions_as_the_one_by_one_insertion_did(seed: int) -> None:
    rng = random.Random(seed)
    base_ids = [f"b{i}" for i in range(rng.randint(0, 12))]
    mine_ids = [c for c in base_ids if rng.random() < 0.8]
    theirs_ids = [c for c in base_ids if rng.random() < 0.8]
    rng.shuffle(mine_ids)  # mine reordered
    for i in range(rng.randint(0, 8)):  # theirs added some, anywhere
        theirs_ids.insert(rng.randint(0, len(theirs_ids)), f"t{i}")
    base = page(*(comp(c) for c in base_ids))
    merged, _ = merge3(
        base, page(*(comp(c) for c in mine_ids)), page(*(comp(c) for c in theirs_ids))
    )
    common = [c for c in base_ids if c in mine_ids and c in theirs_ids]
    mine_moved = [c for c in mine_ids if c in common] != common
    first, second = (mine_ids, theirs_ids) if mine_moved else (theirs_ids, mine_ids)
    expected = _order_as_before(first, second, set(base_ids))
    kept = [c for c in expected if c in set(mine_ids) | set(theirs_ids)]
    got = [c["id"] for c in merged["components"]]
    assert got == [
        c for c in kept if not (c in base_ids and (c not in mine_ids or c not in theirs_ids))
    ]


def test_a_merge_of_5000_component_pages_places_2500_additions() -> None:
    ids = [f"c{i}" for i in range(5_000)]
    theirs = [x for c in ids for x in ((c, f"n{c}") if int(c[1:]) % 2 else (c,))]
    merged, conflicts = merge3(
        page(*(comp(c) for c in ids)),
        page(*(comp(c) for c in reversed(ids))),  # mine reversed the order
        page(*(comp(c) for c in theirs)),
    )
    got = [c["id"] for c in merged["components"]]
    assert conflicts == [] and len(got) == 7_500
    assert got[:4] == ["c4999", "nc4999", "c4998", "c4997"]
