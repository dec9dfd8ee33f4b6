"""`plan`: everything a layout depends on, decided cheaply, as one frozen Struct.

Two equal Plans render byte-identical layouts, and a Plan holds nothing about *who* asked (no
user id, no affinities), only what was decided: so users with the same effective inputs share
one cached body (the server keys bodies by `plan_fingerprint`).
"""

from __future__ import annotations

from collections.abc import Mapping

import msgspec

from uiserver.engine.affinity import decay_factor
from uiserver.engine.cap import Proposal, budget, count_changes, select
from uiserver.engine.compiled import CompiledTemplate
from uiserver.engine.components import SCENE_PREFIX
from uiserver.engine.direction import direction_for
from uiserver.engine.elderly import fold
from uiserver.engine.explain import Reason
from uiserver.engine.lifecycle import computed_segments
from uiserver.engine.proposals import (
    affinity_moves,
    arrange,
    explore,
    handedness,
    segments,
    unit_affinities,
    unit_ranks,
)
from uiserver.engine.rules import THUMB_SIDE, font_multiplier, offers_prompt, select_mode
from uiserver.engine.stability import enough_evidence
from uiserver.engine.theme import motion_for
from uiserver.engine.variant import choose_variant
from uiserver.engine.variant_base import VariantBase
from uiserver.policy import Policy
from uiserver.schema import Change, Context, Profile
from uiserver.types import Device, Direction, Mode, Motion

_DEFAULT_CONTEXT = Context()
_NO_BEHAVIOUR = Profile()

# How many dropped proposals are retried when the exact count left room under the budget.
RETRIES = 2
# Ratios (strength, cap, changed ratio) as sent: 4 decimals, so strength 0.1 sends cap 0.04,
# not 0.04000000000000001. Rounding is monotonic, so changed_ratio <= cap still holds on the
# wire; the budget itself is computed from the exact cap.
RATIO_DIGITS = 4


class Plan(msgspec.Struct, frozen=True, array_like=True):
    """The decisions behind one layout; render(compiled, plan) is a pure function of it."""

    variant: str | None
    mode: Mode
    order: tuple[int, ...]  # component indices served, in order
    placements: tuple[tuple[int, str], ...]  # placements that differ from the base
    reasons: tuple[tuple[int, str], ...]  # personalization reasons by component index
    changes: tuple[Change, ...]
    strength: float
    cap: float
    changed_ratio: float
    capped: bool
    font_scale: float
    font_reasons: tuple[str, ...]
    enhanced: bool  # enhanced-contrast palette (high-contrast setting or elderly mode)
    enhanced_reason: str | None
    dark: bool
    motion: Motion
    motion_reasons: tuple[str, ...]
    low_power: bool
    device: Device  # "phone" unless the page has grids that widen
    columns_factor: float
    direction: Direction = "ltr"
    # 长辈版 2.0 (`engine.elderly`): needs, kept by `base_plan`
    folds: tuple[tuple[int, str], ...] = ()  # fewer choices: (index, reason) on fold pages
    max_columns: int = 0  # reflow: the most columns a grid lays out (0: no limit)
    max_tabs: int = 0  # reflow: the most tabs a tab bar draws, 更多 included (0: no limit)
    prompt: bool = False  # offer the one-time 长辈版 prompt
    speech: bool = False  # a screen-reader user: `speech` on every component in any mode


class Outcome(msgspec.Struct, frozen=True):
    order: tuple[int, ...]
    placements: tuple[tuple[int, str], ...]
    reasons: tuple[tuple[int, str], ...]
    changes: tuple[Change, ...]
    changed: int
    capped: bool


def _apply_visibility(view: VariantBase, proposals: list[Proposal]) -> list[bool]:
    visible = list(view.base_visible)
    for p in proposals:
        if p.kind == "shown":
            visible[p.members[0]] = True
        elif p.kind == "hidden":
            visible[p.members[0]] = False
    return visible


