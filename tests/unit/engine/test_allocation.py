"""The bucket allocation (`engine.allocation`): exact counts, the stickiness rules over sequences
of edits (hypothesis), determinism, and its bounded, checked encoding."""

from __future__ import annotations

import random
import zlib
from dataclasses import dataclass
from fractions import Fraction

import msgspec
import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from uiserver.engine.allocation import (
    BASE,
    FORMAT,
    MAX_DECODED,
    MAX_VARIANTS,
    Allocation,
    AllocationError,
    allocate,
    initial,
    target_counts,
)
from uiserver.engine.hashing import BUCKETS, SCHEME_VERSION

Weights = list[tuple[str, int]]


def shares(weights: Weights) -> dict[str, Fraction]:
    total = sum(w for _, w in weights)
    return {n: Fraction(w, total) for n, w in weights}


def assert_exact(allocation: Allocation, weights: Weights) -> None:
    """Every variant within one bucket of its share; every bucket served (some weight > 0)."""
    counts = allocation.counts()
    assert sum(counts.values()) == BUCKETS
    for name, share in shares(weights).items():
        assert abs(counts[name] - share * BUCKETS) < 1, (name, counts, weights)


def moves(before: Allocation, after: Allocation) -> set[tuple[str | None, str | None]]:
    """Every (from, to) variant pair some bucket moved by."""
    old = [*before.names, *[None] * (256 - len(before.names))]
    new = [*after.names, *[None] * (256 - len(after.names))]
    return {(old[x], new[y]) for x, y in zip(before.table, after.table, strict=True)} - {
        (n, n) for n in {*before.names, *after.names, None}
    }


@pytest.mark.parametrize(
    ("weights", "counts"),
    [
        pytest.param([("control", 50), ("deals_first", 50)], [5000, 5000], id="50-50"),
        pytest.param([("control", 90), ("variant", 10)], [9000, 1000], id="90-10"),
        pytest.param([("a", 1), ("b", 1), ("c", 1)], [3334, 3333, 3333], id="1-1-1"),
        pytest.param([("c", 1), ("b", 1), ("a", 1)], [3333, 3333, 3334], id="1-1-1-reordered"),
        pytest.param([("a", 1), ("b", 2)], [3333, 6667], id="1-2"),
        pytest.param([("a", 3), ("b", 3), ("c", 3), ("d", 3), ("e", 3), ("f", 3)], None, id="6x"),
        pytest.param([("a", 1), ("b", 0)], [10_000, 0], id="a-zero"),
    ],
)
def test_initial_counts_are_largest_remainder(weights: Weights, counts: list[int] | None) -> None:
    allocation = allocate("exp", weights, None)
    assert_exact(allocation, weights)
    if counts is not None:
        assert list(allocation.counts().values()) == counts
    assert list(target_counts(weights, None).values()) == list(allocation.counts().values())


def test_initial_is_deterministic_and_blind_to_order_and_scale() -> None:
    one = allocate("exp", [("a", 1), ("b", 1), ("c", 1)], None)
    scaled_reordered = allocate("exp", [("c", 7), ("a", 7), ("b", 7)], None)
    assert not moves(one, scaled_reordered)
    assert allocate("exp", [("a", 1), ("b", 1), ("c", 1)], None).table == one.table
    assert initial("exp", (("a", 1), ("b", 1), ("c", 1))).table == one.table
    other = allocate("other_exp", [("a", 1), ("b", 1), ("c", 1)], None)
    assert other.table != one.table  # the experiment id seeds the scores


def test_a_new_experiment_id_is_not_an_edit() -> None:
    before = allocate("exp", [("a", 1), ("b", 1)], None)
    after = allocate("exp_v2", [("a", 1), ("b", 1)], before)
    assert after.table == allocate("exp_v2", [("a", 1), ("b", 1)], None).table


