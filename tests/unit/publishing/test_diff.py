"""Template diffs: components matched by id, moves by LCS, fields by path."""

from __future__ import annotations

import difflib
import random
import tracemalloc
from collections.abc import Iterator, Sequence
from typing import Any

import msgspec
import pytest

from uiserver.publishing.diff import diff_documents, lcs_ids, pretty, structured_changes


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


# --------------------------------------------------------------------------- bounded (issue 27)


def _lcs_length(a: list[str], b: list[str]) -> int:
    """The textbook dynamic programme, as the reference for small inputs."""
    rows = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i in range(len(a) - 1, -1, -1):
        for j in range(len(b) - 1, -1, -1):
            rows[i][j] = (
                rows[i + 1][j + 1] + 1 if a[i] == b[j] else max(rows[i + 1][j], rows[i][j + 1])
            )
    return rows[0][0]


@pytest.mark.parametrize("seed", range(40))
def test_lcs_of_two_orders_is_a_longest_common_subsequence(seed: int) -> None:
    rng = random.Random(seed)
    ids = [f"c{i}" for i in range(rng.randint(0, 30))]
    a = rng.sample(ids, rng.randint(0, len(ids)))
    b = rng.sample(ids, rng.randint(0, len(ids)))
    kept = lcs_ids(a, b)
    assert len(kept) == _lcs_length(a, b)
    assert [c for c in a if c in kept] == [c for c in b if c in kept]  # common, same order


def big(n: int, seed: int | None = None, **extra: object) -> bytes:
    """A template document of `n` components (shuffled by `seed`)."""
    components = [
        {"id": f"c{i}", "type": "product_grid", "label": f"Aisle {i}", "props": {"rows": i % 4}}
        for i in range(n)
    ]
    if seed is not None:
        random.Random(seed).shuffle(components)
    return msgspec.json.encode({"page": "p", "title": "T", "components": components, **extra})


def test_two_5000_component_versions_diff_in_bounded_memory_without_a_text_diff(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Was a 25-million-cell LCS table (about 5 s and 150-200 MB) plus a quadratic text diff."""
    texts: list[int] = []
    real = difflib.unified_diff

    def counted(a: Sequence[str], b: Sequence[str], **kwargs: Any) -> Iterator[str]:
        texts.append(len(a) + len(b))
        return real(a, b, **kwargs)

    monkeypatch.setattr(difflib, "unified_diff", counted)
    old, new = big(5_000), big(5_000, seed=1, title="U")
    tracemalloc.start()
    try:
        result = diff_documents(old, new)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 40 * 2**20, f"peak {peak / 2**20:.0f} MiB"
    assert texts == []  # no quadratic text diff past UNIFIED_MAX_LINES
    assert result["unified"] == "" and result["unified_complete"] is False
    moved = [c for c in result["changes"] if c["kind"] == "moved"]
    assert 4_000 < len(moved) < 5_000  # a shuffle keeps an increasing run of ~2 sqrt(n)
    assert {"kind": "changed", "field": "title", "from": "T", "to": "U"} in result["changes"]


def test_a_text_diff_is_made_up_to_the_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    old, new = big(200), big(200, seed=2)
    result = diff_documents(old, new, "a", "b")
    assert result["unified_complete"] is True and result["unified"].startswith("--- a\n")
    lines = len(pretty(msgspec.json.decode(old)).splitlines())
    monkeypatch.setattr("uiserver.publishing.diff.UNIFIED_MAX_LINES", lines - 1)
    assert diff_documents(old, new)["unified_complete"] is False
