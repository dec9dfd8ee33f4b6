"""The change ratio of DESIGN section 5 and the greedy cap.

changed = moved + hidden + shown + re-placed (not already counted as moved), where
moved = common - LCS(base order, result order). Both orders hold distinct component ids, so
the LCS is the longest increasing subsequence of the result's base positions: O(n log n).

"Not already counted": an element that both moved and changed placement counts once. The LCS
is taken over the elements whose placement did not change, so such an element is never counted
twice; when re-placed elements keep their relative order (always so for this engine, which only
re-places fixed action buttons) this equals the literal formula.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Container, Mapping, Sequence
from typing import NamedTuple


def lis_length(seq: Sequence[int]) -> int:
    """Length of the longest strictly increasing subsequence (patience sorting)."""
    tails: list[int] = []
    append = tails.append
    for x in seq:
        # Orders are mostly increasing: extending needs no search (bisect_left would return
        # len(tails) exactly when x > tails[-1]).
        if not tails or x > tails[-1]:
            append(x)
        else:
            tails[bisect_left(tails, x)] = x
    return len(tails)


def count_changes(
    base_pos: Sequence[int], base_count: int, order: Sequence[int], replaced: Container[int]
) -> int:
    """Changed elements of `order` against a base given as positions by component index.

    `base_pos[i]` is the base position of component i (-1: not in the base); `replaced` holds
    the components whose placement differs from the base.
    """
    seq: list[int] = []
    common = 0
    for i in order:
        p = base_pos[i]
        if p < 0:
            continue
        common += 1
        if i not in replaced:
            seq.append(p)
    shown = len(order) - common
    hidden = base_count - common
    return hidden + shown + common - lis_length(seq)


def change_count(
    base_ids: Sequence[str],
    base_placements: Mapping[str, str],
    ids: Sequence[str],
    placements: Mapping[str, str],
    positions: Mapping[str, int] | None = None,
) -> int:
    """`count_changes` for two layouts given by ids and placements (used by the final check).

    `positions` (id -> index in `base_ids`) may be passed when precomputed.
    """
    pos = positions if positions is not None else {cid: p for p, cid in enumerate(base_ids)}
    seq: list[int] = []
    common = 0
    for cid in ids:
        p = pos.get(cid)
        if p is None:
            continue
        common += 1
        if placements.get(cid) == base_placements.get(cid):
            seq.append(p)
    return (len(base_ids) - common) + (len(ids) - common) + common - lis_length(seq)


def budget(cap: float, base_count: int) -> int:
    """How many elements may change: floor(cap x n), robust to float noise."""
    return max(0, math.floor(cap * base_count + 1e-9))


class Proposal(NamedTuple):
    """One personalization change the pipeline would like to make.

    `cost` is an upper bound of the elements it changes, so accepting proposals whose costs sum
    to at most the budget can never exceed the cap. Ranked by (tier, value), then base order.
    """

    tier: int
    value: float
    position: int
    kind: str  # "moved", "shown", "hidden", "placement"
    reason: str
    members: tuple[int, ...]  # component indices it changes
    cost: int
    unit: int = -1  # unit id for moves
    placements: tuple[tuple[int, str], ...] = ()


def rank_key(p: Proposal) -> tuple[int, float, int]:
    return (-p.tier, -p.value, p.position)


def select(proposals: list[Proposal], allowed: int) -> tuple[list[Proposal], list[Proposal]]:
    """Greedy by value: keep every proposal that still fits the budget, drop the rest."""
    proposals.sort(key=rank_key)
    kept: list[Proposal] = []
    dropped: list[Proposal] = []
    used = 0
    for p in proposals:
        if used + p.cost <= allowed:
            kept.append(p)
            used += p.cost
        else:
            dropped.append(p)
    return kept, dropped
