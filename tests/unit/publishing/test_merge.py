"""Re-applying a designer's edit on a newer version: what one side changed survives."""

from __future__ import annotations

from typing import Any

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
