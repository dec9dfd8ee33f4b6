"""Affinity ordering with hysteresis: the page does not flip between launches.

A unit moves ahead of the unit before it only when its affinity *beats* that neighbour's:
    a > b + margin x max(b, 1)
i.e. the margin is relative to the neighbour's score (25 % by default), with an absolute floor
of `margin` for scores below 1 so a handful of noisy events never reorders anything.

Stability: when the user was last served x before y, x stays before y unless y now beats x.
So two near-equal affinities keep whatever order the user already saw.

Only insertion moves are made (a unit bubbles up past weaker ones, which keep their relative
order), so every unit that does not bubble keeps its base relative order: the number of moved
elements is at most the number of elements in units that bubbled (the cap relies on it).
"""

from __future__ import annotations

from collections.abc import Container, Sequence


def enough_evidence(evidence: float, minimum: float) -> bool:
    """`evidence` (meaningful events, each decayed from its own time: `engine.affinity`) reaches
    the policy's `min_evidence`, rounded to the nearest whole event (Findlater & Gajos: adapt only
    on enough evidence; a wrong adaptation costs more than a right one gains)."""
    return evidence + 0.5 >= minimum


def beats(a: float, b: float, margin: float) -> bool:
    """`a` is ahead of `b` by more than the hysteresis margin."""
    return a > b + margin * (b if b > 1.0 else 1.0)


def settle(
    units: Sequence[int],
    affinity: Sequence[float],
    rank: Sequence[int | None] | None,
    margin: float,
    allowed: Container[int] | None = None,
) -> tuple[list[int], dict[int, tuple[float, bool]]]:
    """Reorder `units` (ids in base order) by insertion with hysteresis.

    Returns the new order and, for each unit that moved up, (affinity gain over the weakest
    unit it passed, whether any pass was by affinity rather than by stability alone). Only
    units in `allowed` (all when None) may move; the others can be passed.
    """
    out: list[int] = []
    moved: dict[int, tuple[float, bool]] = {}
    for u in units:
        j = len(out)
        a = affinity[u]
        r = rank[u] if rank is not None else None
        if j and (a > 0.0 or r is not None) and (allowed is None or u in allowed):
            lowest = a
            by_affinity = False
            while j:
                v = out[j - 1]
                b = affinity[v]
                if beats(a, b, margin):
                    by_affinity = True
                else:
                    s = rank[v] if rank is not None else None
                    if r is None or s is None or r > s or beats(b, a, margin):
                        break
                if b < lowest:
                    lowest = b
                j -= 1
            if j < len(out):
                moved[u] = (a - lowest, by_affinity)
        out.insert(j, u)
    return out, moved
