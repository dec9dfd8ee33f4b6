"""`compile`: everything about a template version that does not depend on the user.

Done once per (template, version): catalogue lookups, labels, variant orders and props
(`components`), the base of every (variant, mode) (`variant_base`: elderly partition, movable
regions, base order, targets and font floors), and the palettes for every (dark, enhanced).
A request then only reads tuples.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from uiserver.catalog import Catalog
from uiserver.engine.allocation import Allocation, initial
from uiserver.engine.components import resolve_component
from uiserver.engine.elderly import extras
from uiserver.engine.prop_colours import enhanced_drops
from uiserver.engine.theme import resolve_palette
from uiserver.engine.variant_base import VariantBase, build_variant_base
from uiserver.policy import Policy
from uiserver.schema import (
    ComponentType,
    LayoutComponent,
    LayoutPalette,
    Template,
    ThemeSpec,
)
from uiserver.types import Mode

MODES: tuple[Mode, ...] = ("standard", "elderly")


# (variant, mode, font scale, the scale's reasons): one row of static component renderings.
StaticKey = tuple[str | None, Mode, float, tuple[str, ...]]
STATIC_ROWS = 512
# Touched components as rendered (`render._component`), by launch shape (variant, mode, font
# scale and its reasons, reflow limits, speech: at most RENDERED_LAUNCHES, a few dozen in
# practice), then by what else their rendering depends on (at most RENDERED_MAX per shape: a
# page has a few hundred distinct ones). Full, a level is emptied and refilled.
RENDERED_LAUNCHES = 256
RENDERED_MAX = 4096


class CompileError(ValueError):
    """The template cannot be served with this catalogue (lint should have caught it)."""


class CompiledTemplate:
    """A template version prepared for serving; immutable, shared by every request."""

    __slots__ = (
        "allocation",
        "checked",
        "colour_drops",
        "experiment",
        "flagged",
        "has_grid",
        "ids",
        "index",
        "page",
        "palettes",
        "rendered",
        "statics",
        "template",
        "variant_weights",
        "version",
        "views",
    )

    def __init__(
        self,
        template: Template,
        version: str,
        views: Mapping[tuple[str | None, Mode], VariantBase],
        palettes: Mapping[tuple[str | None, bool, bool], tuple[LayoutPalette, tuple[str, ...]]],
        colour_drops: Mapping[tuple[str | None, bool], Mapping[int, tuple[str, ...]]],
        allocation: Allocation | None = None,
    ) -> None:
        self.template = template
        self.version = version
        self.page = template.page
        self.experiment = template.experiment
        self.variant_weights = tuple((v.name, v.weight) for v in template.variants)
        # bucket -> variant (`engine.allocation`): the version's stored allocation, else the
        # initial one; None without an experiment (or with no weight above 0)
        self.allocation = allocation if allocation is not None else initial_allocation(template)
        self.views = views
        self.palettes = palettes
        # (variant, dark) -> component index -> colour props not served on the enhanced palette
        self.colour_drops = colour_drops
        self.ids = tuple(c.id for c in template.components)
        self.index = {cid: i for i, cid in enumerate(self.ids)}
        base = views[None, "standard"].comps
        self.has_grid = any(c.grid and c.columns > 0 for c in base)
        # Per (variant, mode, font scale, its reasons): each component as rendered when nothing
        # else about the launch touches it (no per-plan reason, placement or prop patch). Filled
        # on first use by `render` (at most STATIC_ROWS rows; scales are rounded to 0.001, a
        # few dozen in practice) and handed out shared instead of building 45 Structs per call,
        # so a rendered Layout's components must never be mutated (nothing in uiserver does).
        self.statics: dict[StaticKey, tuple[LayoutComponent, ...]] = {}
        # Touched components as rendered (`render`), shared like `statics` (never mutated).
        self.rendered: dict[tuple[Any, ...], dict[tuple[Any, ...], LayoutComponent]] = {}
        # Per variant: the component indices each prop rule's catalogue flag selects (filled
        # on first use by `render`, which knows the rules).
        self.flagged: dict[str | None, dict[str, frozenset[int]]] = {}
        # The final check's memo of component verdicts (`check`: keyed by the check context,
        # then by a component's encoded bytes; bounded there). Owned by `check`, shared by
        # `allocated` twins (same views), not by `forced` ones (other views).
        self.checked: dict[Any, dict[bytes, Any]] = {}

    def forced(self, variant: str) -> CompiledTemplate:
        """This template with `variant`'s views, palettes and colour drops standing in for the
        base's, so a caller without a bucket (an anonymous persona preview) gets that variant;
        an unknown variant leaves the base as it is."""
        views = dict(self.views)
        views.update({(None, mode): v for (name, mode), v in self.views.items() if name == variant})
        palettes = dict(self.palettes)
        palettes.update(
            {
                (None, dark, enhanced): palette
                for (name, dark, enhanced), palette in self.palettes.items()
                if name == variant
            }
        )
        drops = dict(self.colour_drops)
        drops.update(
            {(None, dark): d for (name, dark), d in self.colour_drops.items() if name == variant}
        )
        return CompiledTemplate(
            self.template, self.version, views, palettes, drops, self.allocation
        )

    def allocated(self, allocation: Allocation | None) -> CompiledTemplate:
        """This template version serving `allocation` (a stored one; None: the initial one),
        sharing everything else; a new object, so memo entries made from this one lapse."""
        twin = CompiledTemplate(
            self.template, self.version, self.views, self.palettes, self.colour_drops, allocation
        )
        twin.statics = self.statics
        twin.rendered = self.rendered
        twin.flagged = self.flagged
        twin.checked = self.checked
        return twin


def initial_allocation(template: Template) -> Allocation | None:
    """The initial allocation of the template's experiment; None without one (or when no
    variant weighs above 0, which lint refuses)."""
    weights = tuple((v.name, v.weight) for v in template.variants)
    if template.experiment is None or not any(w > 0 for _, w in weights):
        return None
    return initial(template.experiment, weights)


def static_row(ct: CompiledTemplate, key: StaticKey) -> tuple[LayoutComponent, ...] | None:
    """The shared static renderings for `key` (made and registered on first use), or None once
    STATIC_ROWS rows exist (the caller then renders every component itself)."""
    row = ct.statics.get(key)
    if row is None and len(ct.statics) < STATIC_ROWS:
        view = ct.views[key[0], key[1]]
        row = ct.statics[key] = static_components(view, key[2], key[3])
    return row


def static_components(
    view: VariantBase, scale: float = 1.0, font_reasons: tuple[str, ...] = ()
) -> tuple[LayoutComponent, ...]:
    """Every component of `view` as `render` builds it for a plan that changes nothing about
    it but the font scale: the font scaled (rounded to 0.1 px) then raised to the view's floor,
    the view's static reasons, then the scale's and the floor's."""
    out: list[LayoutComponent] = []
    for i, c in enumerate(view.comps):
        reasons = list(view.static_reasons[i])
        font = c.font_px
        if scale != 1.0:
            font = round(font * scale, 1)
            reasons.extend(font_reasons)
        if font < view.font_floor[i]:
            font = view.font_floor[i]
            reasons.append(view.font_floor_reason[i])
        more = extras(c, font, view)
        out.append(
            LayoutComponent(
                c.id,
                c.type,
                c.role,
                c.label,
                font,
                view.target_px[i],
                c.placement,
                c.pinned,
                dict(c.props),
                reasons,
                **more,
            )
        )
    return tuple(out)


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


