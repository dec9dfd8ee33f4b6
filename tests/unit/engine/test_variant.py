"""Sticky bucketing (scheme 3): an edit made from the live allocation moves only the users it
must (the home page's experiment republished with other weights, 400 users compared); the
bucket and the variant of a user. Exact splits: test_split.py."""

from __future__ import annotations

from collections import Counter

import msgspec
import pytest

from tests.helpers.engine import compiled_page
from uiserver.catalog import template_version
from uiserver.engine.allocation import Allocation, allocate
from uiserver.engine.hashing import BUCKETS, SCHEME_VERSION, bucket
from uiserver.engine.variant import choose_variant
from uiserver.schema import Context, Profile, Template, VariantSpec

USERS = [f"user-{i}" for i in range(400)]


def _edited(template: Template, weights: list[int]) -> tuple[Template, Allocation]:
    """`template` republished with `weights`, its allocation made from the shipped one (as a
    publish makes it from the live entry)."""
    variants = [
        msgspec.structs.replace(v, weight=w)
        for v, w in zip(template.variants, weights, strict=True)
    ]
    _, compiled, _ = compiled_page("home")
    assert template.experiment is not None and compiled.allocation is not None
    pairs = [(v.name, v.weight) for v in variants]
    edited = msgspec.structs.replace(template, variants=variants)
    return edited, allocate(template.experiment, pairs, compiled.allocation)


def _variants_served(template: Template, allocation: Allocation | None) -> dict[str, str | None]:
    engine, _, _ = compiled_page("home")
    compiled = engine.compile(template, template_version(template), allocation)
    return {u: engine.plan(compiled, Profile(user_id=u), Context()).variant for u in USERS}


def test_home_republished_with_equal_shares_moves_nobody() -> None:
    _, compiled, home = compiled_page("home")
    before = _variants_served(home, compiled.allocation)
    after = _variants_served(*_edited(home, [1, 1]))
    assert sum(before[u] != after[u] for u in USERS) == 0
    assert set(Counter(before.values())) == {"control", "deals_first"}


def test_home_growing_a_variant_only_moves_users_into_it() -> None:
    _, compiled, home = compiled_page("home")
    before = _variants_served(home, compiled.allocation)
    after = _variants_served(*_edited(home, [50, 60]))
    moved = [(before[u], after[u]) for u in USERS if before[u] != after[u]]
    assert moved, "a 10-point share change moves some users"
    assert set(moved) == {("control", "deals_first")}


def test_reordering_variants_moves_nobody() -> None:
    _, compiled, home = compiled_page("home")
    before = _variants_served(home, compiled.allocation)
    swapped = msgspec.structs.replace(home, variants=list(reversed(home.variants)))
    assert _variants_served(swapped, None) == before  # even the initial allocation
    assert home.experiment is not None and compiled.allocation is not None
    pairs = [(v.name, v.weight) for v in swapped.variants]
    edit = allocate(home.experiment, pairs, compiled.allocation)
    assert _variants_served(swapped, edit) == before


def test_bucket_is_in_the_fixed_space_and_versioned() -> None:
    assert SCHEME_VERSION == 3
    points = [bucket(u, "exp") for u in USERS]
    assert all(0 <= p < BUCKETS for p in points)
    assert points == [bucket(u, "exp", SCHEME_VERSION) for u in USERS]
    assert len(set(points)) > 380  # ~392 expected: 400 users, 10,000 buckets
    with pytest.raises(ValueError, match="scheme"):
        bucket("u", "exp", 2)  # scheme 2's buckets are not served any more


def test_choose_variant_is_the_bucket_entry_of_the_allocation() -> None:
    allocation = allocate("exp", [("a", 1), ("b", 3)], None)
    for user in USERS:
        assert choose_variant(user, allocation) == allocation.variant(bucket(user, "exp"))
    assert choose_variant("", allocation) is None  # anonymous: the base
    assert choose_variant("u", None) is None  # no experiment


def test_variant_spec_weights_are_what_the_engine_reads() -> None:
    _, compiled, home = compiled_page("home")
    assert compiled.variant_weights == tuple((v.name, v.weight) for v in home.variants)
    assert compiled.allocation is not None
    assert compiled.allocation.experiment == home.experiment
    assert isinstance(home.variants[0], VariantSpec)