def _build(
    view: VariantBase,
    kept: list[Proposal],
    affinity: list[float] | None,
    rank: list[int | None] | None,
    margin: float,
) -> tuple[list[int], dict[int, str], set[int], int]:
    """Order, placements, units that really moved, and the exact change count."""
    visible = _apply_visibility(view, kept)
    movers: set[int] = set()
    front = -1
    placements: dict[int, str] = {}
    for p in kept:
        if p.kind == "moved":
            if p.reason == Reason.EXPLORE:
                front = p.unit
            else:
                movers.add(p.unit)
        elif p.kind == "placement":
            placements.update(p.placements)
    order, moved = arrange(view, visible, affinity, rank, margin, movers, front)
    really = set(moved)
    if front >= 0:
        really.add(front)
    changed = count_changes(view.base_pos, len(view.base_order), order, placements)
    return order, placements, really, changed


def user_segments(profile: Profile, day: int, policy: Policy) -> frozenset[str]:
    """Every segment the user is in on `day`: imported + computed from the activity counters
    (`activity` None: nothing known, nothing computed; see `lifecycle.computed_segments`)."""
    if profile.activity is None:
        return profile.segments
    computed = computed_segments(profile.activity, day, policy)
    return profile.segments | computed if computed else profile.segments


def rule_tags(profile: Profile, context: Context, day: int, policy: Policy) -> frozenset[str]:
    """What template rules match against: the user's segments and the launch's scenes (as
    `scene:<value>`; an imported segment spelled like a scene tag is ignored)."""
    tags = user_segments(profile, day, policy)
    if any(t.startswith(SCENE_PREFIX) for t in tags):
        tags = frozenset(t for t in tags if not t.startswith(SCENE_PREFIX))
    scenes = [SCENE_PREFIX + s for s in (context.daypart, context.weather) if s is not None]
    return tags | frozenset(scenes) if scenes else tags


def evidence_on(profile: Profile, day: int) -> float:
    """The profile's evidence decayed to the start of `day` (days since the epoch); a profile
    or a day without a time (tests, previews) is taken as of now."""
    if profile.evidence_updated is None or day <= 0:
        return profile.evidence
    return profile.evidence * decay_factor(day * 86_400.0 - profile.evidence_updated)


def personalize(
    ct: CompiledTemplate,
    view: VariantBase,
    profile: Profile,
    day: int,
    policy: Policy,
    allowed: int,
    context: Context = _DEFAULT_CONTEXT,
) -> Outcome | None:
    """Proposals -> cap -> stability, or None when the profile proposes nothing."""
    proposals, affinity, rank = _propose(ct, view, profile, day, policy, context)
    if not proposals:
        return None
    fitted = _fit(view, proposals, allowed, affinity, rank, policy.hysteresis_margin)
    if fitted is None:
        return None
    return _explain(view, *fitted)


def _propose(
    ct: CompiledTemplate,
    view: VariantBase,
    profile: Profile,
    day: int,
    policy: Policy,
    context: Context,
) -> tuple[list[Proposal], list[float] | None, list[int | None] | None]:
    """Every change the profile proposes (handedness, segment rules, affinity moves once there
    is enough evidence, one exploration), with the affinities and ranks the moves used."""
    proposals: list[Proposal] = []
    thumb = THUMB_SIDE[profile.settings.handedness]
    if thumb is not None and view.action_rows:
        proposals.extend(handedness(view, thumb))
    if view.segment_rules:
        tags = rule_tags(profile, context, day, policy)
        if tags:
            proposals.extend(segments(view, tags))
    visible = _apply_visibility(view, proposals)
    affinity: list[float] | None = None
    rank: list[int | None] | None = None
    if enough_evidence(evidence_on(profile, day), policy.min_evidence) and view.units:
        last = profile.last_order.get(ct.page)
        if profile.affinities or last:
            affinity = unit_affinities(view, profile.affinities)
            rank = unit_ranks(view, ct.index, last) if last else None
            proposals.extend(
                affinity_moves(view, visible, affinity, rank, policy.hysteresis_margin)
            )
    explored = explore(view, profile.user_id, ct.page, day, policy.explore_share, visible, affinity)
    if explored is not None:
        proposals.append(explored)
    return proposals, affinity, rank


_Fitted = tuple[
    list[Proposal], list[Proposal], list[int], dict[int, str], set[int], int
]  # kept, dropped, order, placements, units really moved, changed count


