"""Template diffs: components matched by id, moves by LCS, fields by path."""

from __future__ import annotations

import msgspec

from uiserver.publishing.diff import diff_documents, lcs_ids, structured_changes


def doc(*ids: str, **extra: object) -> dict[str, object]:
    return {"page": "p", "title": "T", "components": [{"id": i, "label": i} for i in ids], **extra}


def test_lcs_keeps_the_longest_common_order() -> None:
    assert lcs_ids(["a", "b", "c", "d"], ["a", "c", "d", "b"]) == {"a", "c", "d"}
    assert lcs_ids([], ["a"]) == set()


def test_insert_is_one_addition_not_a_cascade() -> None:
    changes = structured_changes(doc("a", "b", "c"), doc("a", "new", "b", "c"))
    assert changes == [{"kind": "added", "component": "new", "to": 1}]


def test_move_remove_and_fields() -> None:
    old = doc("a", "b", "c", "d", theme={"font_px": 16})
    new = doc("b", "c", "a", theme={"font_px": 18})
    new["components"][0]["label"] = "B!"  # type: ignore[index]
    changes = structured_changes(old, new)
    assert {"kind": "removed", "component": "d", "from": 3} in changes
    assert {"kind": "moved", "component": "a", "from": 0, "to": 2} in changes
    assert {"kind": "changed", "field": "theme.font_px", "from": 16, "to": 18} in changes
    assert {
        "kind": "changed",
        "field": "components[b].label",
        "from": "b",
        "to": "B!",
        "component": "b",
    } in changes
    assert not any(c.get("component") == "c" for c in changes)


def test_unified_diff_of_pretty_json() -> None:
    old, new = doc("a"), doc("a", title="U")
    result = diff_documents(msgspec.json.encode(old), msgspec.json.encode(new), "v1", "v2")
    assert result["unified"].startswith("--- v1\n+++ v2\n")
    assert '-  "title": "T"\n' in result["unified"] and '+  "title": "U"\n' in result["unified"]
    assert result["changes"] == [{"kind": "changed", "field": "title", "from": "T", "to": "U"}]
