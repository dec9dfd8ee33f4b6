"""Personalization proposals: what the user's profile would change, each with value and cost.

Tiers rank proposals before value: the user's own handedness setting first, then the
operator's segment rules, then exploration (so preferences do not narrow), then affinity moves
ranked by affinity gain. The cap keeps the best that fit (see cap.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final

from uiserver.engine.cap import Proposal
from uiserver.engine.components import SCENE_PREFIX
from uiserver.engine.explain import Reason, segment_reason
from uiserver.engine.hashing import hash_mod, unit_interval
from uiserver.engine.rules import MIRROR, PLACEMENT_SIDE
from uiserver.engine.stability import settle
from uiserver.engine.variant_base import VariantBase

TIER_HANDEDNESS: Final = 3
TIER_SEGMENT: Final = 2
TIER_EXPLORE: Final = 1
TIER_AFFINITY: Final = 0


def handedness(view: VariantBase, thumb: str) -> list[Proposal]:
    """Mirror a row of action buttons when its main action sits away from the thumb.

    The whole row mirrors so buttons never land on each other; a row holding a pinned button
    stays as designed (pinned never changes).
    """
    out: list[Proposal] = []
    comps = view.comps
    for row in view.action_rows:
        if any(comps[i].pinned for i in row):
            continue
        sided = [i for i in row if comps[i].placement in PLACEMENT_SIDE]
        if not sided:
            continue
        anchor = next((i for i in sided if comps[i].main), sided[0])
        if PLACEMENT_SIDE[comps[anchor].placement] == thumb:
            continue
        placements = tuple((i, MIRROR[comps[i].placement]) for i in sided)
        out.append(
            Proposal(
                tier=TIER_HANDEDNESS,
                value=0.0,
                position=min(sided),
                kind="placement",
                reason=Reason.HANDEDNESS,
                members=tuple(sided),
                cost=len(sided),
                placements=placements,
            )
        )
    return out


def _rule_reason(tag: str) -> str:
    """`scene:rain` names itself; a segment becomes `segment:<name>`."""
    return tag if tag.startswith(SCENE_PREFIX) else segment_reason(tag)


def segments(view: VariantBase, user_segments: frozenset[str]) -> list[Proposal]:
    """Show or hide modules whose rule names one of the user's segments or this launch's
    scenes (`user_segments` holds both: scenes as `scene:<value>` tags)."""
    out: list[Proposal] = []
    for i, rule_segments, show in view.segment_rules:
        matched = rule_segments & user_segments
        if not matched:
            continue
        out.append(
            Proposal(
                tier=TIER_SEGMENT,
                value=0.0,
                position=i,
                kind="shown" if show else "hidden",
                reason=_rule_reason(min(matched)),
                members=(i,),
                cost=1,
            )
        )
    return out


def live_units(view: VariantBase, region: Sequence[int], visible: Sequence[bool]) -> list[int]:
    """Units of `region` with at least one visible member."""
    units = view.units
    live: list[int] = []
    for u in region:
        for i in units[u]:
            if visible[i]:
                live.append(u)
                break
    return live


def arrange(
    view: VariantBase,
    visible: Sequence[bool],
    affinity: Sequence[float] | None,
    rank: Sequence[int | None] | None,
    margin: float,
    allowed: set[int] | None,
    front: int = -1,
) -> tuple[list[int], dict[int, tuple[float, bool]]]:
    """The page order: fixed components in place, each region settled by affinity.

    `allowed` limits which units may move (None: all); `front` is a unit put first in its
    region (exploration). Returns the order and the units that moved up (see `settle`).
    """
    order: list[int] = []
    moved: dict[int, tuple[float, bool]] = {}
    units = view.units
    for seg in view.segments:
        if isinstance(seg, int):
            if visible[seg]:
                order.append(seg)
            continue
        live = live_units(view, seg, visible)
        if affinity is not None and (allowed is None or allowed):
            live, region_moved = settle(live, affinity, rank, margin, allowed)
            moved.update(region_moved)
        if front >= 0 and front in live and live[0] != front:
            live.remove(front)
            live.insert(0, front)
        for u in live:
            for i in units[u]:
                if visible[i]:
                    order.append(i)
    return order, moved


def base_visible_count(view: VariantBase, unit: int) -> int:
    """Upper bound of the elements a move of `unit` changes: its members in the base."""
    vis = view.base_visible
    return sum(1 for i in view.units[unit] if vis[i])


def affinity_moves(
    view: VariantBase,
    visible: Sequence[bool],
    affinity: Sequence[float],
    rank: Sequence[int | None] | None,
    margin: float,
) -> list[Proposal]:
    """One proposal per unit that the full (uncapped) affinity ordering moves up."""
    _, moved = arrange(view, visible, affinity, rank, margin, None)
    out: list[Proposal] = []
    for u, (gain, by_affinity) in moved.items():
        members = view.units[u]
        out.append(
            Proposal(
                tier=TIER_AFFINITY,
                value=gain,
                position=members[0],
                kind="moved",
                reason=Reason.AFFINITY if by_affinity else Reason.STABILITY,
                members=members,
                cost=base_visible_count(view, u),
                unit=u,
            )
        )
    return out


def explore(
    view: VariantBase,
    user_id: str,
    page: str,
    day: int,
    share: float,
    visible: Sequence[bool],
    affinity: Sequence[float] | None,
) -> Proposal | None:
    """On a deterministic `share` of (user, page, day) launches, surface one module the user
    does not prefer: move it to the top of its region, or show a hidden optional module."""
    if not user_id or share <= 0.0:
        return None
    key = f"explore\x1f{user_id}\x1f{page}\x1f{day}"
    if unit_interval(key) >= share:
        return None
    best = max(affinity) if affinity else 0.0
    candidates: list[tuple[int, int]] = []  # (unit, -1) to move, (-1, idx) to show
    for seg in view.segments:
        if isinstance(seg, int):
            continue
        live = live_units(view, seg, visible)
        for u in live[1:]:
            if view.unit_interactive[u] and (affinity is None or affinity[u] < best or best == 0):
                candidates.append((u, -1))
    candidates.extend((-1, i) for i in view.explore_hidden if not visible[i])
    if not candidates:
        return None
    unit, shown = candidates[hash_mod(key + "\x1fpick", len(candidates))]
    if shown >= 0:
        return Proposal(TIER_EXPLORE, 0.0, shown, "shown", Reason.EXPLORE, (shown,), 1)
    members = view.units[unit]
    return Proposal(
        TIER_EXPLORE,
        0.0,
        members[0],
        "moved",
        Reason.EXPLORE,
        members,
        base_visible_count(view, unit),
        unit=unit,
    )


def unit_affinities(view: VariantBase, affinities: Mapping[str, float]) -> list[float]:
    get = affinities.get
    return [get(k, 0.0) for k in view.unit_key]


def unit_ranks(
    view: VariantBase, index: Mapping[str, int], last: Sequence[str]
) -> list[int | None]:
    """Each unit's position in the order last served (its first member seen), None if absent."""
    ranks: list[int | None] = [None] * len(view.units)
    unit_of = view.unit_of
    for position, cid in enumerate(last):
        i = index.get(cid)
        if i is None:
            continue
        u = unit_of[i]
        if u >= 0 and ranks[u] is None:
            ranks[u] = position
    return ranks
