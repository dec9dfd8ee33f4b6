"""The base of one (variant, mode): what personalization starts from and is measured by.

Built once per template version by `compile`: which components elderly mode hides or shows, the
regions and units affinity may reorder, the segment rules, action rows, the hidden modules
exploration may show, and every component's target and font floor. A request only reads it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from uiserver.engine.components import ResolvedComponent
from uiserver.engine.elderly import PAGE_NEEDS, entries_in, entry_units, safe_props
from uiserver.engine.explain import Reason
from uiserver.engine.rules import ELDERLY_HIDE, ELDERLY_SHOW_TYPES, PLACEMENT_ROW
from uiserver.policy import Policy
from uiserver.schema import ThemeSpec
from uiserver.types import LARGEST_STEP_ROLES, Mode

Comps = tuple[ResolvedComponent, ...]
SegmentRule = tuple[int, frozenset[str], bool]  # (component index, segments, show?)

# A region is a run of movable components between fixed ones; inside it, consecutive
# components sharing an affinity key form a unit that moves as one (a section title with its
# grid). Segment: a fixed component index, or a region (tuple of unit ids).
Segment = int | tuple[int, ...]


@dataclass(frozen=True, slots=True)
class VariantBase:
    """The base of one (variant, mode): what personalization starts from and is measured by."""

    variant: str | None
    mode: Mode
    comps: Comps
    seq: tuple[int, ...]  # every non-mode-hidden component, in base order
    base_visible: tuple[bool, ...]  # by component index
    base_order: tuple[int, ...]
    base_pos: tuple[int, ...]  # by component index: position in base_order, -1 if absent
    base_ids: tuple[str, ...]
    base_index: Mapping[str, int]  # id -> position in base_ids
    base_placements: Mapping[str, str]
    pinned_ids: tuple[str, ...]  # pinned components of the base, in base order
    segments: tuple[Segment, ...]
    units: tuple[tuple[int, ...], ...]  # unit id -> component indices
    unit_region: tuple[int, ...]  # unit id -> region number
    unit_of: tuple[int, ...]  # component index -> unit id, -1 when fixed or mode-hidden
    unit_key: tuple[str, ...]
    unit_interactive: tuple[bool, ...]
    segment_rules: tuple[SegmentRule, ...]
    action_rows: tuple[tuple[int, ...], ...]  # base-visible actions per row, template order
    explore_hidden: tuple[int, ...]  # hidden optional modules explore may show
    target_px: tuple[float, ...]
    font_floor: tuple[float, ...]
    font_floor_reason: tuple[str, ...]
    static_reasons: tuple[tuple[str, ...], ...]
    page_reasons: tuple[str, ...]
    font_px: float
    line_height: float
    has_voice_nav: bool
    # 长辈版 2.0 (`engine.elderly`); zero / empty in standard mode
    paragraph_spacing: float = 0.0  # paragraph gap / line spacing
    target_gap: float = 0.0  # px around each tap target
    reflowable: frozenset[int] = frozenset()  # components with a column prop
    has_help: bool = False  # a help entry is shown
    entry_units: tuple[bool, ...] = ()  # by unit: an entry for fewer choices (`elderly.fold`)
    seq_entries: tuple[int, ...] = ()  # the entry units in `seq` order


@dataclass(slots=True)
class _ModeRules:
    """What the mode does before anything else: visibility, the order, and the reasons."""

    visible: list[bool]
    hidden: list[bool]  # hidden by the mode itself (elderly: ads, promotions)
    seq: list[int]
    reasons: list[list[str]]
    page_reasons: list[str]


def _essential_first(seq: list[int], comps: Comps) -> tuple[list[int], set[int]]:
    """Stable partition of the flowing, unpinned slots: essential components first."""
    slots = [p for p, i in enumerate(seq) if not comps[i].pinned and comps[i].placement == "flow"]
    items = [seq[p] for p in slots]
    ordered = [i for i in items if comps[i].essential] + [
        i for i in items if not comps[i].essential
    ]
    moved = {
        i for before, i in zip(items, ordered, strict=True) if before != i and comps[i].essential
    }
    out = list(seq)
    for p, i in zip(slots, ordered, strict=True):
        out[p] = i
    return out, moved


def _mode_rules(comps: Comps, order: Sequence[int], elderly: bool) -> _ModeRules:
    n = len(comps)
    rules = _ModeRules(
        [c.visible for c in comps], [False] * n, list(order), [[] for _ in range(n)], []
    )
    if elderly:
        for c in comps:
            for flag, why in ELDERLY_HIDE:
                if getattr(c, flag):
                    rules.hidden[c.idx] = True
                    rules.visible[c.idx] = False
                    if why not in rules.page_reasons:
                        rules.page_reasons.append(why)
                    break
            show = Reason.ELDERLY_HELP if c.help else ELDERLY_SHOW_TYPES.get(c.type)
            if show is not None and not rules.hidden[c.idx]:
                rules.visible[c.idx] = True
                rules.reasons[c.idx].append(show)
        rules.seq = [i for i in rules.seq if not rules.hidden[i]]
        rules.seq, partitioned = _essential_first(rules.seq, comps)
        for i in partitioned:
            rules.reasons[i].append(Reason.ELDERLY_ESSENTIAL_FIRST)
    for c in comps:
        if c.label_fallback:
            rules.reasons[c.idx].append(Reason.A11Y_LABEL_FALLBACK)
    return rules


def _regions(
    comps: Comps, seq: Sequence[int]
) -> tuple[list[Segment], list[tuple[int, ...]], list[int], list[int]]:
    """Segments, units, each unit's region, each component's unit. Fixed components (pinned,
    placed off the flow, or outside a movable zone) and zone edges are barriers between regions."""
    segments: list[Segment] = []
    units: list[tuple[int, ...]] = []
    unit_region: list[int] = []
    region: list[int] = []
    regions = 0
    zone: str | None = None
    for i in seq:
        c = comps[i]
        fixed = c.pinned or c.placement != "flow" or not c.movable
        # A fixed component, or the edge of a zone, closes the region: nothing crosses either.
        if region and (fixed or c.zone != zone):
            segments.append(tuple(region))
            regions += 1
            region = []
        if fixed:
            segments.append(i)
            continue
        zone = c.zone
        if region and comps[units[region[-1]][-1]].key == c.key:
            units[region[-1]] = (*units[region[-1]], i)
        else:
            units.append((i,))
            unit_region.append(regions)
            region.append(len(units) - 1)
    if region:
        segments.append(tuple(region))
    unit_of = [-1] * len(comps)
    for u, members in enumerate(units):
        for i in members:
            unit_of[i] = u
    return segments, units, unit_region, unit_of


def _segment_rules(
    comps: Comps, seq: Sequence[int], visible: Sequence[bool], elderly: bool
) -> list[SegmentRule]:
    rules: list[SegmentRule] = []
    for i in seq:
        c = comps[i]
        if c.pinned or (elderly and (c.type in ELDERLY_SHOW_TYPES or c.help)):
            continue
        if c.show_for and not visible[i]:
            rules.append((i, c.show_for, True))
        if c.hide_for and visible[i]:
            rules.append((i, c.hide_for, False))
    return rules


def _action_rows(comps: Comps, mode: _ModeRules) -> tuple[tuple[int, ...], ...]:
    rows: dict[str, list[int]] = {}
    for c in comps:
        row = PLACEMENT_ROW.get(c.placement)
        if row is not None and c.action and mode.visible[c.idx] and not mode.hidden[c.idx]:
            rows.setdefault(row, []).append(c.idx)
    return tuple(tuple(r) for r in rows.values())


def _sizes(
    comps: Comps,
    base_order: Sequence[int],
    elderly: bool,
    policy: Policy,
    reasons: list[list[str]],
) -> tuple[list[float], list[float], list[str]]:
    """Targets (never user-dependent) and font floors (the user only scales them), with the
    reason each floor has; raising a target adds its reason to `reasons`."""
    targets: list[float] = []
    floors: list[float] = []
    floor_reasons: list[str] = []
    step_carriers = {i for i in base_order if comps[i].role in LARGEST_STEP_ROLES}
    if elderly and not step_carriers:
        for i in base_order:
            if not comps[i].hide_for:
                step_carriers.add(i)
                break
    for c in comps:
        target = c.target_px
        if c.interactive:
            need, why = policy.min_target_px, Reason.A11Y_MIN_TARGET
            if elderly:
                main_need = policy.elderly_main_target_px if c.main else policy.elderly_target_px
                need, why = max(need, main_need), Reason.ELDERLY_MIN_TARGET
            if target < need:
                target = need
                reasons[c.idx].append(why)
        targets.append(max(target, policy.absolute_min_target_px))
        if not elderly:
            floors.append(c.min_font_px)
            floor_reasons.append(Reason.A11Y_MIN_FONT)
        elif c.idx in step_carriers:
            floors.append(max(c.min_font_px, policy.elderly_max_font_px))
            floor_reasons.append(Reason.ELDERLY_MAX_FONT)
        else:
            floors.append(max(c.min_font_px, policy.elderly_font_px))
            floor_reasons.append(Reason.ELDERLY_MIN_FONT)
    return targets, floors, floor_reasons


def build_variant_base(
    variant: str | None,
    mode: Mode,
    comps: Comps,
    order: list[int],
    theme: ThemeSpec,
    policy: Policy,
) -> VariantBase:
    """The base of `variant` in `mode`, from its resolved components in variant order."""
    elderly = mode == "elderly"
    safe: list[tuple[str, ...]] = [()] * len(comps)
    if elderly:
        patched = [safe_props(c, policy) for c in comps]
        comps = tuple(c for c, _ in patched)
        safe = [why for _, why in patched]
    rules = _mode_rules(comps, order, elderly)
    for i, why in enumerate(safe):
        rules.reasons[i].extend(why)
    seq, visible = rules.seq, rules.visible
    segments, units, unit_region, unit_of = _regions(comps, seq)
    is_entry = entry_units(comps, units)
    base_order = tuple(i for i in seq if visible[i])
    base_pos = [-1] * len(comps)
    for p, i in enumerate(base_order):
        base_pos[i] = p
    explore_hidden = tuple(
        i
        for i in seq
        if not visible[i]
        and not comps[i].pinned
        and not comps[i].show_for
        and comps[i].placement == "flow"
        and comps[i].interactive
    )
    targets, floors, floor_reasons = _sizes(comps, base_order, elderly, policy, rules.reasons)
    page_reasons = list(rules.page_reasons)
    line_height = theme.line_height
    if elderly and line_height < policy.elderly_line_height:
        line_height = policy.elderly_line_height
        page_reasons.append(Reason.ELDERLY_LINE_HEIGHT)
    if elderly:
        page_reasons.extend(PAGE_NEEDS)
    return VariantBase(
        variant=variant,
        mode=mode,
        comps=comps,
        seq=tuple(seq),
        base_visible=tuple(visible),
        base_order=base_order,
        base_pos=tuple(base_pos),
        base_ids=tuple(comps[i].id for i in base_order),
        base_index={comps[i].id: p for p, i in enumerate(base_order)},
        base_placements={comps[i].id: comps[i].placement for i in base_order},
        pinned_ids=tuple(comps[i].id for i in base_order if comps[i].pinned),
        segments=tuple(segments),
        units=tuple(units),
        unit_region=tuple(unit_region),
        unit_of=tuple(unit_of),
        unit_key=tuple(comps[u[0]].key for u in units),
        unit_interactive=tuple(any(comps[i].interactive for i in u) for u in units),
        segment_rules=tuple(_segment_rules(comps, seq, visible, elderly)),
        action_rows=_action_rows(comps, rules),
        explore_hidden=explore_hidden,
        target_px=tuple(targets),
        font_floor=tuple(floors),
        font_floor_reason=tuple(floor_reasons),
        static_reasons=tuple(tuple(r) for r in rules.reasons),
        page_reasons=tuple(page_reasons),
        font_px=theme.font_px,
        line_height=line_height,
        has_voice_nav=any(c.type in ELDERLY_SHOW_TYPES and not rules.hidden[c.idx] for c in comps),
        paragraph_spacing=policy.elderly_paragraph_spacing if elderly else 0.0,
        target_gap=policy.elderly_target_gap_px if elderly else 0.0,
        reflowable=frozenset(c.idx for c in comps if elderly and c.column_prop),
        has_help=elderly and any(c.help and rules.visible[c.idx] for c in comps),
        entry_units=is_entry,
        seq_entries=tuple(entries_in(seq, unit_of, is_entry)),
    )