def test_refuses_what_a_table_cannot_hold() -> None:
    with pytest.raises(AllocationError, match="weight above 0"):
        allocate("exp", [("a", 0)], None)
    with pytest.raises(AllocationError, match="holds 255"):
        allocate("exp", [(f"v{i}", 1) for i in range(MAX_VARIANTS + 1)], None)
    assert_exact(
        allocate("exp", [(f"v{i}", 1) for i in range(MAX_VARIANTS)], None),
        [(f"v{i}", 1) for i in range(MAX_VARIANTS)],
    )


# ------------------------------------------------------------------ sequences of edits

NAMES = "abcdefgh"


@dataclass(frozen=True)
class Edit:
    kind: str  # scale, reorder, grow, shrink, add, remove, reweigh
    index: int = 0
    amount: int = 1
    name: str = ""
    weights: tuple[int, ...] = ()


edit_st = st.one_of(
    st.builds(Edit, kind=st.just("scale"), amount=st.integers(2, 9)),
    st.builds(Edit, kind=st.just("reorder"), amount=st.integers(0, 10_000)),
    st.builds(Edit, kind=st.just("grow"), index=st.integers(0, 7), amount=st.integers(1, 200)),
    st.builds(Edit, kind=st.just("shrink"), index=st.integers(0, 7), amount=st.integers(1, 200)),
    st.builds(Edit, kind=st.just("add"), name=st.sampled_from(NAMES), amount=st.integers(0, 200)),
    st.builds(Edit, kind=st.just("remove"), index=st.integers(0, 7)),
    st.builds(
        Edit,
        kind=st.just("reweigh"),
        weights=st.lists(st.integers(0, 200), min_size=8, max_size=8).map(tuple),
    ),
)


def apply(weights: Weights, edit: Edit) -> Weights | None:
    """The weights after `edit`, or None when it does not apply (no weight left above 0...)."""
    i = edit.index % len(weights)
    out: Weights
    if edit.kind == "scale":
        out = [(n, w * edit.amount) for n, w in weights]
    elif edit.kind == "reorder":
        out = list(weights)
        random.Random(edit.amount).shuffle(out)
    elif edit.kind == "grow":
        out = [(n, w + edit.amount if j == i else w) for j, (n, w) in enumerate(weights)]
    elif edit.kind == "shrink":
        out = [(n, max(0, w - edit.amount) if j == i else w) for j, (n, w) in enumerate(weights)]
    elif edit.kind == "add":
        out = [*weights, (edit.name, edit.amount)]
    elif edit.kind == "remove":
        out = [p for j, p in enumerate(weights) if j != i]
    else:
        out = [(n, edit.weights[j]) for j, (n, _) in enumerate(weights)]
    unique = len({n for n, _ in out}) == len(out)
    return out if unique and any(w > 0 for _, w in out) else None


def check_moves(
    edit: Edit, before: Weights, after: Weights, found: set[tuple[str | None, str | None]]
) -> None:
    """Who moved, against the rules of `engine.variant`."""
    old, new = shares(before), shares(after)
    changed = {n for n in new if old.get(n) != new[n]} | (set(old) - set(new))
    if not changed:  # the same shares written differently, reordered: nobody moves
        assert not found, (edit, found)
    for src, dst in found:
        assert src is not None and dst is not None
        assert new.get(src, Fraction(0)) < old[src], (edit, src, dst)  # out of shrunk ones
        assert new[dst] > old.get(dst, Fraction(0)), (edit, src, dst)  # into grown ones
    if edit.kind == "grow" and changed:
        assert {dst for _, dst in found} <= {before[edit.index % len(before)][0]}
    if edit.kind in ("shrink", "remove") and changed:
        assert {src for src, _ in found} <= {before[edit.index % len(before)][0]}
    if edit.kind == "add":
        assert {dst for _, dst in found} <= {edit.name}