def _fit(
    view: VariantBase,
    proposals: list[Proposal],
    allowed: int,
    affinity: list[float] | None,
    rank: list[int | None] | None,
    margin: float,
) -> _Fitted | None:
    """The most valuable proposals whose changes fit the cap (`allowed` elements), then up to
    RETRIES of the dropped ones tried again against what stability left of the kept ones."""
    kept, dropped = select(proposals, allowed)
    order, placements, really, changed = _build(view, kept, affinity, rank, margin)
    for p in dropped[:RETRIES]:
        if changed + p.cost > allowed:
            continue
        trial = [*kept, p]
        t_order, t_placements, t_really, t_changed = _build(view, trial, affinity, rank, margin)
        if t_changed <= allowed:
            kept, order, placements, really, changed = (
                trial,
                t_order,
                t_placements,
                t_really,
                t_changed,
            )
            dropped = [d for d in dropped if d is not p]
    if changed > allowed:  # defensive: the cost bounds make this unreachable
        return None
    return kept, dropped, order, placements, really, changed


def _explain(
    view: VariantBase,
    kept: list[Proposal],
    dropped: list[Proposal],
    order: list[int],
    placements: dict[int, str],
    really: set[int],
    changed: int,
) -> Outcome:
    """The outcome with a change and a reason for every element kept, `cap:dropped` on what
    the cap left out."""
    where = {i: n for n, i in enumerate(order)}
    end = len(order)
    changes: list[tuple[int, str, str, str]] = []
    reasons: set[tuple[int, str]] = set()
    for p in kept:
        if p.kind == "moved" and p.unit not in really:
            continue
        for i in _members(p, where):
            changes.append((where.get(i, end), view.comps[i].id, p.kind, p.reason))
            reasons.add((i, p.reason))
    for p in dropped:
        for i in p.members:
            if i in where:
                reasons.add((i, Reason.CAP_DROPPED))
    changes.sort()
    return Outcome(
        order=tuple(order),
        placements=tuple(sorted(placements.items())),
        reasons=tuple(sorted(reasons)),
        changes=tuple(Change(cid, kind, reason) for _, cid, kind, reason in changes),  # type: ignore[arg-type]
        changed=changed,
        capped=bool(dropped),
    )


def _members(p: Proposal, where: Mapping[int, int]) -> tuple[int, ...]:
    """The components a kept proposal changed (moved ones only where they are shown)."""
    if p.kind == "placement":
        return tuple(i for i, _ in p.placements)
    if p.kind == "moved":
        return tuple(i for i in p.members if i in where)
    return tuple(p.members)


def _columns(ct: CompiledTemplate, context: Context, policy: Policy) -> tuple[Device, float]:
    factors: Mapping[str, float] = {
        "phone": 1.0,
        "tablet": policy.tablet_column_factor,
        "desktop": policy.desktop_column_factor,
    }
    factor = factors[context.device]
    if not ct.has_grid or factor == 1.0:
        return "phone", 1.0
    return context.device, factor