def movable_components(template: Template) -> list[bool]:
    """By component index: does it sit in a movable zone? A template that declares no zones is
    one movable zone (as before zones existed)."""
    if not template.zones:
        return [True] * len(template.components)
    movable = {z.name for z in template.zones if z.movable}
    return [c.zone in movable for c in template.components]


def compile_template(
    template: Template,
    version: str,
    catalog: Catalog,
    policy: Policy,
    allocation: Allocation | None = None,
) -> CompiledTemplate:
    """Resolve `template` against `catalog` for every (variant, mode) and palette; serve
    `allocation` (the version's stored one; None: the initial allocation)."""
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

    movable = movable_components(template)
    views: dict[tuple[str | None, Mode], VariantBase] = {}
    palettes: dict[tuple[str | None, bool, bool], tuple[LayoutPalette, tuple[str, ...]]] = {}
    drops: dict[tuple[str | None, bool], dict[int, tuple[str, ...]]] = {}
    for name, theme, order, patches in variants:
        comps = tuple(
            resolve_component(
                i,
                spec,
                ctype,
                theme,
                patches.get(spec.id, {}),
                page=template.page,
                movable=movable[i],
            )
            for i, (spec, ctype) in enumerate(zip(template.components, types, strict=True))
        )
        for mode in MODES:
            views[name, mode] = build_variant_base(name, mode, comps, order, theme, policy)
        for dark in (False, True):
            for enhanced in (False, True):
                palettes[name, dark, enhanced] = resolve_palette(
                    theme, policy, dark=dark, enhanced=enhanced
                )
            if any(t.props for t in types):
                found = enhanced_drops(
                    [c.props for c in comps],
                    types,
                    [c.font_px for c in comps],
                    palettes[name, dark, True][0],
                    policy,
                )
                if found:
                    drops[name, dark] = found
    return CompiledTemplate(template, version, views, palettes, drops, allocation)