@settings(max_examples=50, deadline=None)
@given(
    names=st.lists(st.sampled_from(NAMES), min_size=1, max_size=5, unique=True),
    data=st.data(),
    edits=st.lists(edit_st, min_size=1, max_size=5),
    experiment=st.sampled_from(["exp", "home_deals_position_v1", "checkout_v2"]),
)
def test_every_edit_is_exact_and_moves_only_the_users_it_must(
    names: list[str], data: st.DataObject, edits: list[Edit], experiment: str
) -> None:
    first = data.draw(st.lists(st.integers(0, 200), min_size=len(names), max_size=len(names)))
    weights: Weights = list(zip(names, first, strict=True))
    if not any(w > 0 for _, w in weights):
        weights[0] = (names[0], 1)
    allocation = allocate(experiment, weights, None)
    assert_exact(allocation, weights)
    for edit in edits:
        after = apply(weights, edit)
        if after is None:
            continue
        edited = allocate(experiment, after, allocation)
        assert_exact(edited, after)
        check_moves(edit, weights, after, moves(allocation, edited))
        allocation, weights = edited, after


@settings(max_examples=25, deadline=None)
@given(
    weights=st.lists(st.integers(1, 100), min_size=2, max_size=5),
    k=st.data(),
)
def test_growing_then_shrinking_back_moves_users_out_of_it_only(
    weights: list[int], k: st.DataObject
) -> None:
    """An edit undone: the counts return exactly, and only users of the shrunk variant move
    (not necessarily the same users: each edit moves the fewest, by score)."""
    names = [NAMES[i] for i in range(len(weights))]
    before: Weights = list(zip(names, weights, strict=True))
    i = k.draw(st.integers(0, len(weights) - 1))
    grow = k.draw(st.integers(1, 100))
    grown = [(n, w + grow if j == i else w) for j, (n, w) in enumerate(before)]
    start = allocate("exp", before, None)
    there = allocate("exp", grown, start)
    back = allocate("exp", before, there)
    assert_exact(back, before)
    assert moves(start, there) <= {(n, names[i]) for n in names}
    assert moves(there, back) <= {(names[i], n) for n in names}
    assert allocate("exp", before, there).table == back.table  # deterministic


# ------------------------------------------------------------------ encoding


def test_encoding_round_trips_and_is_small() -> None:
    allocation = allocate("exp", [("control", 50), ("deals_first", 50)], None)
    data = allocation.encode()
    assert data[0] == FORMAT
    assert len(data) < 2_500  # ~1 bit of entropy a bucket, plus names
    again = Allocation.decode(data)
    assert (again.experiment, again.names, again.weights) == (
        "exp",
        ("control", "deals_first"),
        (50, 50),
    )
    assert again.table == allocation.table
    assert again.fits("exp", [("deals_first", 50), ("control", 50)])
    assert not again.fits("exp", [("control", 50), ("deals_first", 60)])
    assert not again.fits("exp2", [("control", 50), ("deals_first", 50)])


def _wire(**fields: object) -> bytes:
    values: dict[str, object] = {
        "scheme": SCHEME_VERSION,
        "experiment": "exp",
        "names": ["a", "b"],
        "weights": [1, 1],
        "table": bytes([0, 1]) * (BUCKETS // 2),
    }
    values.update(fields)
    body = msgspec.msgpack.encode(list(values.values()))
    return bytes([FORMAT]) + zlib.compress(body)


GOOD = _wire()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        pytest.param(b"", "no allocation", id="empty"),
        pytest.param(b"\x02" + GOOD[1:], "unknown allocation format 2", id="format"),
        pytest.param(GOOD[:-5], "truncated", id="truncated"),
        pytest.param(GOOD + b"junk", "bytes after its end", id="trailing"),
        pytest.param(b"\x01not zlib at all", "corrupt", id="not-zlib"),
        pytest.param(b"\x01" + zlib.compress(b"\xc1"), "corrupt", id="not-msgpack"),
        pytest.param(
            b"\x01" + zlib.compress(bytes(MAX_DECODED + 1)), "inflates past", id="inflation-bomb"
        ),
        pytest.param(b"\x01" + bytes(70_000), "at most", id="too-large"),
        pytest.param(_wire(scheme=2), "bucketing scheme 2", id="old-scheme"),
        pytest.param(_wire(table=bytes(100)), "100 buckets", id="short-table"),
        pytest.param(_wire(table=bytes([2]) * BUCKETS), "variant 2 of 2", id="stray-byte"),
        pytest.param(_wire(weights=[1]), "one weight per variant", id="weights"),
        pytest.param(_wire(names=["a", "a"]), "duplicate", id="duplicate-names"),
        pytest.param(_wire(weights=[1, -1]), "negative", id="negative-weight"),
    ],
)
def test_decode_is_bounded_and_says_what_is_wrong(data: bytes, message: str) -> None:
    with pytest.raises(AllocationError, match=message):
        Allocation.decode(data)


