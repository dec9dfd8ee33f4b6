"""Sticky bucketing that survives weight edits: an edit moves only the users
it must. The home page's experiment is republished with other weights and 400 users compared."""

from __future__ import annotations

from collections import Counter

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.helpers.engine import compiled_page
from uiserver.catalog import template_version
from uiserver.engine.hashing import BUCKETS, SCHEME_VERSION, bucket
from uiserver.engine.variant import assign, choose_variant
from uiserver.schema import Context, Profile, Template, VariantSpec

USERS = [f"user-{i}" for i in range(400)]


def _reweighted(template: Template, weights: list[int]) -> Template:
    variants = [
        msgspec.structs.replace(v, weight=w)
        for v, w in zip(template.variants, weights, strict=True)
    ]
    return msgspec.structs.replace(template, variants=variants)


def _variants_served(template: Template) -> dict[str, str | None]:
    engine, _, _ = compiled_page("home")
    compiled = engine.compile(template, template_version(template))
    return {u: engine.plan(compiled, Profile(user_id=u), Context()).variant for u in USERS}


def test_home_republished_with_equal_shares_moves_nobody() -> None:
    _, _, home = compiled_page("home")
    assert [v.weight for v in home.variants] == [50, 50]
    before = _variants_served(home)
    after = _variants_served(_reweighted(home, [1, 1]))
    assert sum(before[u] != after[u] for u in USERS) == 0
    assert set(Counter(before.values())) == {"control", "deals_first"}


def test_home_growing_a_variant_only_moves_users_into_it() -> None:
    _, _, home = compiled_page("home")
    before = _variants_served(home)
    after = _variants_served(_reweighted(home, [50, 60]))
    moved = [(before[u], after[u]) for u in USERS if before[u] != after[u]]
    assert moved, "a 10-point share change moves some users"
    assert set(moved) == {("control", "deals_first")}


def test_reordering_variants_moves_nobody() -> None:
    _, _, home = compiled_page("home")
    before = _variants_served(home)
    swapped = msgspec.structs.replace(home, variants=list(reversed(home.variants)))
    assert _variants_served(swapped) == before


def test_bucket_is_in_the_fixed_space_and_versioned() -> None:
    points = [bucket(u, "exp") for u in USERS]
    assert all(0 <= p < BUCKETS for p in points)
    assert points == [bucket(u, "exp", SCHEME_VERSION) for u in USERS]
    assert len(set(points)) > 390
    with pytest.raises(ValueError, match="scheme"):
        bucket("u", "exp", 99)


def test_shares_follow_weights_over_the_bucket_space() -> None:
    variants = [("a", 1), ("b", 3), ("c", 0)]
    counts = Counter(assign(p, variants) for p in range(BUCKETS))
    assert counts["c"] == 0
    assert abs(counts["b"] / BUCKETS - 0.75) < 0.02
    assert assign(0, [("a", 0)]) is None
    assert choose_variant("u", "exp", []) is None


names_st = st.lists(
    st.text(alphabet="abcdefgh", min_size=1, max_size=4), min_size=1, max_size=5, unique=True
)


@settings(max_examples=60, deadline=None)
@given(
    names=names_st,
    data=st.data(),
)
def test_any_weight_edit_moves_users_only_into_grown_or_out_of_shrunk_variants(
    names: list[str], data: st.DataObject
) -> None:
    weights = data.draw(st.lists(st.integers(0, 100), min_size=len(names), max_size=len(names)))
    k = data.draw(st.integers(0, len(names) - 1))
    grow = data.draw(st.integers(1, 100))
    scale = data.draw(st.integers(1, 7))
    before = list(zip(names, weights, strict=True))
    grown = [(n, w + grow if i == k else w) for i, (n, w) in enumerate(before)]
    scaled = [(n, w * scale) for n, w in before]
    for p in range(0, BUCKETS, 37):
        was = assign(p, before)
        assert assign(p, scaled) == was  # equal shares: nobody moves
        now = assign(p, grown)
        if now != was:
            assert now == names[k]  # growing k only moves users into k
            shrunk_back = assign(p, before)
            assert shrunk_back == was  # and shrinking it back only moves them out again


def test_variant_spec_weights_are_what_the_engine_reads() -> None:
    _, compiled, home = compiled_page("home")
    assert compiled.variant_weights == tuple((v.name, v.weight) for v in home.variants)
    assert isinstance(home.variants[0], VariantSpec)
