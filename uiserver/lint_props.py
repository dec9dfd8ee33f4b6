"""Lint of component `props` against each type's catalogue schema (`ComponentType.props`).

Refused, in this order (one problem per prop, the one that matters):
- `autoplay: true`: motion starts when the user starts it (WCAG 2.2.2; MIIT 5.1 no auto-play); the
  engine sets `autoplay: false` itself under reduced motion;
- a fixed height on a type that draws text: text must reflow at font scale 2.0 (WCAG 1.4.4, 1.4.12);
- a prop the type does not declare (with a "did you mean"), a value of the wrong type, outside the
  `enum` or the `minimum`/`maximum`;
- a colour that breaks contrast on a palette the page can be served with (light, dark, and the
  enhanced ones of high-contrast and elderly mode: the engine's own `resolve_palette`). Text
  colours use the large-text floors for large text (`policy.large_text_px`, or
  `large_bold_text_px` when the type draws bold): WCAG 1.4.3 / 1.4.6; `ui` colours WCAG 1.4.11.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from uiserver.catalog import Catalog
from uiserver.engine.contrast import contrast_ratio
from uiserver.engine.theme import resolve_palette
from uiserver.policy import Policy
from uiserver.schema import (
    ComponentSpec,
    ComponentType,
    LayoutPalette,
    Problem,
    PropSpec,
    Template,
    ThemeSpec,
)

HEX = re.compile(r"^#[0-9A-Fa-f]{6}$")

# Props that fix a box's height: text in it clips when the user scales fonts (WCAG 1.4.4, 1.4.12).
FIXED_HEIGHT_PROPS = frozenset({"height", "fixed_height", "max_height", "min_height_px"})
# Roles that draw no text of their own (a fixed height is an image's aspect, not clipped text).
TEXTLESS_ROLES = frozenset({"image"})

TYPE_CHECKS: Mapping[str, Callable[[Any], bool]] = {
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "colour": lambda v: isinstance(v, str) and HEX.match(v) is not None,
    "list": lambda v: isinstance(v, list),
    "object": lambda v: isinstance(v, dict),
}

# (large text, enhanced palette) -> (policy field, criterion).
TEXT_FLOORS: Mapping[tuple[bool, bool], tuple[str, str]] = {
    (False, False): ("text_contrast", "WCAG 1.4.3"),
    (True, False): ("large_text_contrast", "WCAG 1.4.3, large text"),
    (False, True): ("enhanced_text_contrast", "WCAG 1.4.6"),
    (True, True): ("enhanced_large_text_contrast", "WCAG 1.4.6, large text"),
}

PALETTE_NAMES: Mapping[tuple[bool, bool], str] = {
    (False, False): "light",
    (True, False): "dark",
    (False, True): "high-contrast",
    (True, True): "dark high-contrast",
}

# (served palette, its name, enhanced?)
Served = tuple[LayoutPalette, str, bool]


def is_large_text(font_px: float, bold: bool, policy: Policy) -> bool:
    """WCAG's "large scale" text, with the policy's sizes (24 px, or 18.66 px bold)."""
    return font_px >= policy.large_text_px or (bold and font_px >= policy.large_bold_text_px)


def text_floor(font_px: float, bold: bool, enhanced: bool, policy: Policy) -> tuple[float, str]:
    """The contrast text of this size needs on a standard or enhanced palette, and why."""
    field, source = TEXT_FLOORS[is_large_text(font_px, bold, policy), enhanced]
    value: float = getattr(policy, field)
    return value, f"{source}, policy.{field}"


def served_palettes(theme: ThemeSpec, policy: Policy) -> list[Served]:
    """Every palette a page with `theme` can be served with, as serving resolves it."""
    return [
        (resolve_palette(theme, policy, dark=dark, enhanced=enhanced)[0], name, enhanced)
        for (dark, enhanced), name in PALETTE_NAMES.items()
    ]


def _colour_problem(
    name: str, colour: str, spec: PropSpec, font_px: float, bold: bool,
    palettes: list[Served], policy: Policy,
) -> str | None:
    for palette, palette_name, enhanced in palettes:
        if spec.colour_role == "ui":
            need, why = policy.ui_contrast, "WCAG 1.4.11, policy.ui_contrast"
        else:
            need, why = text_floor(font_px, bold, enhanced, policy)
        # (what it is measured against, that colour, foreground, background)
        if spec.colour_role == "background":
            pairs = [
                ("text", palette.text, palette.text, colour),
                ("muted text", palette.muted, palette.muted, colour),
            ]
        else:
            pairs = [
                ("background", palette.background, colour, palette.background),
                ("surface", palette.surface, colour, palette.surface),
            ]
        for what, against, fg, bg in pairs:
            ratio = contrast_ratio(fg, bg)
            if ratio < need:
                return (
                    f"{name} {colour} against the {palette_name} palette's {what} {against} has "
                    f"contrast {ratio:.2f}:1, below {need:g}:1 ({why}); use a palette colour"
                )
    return None


def prop_problem(
    name: str, value: Any, ctype: ComponentType, font_px: float,
    palettes: list[Served], policy: Policy,
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
    if spec.type == "colour":
        return _colour_problem(name, value, spec, font_px, ctype.bold_text, palettes, policy)
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
    for where, i, props in patches:
        spec = template.components[i]
        ctype = catalog.get(spec.type)
        if ctype is None:
            continue  # reported as an unknown type
        font = min(_font(spec, ctype, theme) for theme in themes)
        for name, value in props.items():
            if where.startswith("variants") and name == "label":
                continue  # reported by the variant check
            message = prop_problem(name, value, ctype, font, palettes, policy)
            if message is not None:
                yield Problem(f"{where}.{name}", message)
