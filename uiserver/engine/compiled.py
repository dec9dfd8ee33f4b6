"""`compile`: everything about a template version that does not depend on the user.

Done once per (template, version): catalogue lookups, labels, variant orders and props, the
elderly partition, the movable regions, the base order of every (variant, mode), targets and
font floors, and the palettes for every (dark, enhanced). A request then only reads tuples.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from itertools import accumulate
from typing import Any

from uiserver.catalog import Catalog
from uiserver.engine.explain import Reason
from uiserver.engine.rules import (
    ELDERLY_HIDE,
    ELDERLY_SHOW_TYPES,
    LARGEST_STEP_ROLES,
    PLACEMENT_ROW,
)
from uiserver.engine.theme import resolve_palette
from uiserver.policy import Policy
from uiserver.schema import ComponentSpec, ComponentType, LayoutPalette, Template, ThemeSpec
from uiserver.types import Mode

MODES: tuple[Mode, ...] = ("standard", "elderly")


class CompileError(ValueError):
    """The template cannot be served with this catalogue (lint should have caught it)."""


@dataclass(frozen=True, slots=True)
class Comp:
    """One component instance, resolved against the catalogue for one variant."""

    idx: int
    id: str
    type: str
    role: str
    label: str
    label_fallback: bool
    pinned: bool
    visible: bool
    key: str  # affinity key: the category, else the id
    placement: str
    props: Mapping[str, Any]
    font_px: float
    min_font_px: float
    target_px: float
    interactive: bool
    image: bool
    animated: bool
    grid: bool
    columns: int
    main: bool
    action: bool
    essential: bool
    ad: bool
    promo: bool
    show_for: frozenset[str]
    hide_for: frozenset[str]


# A region is a run of movable components between fixed ones; inside it, consecutive
# components sharing an affinity key form a unit that moves as one (a section title with its
# grid). Segment: a fixed component index, or a region (tuple of unit ids).
Segment = int | tuple[int, ...]


@dataclass(frozen=True, slots=True)
class View:
    """The base of one (variant, mode): what personalization starts from and is measured by."""

    variant: str | None
    mode: Mode
    comps: tuple[Comp, ...]
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
    segment_rules: tuple[tuple[int, frozenset[str], bool], ...]  # (idx, segments, show?)
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


class CompiledTemplate:
    """A template version prepared for serving; immutable, shared by every request."""

    __slots__ = (
        "comps_by_id",
        "cumulative",
        "experiment",
        "has_grid",
        "ids",
        "index",
        "page",
        "palettes",
        "template",
        "variant_names",
        "version",
        "views",
    )

    def __init__(
        self,
        template: Template,
        version: str,
        views: Mapping[tuple[str | None, Mode], View],
        palettes: Mapping[tuple[str | None, bool, bool], tuple[LayoutPalette, tuple[str, ...]]],
    ) -> None:
        self.template = template
        self.version = version
        self.page = template.page
        self.experiment = template.experiment
        self.variant_names = tuple(v.name for v in template.variants)
        self.cumulative = tuple(accumulate(v.weight for v in template.variants))
        self.views = views
        self.palettes = palettes
        self.ids = tuple(c.id for c in template.components)
        self.index = {cid: i for i, cid in enumerate(self.ids)}
        base = views[None, "standard"].comps
        self.comps_by_id = {c.id: c for c in base}
        self.has_grid = any(c.grid and c.columns > 0 for c in base)


def _humanize(name: str) -> str:
    return name.replace("_", " ").strip().capitalize()


def _comp(
    i: int, spec: ComponentSpec, ctype: ComponentType, theme: ThemeSpec, patch: Mapping[str, Any]
) -> Comp:
    interactive = ctype.interactive or ctype.action
    needs_label = ctype.label_required or interactive or ctype.image
    label = (spec.label or "").strip()
    fallback = needs_label and not label
    if fallback:
        label = ctype.description.strip() or _humanize(ctype.name)
    font = spec.font_px or round(ctype.default_font_px * theme.font_px / 16.0, 1)
    target = max(spec.min_target_px or ctype.default_target_px, ctype.min_target_px)
    props = {**spec.props, **patch} if patch else dict(spec.props)
    return Comp(
        idx=i,
        id=spec.id,
        type=spec.type,
        role=ctype.role,
        label=label,
        label_fallback=fallback,
        pinned=spec.pinned,
        visible=spec.visible,
        key=spec.category or spec.id,
        placement=spec.placement,
        props=props,
        font_px=font,
        min_font_px=ctype.min_font_px,
        target_px=target,
        interactive=interactive,
        image=ctype.image,
        animated=ctype.animated,
        grid=ctype.grid,
        columns=ctype.columns,
        main=ctype.main if spec.main is None else spec.main,
        action=ctype.action,
        essential=ctype.essential,
        ad=ctype.ad,
        promo=ctype.promo,
        show_for=frozenset(spec.show_for_segments),
        hide_for=frozenset(spec.hide_for_segments),
    )


def _variant_seq(template: Template, order: list[str] | None) -> list[int]:
    """The variant's order: listed ids first, then unlisted ones in template order."""
    index = {c.id: i for i, c in enumerate(template.components)}
    seq: list[int] = []
    seen: set[int] = set()
    for cid in order or ():
        i = index.get(cid)
        if i is not None and i not in seen:
            seq.append(i)
            seen.add(i)
    seq.extend(i for i in range(len(template.components)) if i not in seen)
    return seq


