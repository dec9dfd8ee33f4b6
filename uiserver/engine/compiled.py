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
from uiserver.engine.components import resolve_component
from uiserver.engine.prop_colours import enhanced_drops
from uiserver.engine.theme import resolve_palette
from uiserver.engine.variant_base import VariantBase, build_variant_base
from uiserver.policy import Policy
from uiserver.schema import ComponentType, LayoutPalette, Template, ThemeSpec
from uiserver.types import Mode

MODES: tuple[Mode, ...] = ("standard", "elderly")


class CompileError(ValueError):
    """The template cannot be served with this catalogue (lint should have caught it)."""


class CompiledTemplate:
    """A template version prepared for serving; immutable, shared by every request."""

    __slots__ = (
        "colour_drops",
        "experiment",
        "has_grid",
        "ids",
        "index",
        "page",
        "palettes",
        "template",
        "variant_names",
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
    ) -> None:
        self.template = template
        self.version = version
        self.page = template.page
        self.experiment = template.experiment
        self.variant_names = tuple(v.name for v in template.variants)
        self.variant_weights = tuple((v.name, v.weight) for v in template.variants)
        self.views = views
        self.palettes = palettes
        # (variant, dark) -> component index -> colour props not served on the enhanced palette
        self.colour_drops = colour_drops
        self.ids = tuple(c.id for c in template.components)
        self.index = {cid: i for i, cid in enumerate(self.ids)}
        base = views[None, "standard"].comps
        self.has_grid = any(c.grid and c.columns > 0 for c in base)


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

    movable = movable_components(template)
    views: dict[tuple[str | None, Mode], VariantBase] = {}
    palettes: dict[tuple[str | None, bool, bool], tuple[LayoutPalette, tuple[str, ...]]] = {}
    drops: dict[tuple[str | None, bool], dict[int, tuple[str, ...]]] = {}
    for name, theme, order, patches in variants:
        comps = tuple(
            resolve_component(
                i, spec, ctype, theme, patches.get(spec.id, {}),
                page=template.page, movable=movable[i],
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
                    [c.props for c in comps], types, [c.font_px for c in comps],
                    palettes[name, dark, True][0], policy,
                )
                if found:
                    drops[name, dark] = found
    return CompiledTemplate(template, version, views, palettes, drops)