def test_the_base_byte_serves_no_variant() -> None:
    allocation = Allocation("exp", [("a", 1)], bytes([BASE]) * BUCKETS)
    assert allocation.variant(0) is None
    assert allocation.counts() == {"a": 0}
    assert Allocation.decode(GOOD).counts() == {"a": 5000, "b": 5000}


def _scores(seed: int) -> npt.NDArray[np.uint64]:
    """`hashing.rendezvous(seed, p)` for every bucket p, as numpy uint64 arithmetic (which
    wraps modulo 2**64 as the `& _MASK` there does): the 255-variant case scores 2,550,000
    pairs, 11 s of CPU one call at a time."""
    one = np.uint64
    with np.errstate(over="ignore"):
        z = one(seed) + np.arange(1, BUCKETS + 1, dtype=np.uint64) * one(0x9E3779B97F4A7C15)
        z = (z ^ (z >> one(30))) * one(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> one(27))) * one(0x94D049BB133111EB)
        return z ^ (z >> one(31))


def _global_sort_take(experiment: str, variants: list[tuple[str, int]]) -> bytes:
    """The initial allocation as its definition reads: every (bucket, variant) pair in one
    descending sort of (score, bucket, name's rank), each bucket to the first variant below
    its count (the reference `_take`'s heap merge must equal). The scores are
    `hashing.rendezvous`'s (`_scores`, checked against it on a sample of every variant's)."""
    from uiserver.engine.allocation import BASE, target_counts
    from uiserver.engine.hashing import allocation_seed, rendezvous

    counts = target_counts(variants, None)
    growers = sorted(n for n, _ in variants if counts[n] > 0)
    index = {n: i for i, (n, _) in enumerate(variants)}
    scores = [_scores(allocation_seed(experiment, name)) for name in growers]
    for name, row in zip(growers, scores, strict=True):
        seed = allocation_seed(experiment, name)
        for p in (0, 1, 4_999, BUCKETS - 1):
            assert int(row[p]) == rendezvous(seed, p), (name, p)
    score = np.concatenate(scores)
    bucket = np.tile(np.arange(BUCKETS), len(growers))
    rank = np.repeat(np.arange(len(growers)), BUCKETS)
    order = np.lexsort((rank, bucket, score))[::-1]  # the last key sorts first
    table = bytearray([BASE]) * BUCKETS
    left = [counts[n] for n in growers]
    for p, r in zip(bucket[order].tolist(), rank[order].tolist(), strict=True):
        if left[r] and table[p] == BASE:
            table[p] = index[growers[r]]
            left[r] -= 1
    return bytes(table)


@pytest.mark.parametrize(
    "variants",
    [
        [(f"v{i}", 1) for i in range(255)],  # the most a table holds
        [(f"v{i}", 1 + i % 7) for i in range(40)],
        [("a", 1), ("b", 0), ("c", 9_999), ("d", 3)],
    ],
)
def test_the_initial_allocation_is_the_global_greedy(variants: list[tuple[str, int]]) -> None:
    assert allocate("exp_many", variants, None).table == _global_sort_take("exp_many", variants)