def _essential_first(seq: list[int], comps: tuple[Comp, ...]) -> tuple[list[int], set[int]]:
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


def _view(
    variant: str | None,
    mode: Mode,
    comps: tuple[Comp, ...],
    order: list[int],
    theme: ThemeSpec,
    policy: Policy,
) -> View:
    elderly = mode == "elderly"
    n = len(comps)
    visible = [c.visible for c in comps]
    reasons: list[list[str]] = [[] for _ in range(n)]
    page_reasons: list[str] = []
    hidden_by_mode = [False] * n
    seq = list(order)
    if elderly:
        for c in comps:
            for flag, why in ELDERLY_HIDE:
                if getattr(c, flag):
                    hidden_by_mode[c.idx] = True
                    visible[c.idx] = False
                    if why not in page_reasons:
                        page_reasons.append(why)
                    break
            show = ELDERLY_SHOW_TYPES.get(c.type)
            if show is not None and not hidden_by_mode[c.idx]:
                visible[c.idx] = True
                reasons[c.idx].append(show)
        seq = [i for i in seq if not hidden_by_mode[i]]
        seq, partitioned = _essential_first(seq, comps)
        for i in partitioned:
            reasons[i].append(Reason.ELDERLY_ESSENTIAL_FIRST)
    for c in comps:
        if c.label_fallback:
            reasons[c.idx].append(Reason.A11Y_LABEL_FALLBACK)

    # Regions and units: fixed components (pinned, or placed off the flow) are barriers.
    segments: list[Segment] = []
    units: list[tuple[int, ...]] = []
    unit_region: list[int] = []
    region: list[int] = []
    regions = 0

    def close_region() -> None:
        nonlocal region, regions
        if region:
            segments.append(tuple(region))
            regions += 1
            region = []

    for i in seq:
        c = comps[i]
        if c.pinned or c.placement != "flow":
            close_region()
            segments.append(i)
            continue
        if region and comps[units[region[-1]][-1]].key == c.key:
            units[region[-1]] = (*units[region[-1]], i)
        else:
            units.append((i,))
            unit_region.append(regions)
            region.append(len(units) - 1)
    close_region()

    unit_of = [-1] * n
    for u, members in enumerate(units):
        for i in members:
            unit_of[i] = u

    base_order = tuple(i for i in seq if visible[i])
    base_pos = [-1] * n
    for p, i in enumerate(base_order):
        base_pos[i] = p

    segment_rules: list[tuple[int, frozenset[str], bool]] = []
    for i in seq:
        c = comps[i]
        if c.pinned or (elderly and c.type in ELDERLY_SHOW_TYPES):
            continue
        if c.show_for and not visible[i]:
            segment_rules.append((i, c.show_for, True))
        if c.hide_for and visible[i]:
            segment_rules.append((i, c.hide_for, False))

    rows: dict[str, list[int]] = {}
    for c in comps:
        row = PLACEMENT_ROW.get(c.placement)
        if row is not None and c.action and visible[c.idx] and not hidden_by_mode[c.idx]:
            rows.setdefault(row, []).append(c.idx)

    explore_hidden = tuple(
        i
        for i in seq
        if not visible[i]
        and not comps[i].pinned
        and not comps[i].show_for
        and comps[i].placement == "flow"
        and comps[i].interactive
    )

    # Sizes. Targets never depend on the user, fonts only through the multiplier.
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
        target = max(target, policy.absolute_min_target_px)
        targets.append(target)
        if elderly:
            if c.idx in step_carriers:
                floors.append(max(c.min_font_px, policy.elderly_max_font_px))
                floor_reasons.append(Reason.ELDERLY_MAX_FONT)
            else:
                floors.append(max(c.min_font_px, policy.elderly_font_px))
                floor_reasons.append(Reason.ELDERLY_MIN_FONT)
        else:
            floors.append(c.min_font_px)
            floor_reasons.append(Reason.A11Y_MIN_FONT)

    line_height = theme.line_height
    if elderly and line_height < policy.elderly_line_height:
        line_height = policy.elderly_line_height
        page_reasons.append(Reason.ELDERLY_LINE_HEIGHT)
    font_px = theme.font_px

    return View(
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
        segment_rules=tuple(segment_rules),
        action_rows=tuple(tuple(r) for r in rows.values()),
        explore_hidden=explore_hidden,
        target_px=tuple(targets),
        font_floor=tuple(floors),
        font_floor_reason=tuple(floor_reasons),
        static_reasons=tuple(tuple(r) for r in reasons),
        page_reasons=tuple(page_reasons),
        font_px=font_px,
        line_height=line_height,
        has_voice_nav=any(
            c.type in ELDERLY_SHOW_TYPES and not hidden_by_mode[c.idx] for c in comps
        ),
    )


