"""Lint of component `props` against each type's catalogue schema (`ComponentType.props`).

Refused, in this order (one problem per prop, the one that matters):
- `autoplay: true`: motion starts when the user starts it (WCAG 2.2.2; MIIT 5.1 no auto-play); the
  engine sets `autoplay: false` itself under reduced motion;
- a fixed height on a type that draws text: text must reflow at font scale 2.0 (WCAG 1.4.4, 1.4.12);
- a prop the type does not declare (with a "did you mean"), a value of the wrong type, outside the
  `enum` or the `minimum`/`maximum`;
- a colour that breaks contrast on a standard palette the page is served with (light and dark, as
  the engine's `resolve_palette` gives them); text colours use the large-text floor for large text
  (`uiserver.engine.prop_colours`, the rule serving applies to the enhanced palettes).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from uiserver.catalog import Catalog
from uiserver.engine.prop_colours import colour_problem
from uiserver.engine.theme import resolve_palette
from uiserver.policy import Policy
from uiserver.schema import (
    ComponentSpec,
    ComponentType,
    LayoutPalette,
    Problem,
    Template,
    ThemeSpec,
)
from uiserver.types import TEXTLESS_ROLES

HEX = re.compile(r"#[0-9A-Fa-f]{6}")  # whole string: `fullmatch` (a `$` passes "...\n")

# Props that fix a box's height: text in it clips when the user scales fonts (WCAG 1.4.4, 1.4.12).
FIXED_HEIGHT_PROPS = frozenset({"height", "fixed_height", "max_height", "min_height_px"})

TYPE_CHECKS: Mapping[str, Callable[[Any], bool]] = {
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "colour": lambda v: isinstance(v, str) and HEX.fullmatch(v) is not None,
    "list": lambda v: isinstance(v, list),
    "object": lambda v: isinstance(v, dict),
}

# The standard palettes lint holds colours to; on the enhanced ones (high contrast, elderly) a
# failing colour is simply not served (`engine.prop_colours.enhanced_drops`).
PALETTE_NAMES: Mapping[bool, str] = {False: "light", True: "dark"}

# (served palette, its name)
Served = tuple[LayoutPalette, str]


def served_palettes(theme: ThemeSpec, policy: Policy) -> list[Served]:
    """The standard palettes a page with `theme` is served with, as serving resolves them."""
    return [
        (resolve_palette(theme, policy, dark=dark, enhanced=False)[0], name)
        for dark, name in PALETTE_NAMES.items()
    ]


def prop_problem(
    name: str,
    value: Any,
    ctype: ComponentType,
    font_px: float,
    palettes: list[Served],
    policy: Policy,
) -> str | None:
    """What is wrong with one prop of a `ctype` instance drawn at `font_px`, or None."""
    if name == "autoplay" and value is True:
        return (
            "autoplay: true is refused: motion starts when the user starts it (WCAG 2.2.2; "
            "MIIT 5.1); leave it out, the engine turns auto-play off under reduced motion"
        )
    if name in FIXED_HEIGHT_PROPS and ctype.role not in TEXTLESS_ROLES:
        return (
            f"a fixed {name} on a {ctype.name} clips its text when the user scales fonts up to "
            "2.0 (WCAG 1.4.4, 1.4.12); let the height follow the content"
        )
    spec = ctype.props.get(name)
    if spec is None:
        close = difflib.get_close_matches(name, list(ctype.props), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        known = ", ".join(sorted(ctype.props)) or "none"
        return f"unknown prop {name!r} for a {ctype.name}{hint} (known: {known})"
    if not TYPE_CHECKS[spec.type](value):
        shape = "#RRGGBB" if spec.type == "colour" else spec.type
        return f"{name} must be {shape}, not {value!r}"
    if spec.enum is not None and value not in spec.enum:
        return f"{name} {value!r} is not one of {spec.enum}"
    if spec.minimum is not None and value < spec.minimum:
        return f"{name} {value!r} is below the minimum {spec.minimum:g}"
    if spec.maximum is not None and value > spec.maximum:
        return f"{name} {value!r} is above the maximum {spec.maximum:g}"
    if spec.type == "colour" and spec.colour_role is not None:
        for palette, palette_name in palettes:
            problem = colour_problem(
                name,
                value,
                spec.colour_role,
                font_px,
                ctype.bold_text,
                palette,
                palette_name,
                False,
                policy,
            )
            if problem is not None:
                return problem
    return None


def _font(spec: ComponentSpec, ctype: ComponentType, theme: ThemeSpec) -> float:
    """The component's standard-mode font, as the engine resolves it."""
    return spec.font_px or round(ctype.default_font_px * theme.font_px / 16.0, 1)


def check_props(template: Template, catalog: Catalog, policy: Policy) -> Iterator[Problem]:
    """Every component's props, and every variant's patch of them, against the type's schema."""
    themes = [template.theme] + [v.theme for v in template.variants if v.theme is not None]
    palettes = [p for theme in themes for p in served_palettes(theme, policy)]
    index = {spec.id: i for i, spec in enumerate(template.components)}
    patches: list[tuple[str, int, Mapping[str, Any]]] = [
        (f"components[{i}].props", i, spec.props) for i, spec in enumerate(template.components)
    ]
    for j, variant in enumerate(template.variants):
        for cid, props in variant.props.items():
            if cid in index and props:
                patches.append((f"variants[{j}].props.{cid}", index[cid], props))
    for where, i, values in patches:
        spec = template.components[i]
        ctype = catalog.get(spec.type)
        if ctype is None:
            continue  # reported as an unknown type
        font = min(_font(spec, ctype, theme) for theme in themes)
        for name, value in values.items():
            if where.startswith("variants") and name == "label":
                continue  # reported by the variant check
            message = prop_problem(name, value, ctype, font, palettes, policy)
            if message is not None:
                yield Problem(f"{where}.{name}", message)