def make_plan(
    ct: CompiledTemplate, profile: Profile, context: Context, day: int, policy: Policy
) -> Plan:
    settings = profile.settings
    variant = choose_variant(profile.user_id, ct.allocation)
    mode = select_mode(settings, context, policy)
    view = ct.views[variant, mode]
    strength = settings.personalization
    cap = policy.max_change * strength
    n = len(view.base_order)
    outcome: Outcome | None = None
    if strength > 0.0 and n:
        outcome = personalize(ct, view, profile, day, policy, budget(cap, n), context)
    scale, font_reasons = font_multiplier(settings, context, policy)
    elderly = mode == "elderly"
    enhanced = settings.high_contrast or elderly
    enhanced_reason = (
        (Reason.ELDERLY_HIGH_CONTRAST if elderly else Reason.A11Y_HIGH_CONTRAST)
        if enhanced
        else None
    )
    motion, motion_reasons = motion_for(settings, elderly, context.low_power)
    device, factor = _columns(ct, context, policy)
    if outcome is None:
        outcome = Outcome(view.base_order, (), (), (), 0, False)
    order, placements, reasons = outcome.order, outcome.placements, outcome.reasons
    changes, changed, capped = outcome.changes, outcome.changed, outcome.capped
    folds: tuple[tuple[int, str], ...] = ()
    if elderly and ct.page in policy.elderly_fold_pages:
        # Personalization off reads no behaviour: the designer's essential entries stay.
        folds = fold(
            view.comps,
            order,
            view.seq_entries,
            view.units,
            view.unit_of,
            view.unit_key,
            view.entry_units,
            profile if strength > 0.0 else _NO_BEHAVIOUR,
            day,
            policy,
        )
    return Plan(
        variant=variant,
        mode=mode,
        order=order,
        placements=placements,
        reasons=reasons,
        changes=changes,
        strength=round(strength, RATIO_DIGITS),
        cap=round(cap, RATIO_DIGITS),
        changed_ratio=round(changed / n, RATIO_DIGITS) if n else 0.0,
        capped=capped,
        font_scale=scale,
        font_reasons=font_reasons if scale != 1.0 else (),
        enhanced=enhanced,
        enhanced_reason=enhanced_reason,
        dark=context.dark,
        motion=motion,
        motion_reasons=motion_reasons,
        low_power=context.low_power,
        device=device,
        columns_factor=factor,
        direction=direction_for(context.locale),
        folds=folds,
        max_columns=policy.elderly_max_columns if elderly else 0,
        max_tabs=policy.elderly_max_tabs if elderly else 0,
        prompt=elderly and offers_prompt(settings, context, policy),
        speech=settings.screen_reader,
    )


# What makes two launches' plans equal when the user's affinities move nothing (`shared_key`).
SharedKey = tuple[object, ...]


def shared_key(
    ct: CompiledTemplate, profile: Profile, context: Context, day: int, policy: Policy
) -> SharedKey | None:
    """Everything `make_plan` reads, when that is not the user: equal keys give equal plans, so
    users with the same inputs share one plan and one body (issue 26). None when the profile's
    behaviour shapes the plan (affinities that can move modules: enough evidence, and
    affinities or a remembered order; or any behaviour on an elderly fold page): that plan is
    made per user.

    The key: page, template version, the user's variant, the mode, the settings, the launch
    context, the proposals made without affinities (handedness, the segment and scene rules
    that matched, with the reason each names) and the exploration decision (which module, if
    any, this user explores on `day`: it hashes the user id). Costs ~10 us, a plan ~60.
    """
    settings = profile.settings
    variant = choose_variant(profile.user_id, ct.allocation)
    mode = select_mode(settings, context, policy)
    view = ct.views[variant, mode]
    proposals: list[Proposal] = []
    if settings.personalization > 0.0 and view.base_order:
        if (
            view.units
            and (profile.affinities or profile.last_order.get(ct.page))
            and enough_evidence(evidence_on(profile, day), policy.min_evidence)
        ):
            return None
        if (
            mode == "elderly"
            and ct.page in policy.elderly_fold_pages
            and (profile.affinities or profile.evidence)
        ):
            return None  # the elderly fold ranks entries by this user's behaviour
        thumb = THUMB_SIDE[settings.handedness]
        if thumb is not None and view.action_rows:
            proposals.extend(handedness(view, thumb))
        if view.segment_rules:
            tags = rule_tags(profile, context, day, policy)
            if tags:
                proposals.extend(segments(view, tags))
        visible = _apply_visibility(view, proposals)
        explored = explore(view, profile.user_id, ct.page, day, policy.explore_share, visible, None)
        if explored is not None:
            proposals.append(explored)
    return (
        ct.page,
        ct.version,
        variant,
        mode,
        msgspec.structs.astuple(settings),
        context,
        tuple(proposals),
    )


def base_plan(plan: Plan, ct: CompiledTemplate) -> Plan:
    """The same plan without personalization: the base layout with every rule applied."""
    view = ct.views[plan.variant, plan.mode]
    return msgspec.structs.replace(
        plan,
        order=view.base_order,
        placements=(),
        reasons=(),
        changes=(),
        changed_ratio=0.0,
        capped=False,
    )


__all__ = [
    "RATIO_DIGITS",
    "Plan",
    "SharedKey",
    "base_plan",
    "make_plan",
    "rule_tags",
    "shared_key",
    "user_segments",
]