def compile_template(
    template: Template, version: str, catalog: Catalog, policy: Policy
) -> CompiledTemplate:
    """Resolve `template` against `catalog` for every (variant, mode) and palette."""
    types: list[ComponentType] = []
    seen: set[str] = set()
    for i, spec in enumerate(template.components):
        ctype = catalog.get(spec.type)
        if ctype is None:
            raise CompileError(f"components[{i}].type: unknown component type {spec.type!r}")
        if spec.id in seen:
            raise CompileError(f"components[{i}].id: duplicate id {spec.id!r}")
        seen.add(spec.id)
        types.append(ctype)

    variants: list[tuple[str | None, ThemeSpec, list[int], Mapping[str, Mapping[str, Any]]]] = [
        (None, template.theme, list(range(len(template.components))), {})
    ]
    for v in template.variants:
        variants.append(
            (v.name, v.theme or template.theme, _variant_seq(template, v.order), v.props)
        )

    views: dict[tuple[str | None, Mode], View] = {}
    palettes: dict[tuple[str | None, bool, bool], tuple[LayoutPalette, tuple[str, ...]]] = {}
    for name, theme, order, patches in variants:
        comps = tuple(
            _comp(i, spec, ctype, theme, patches.get(spec.id, {}))
            for i, (spec, ctype) in enumerate(zip(template.components, types, strict=True))
        )
        for mode in MODES:
            views[name, mode] = _view(name, mode, comps, order, theme, policy)
        for dark in (False, True):
            for enhanced in (False, True):
                palettes[name, dark, enhanced] = resolve_palette(
                    theme, policy, dark=dark, enhanced=enhanced
                )
    return CompiledTemplate(template, version, views, palettes)
