"""Colour props against the palettes a page is served with: one rule for lint and serving.

A colour prop (catalogue `PropSpec` of type `colour`) paints `text`, a `background` under the
palette's text, or a `ui` part. Text needs the text floor of its size: WCAG's "large scale" text
(`policy.large_text_px`, 24 px; `large_bold_text_px`, 18.66 px, when the type draws bold) uses
`large_text_contrast` (3:1, WCAG 1.4.3) or, on an enhanced palette, `enhanced_large_text_contrast`
(4.5:1, WCAG 1.4.6); other text `text_contrast` / `enhanced_text_contrast`; `ui` parts
`ui_contrast` (WCAG 1.4.11).

Lint refuses a colour that fails on the standard palettes (light, dark). On an enhanced palette
(high contrast, elderly mode) a failing colour is not served: the user's need beats the
designer's colour (`enhanced_drops`, computed once in compile).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from uiserver.engine.contrast import contrast_ratio
from uiserver.policy import Policy
from uiserver.schema import ComponentType, LayoutPalette

# (large text, enhanced palette) -> (policy field, criterion).
TEXT_FLOORS: Mapping[tuple[bool, bool], tuple[str, str]] = {
    (False, False): ("text_contrast", "WCAG 1.4.3"),
    (True, False): ("large_text_contrast", "WCAG 1.4.3, large text"),
    (False, True): ("enhanced_text_contrast", "WCAG 1.4.6"),
    (True, True): ("enhanced_large_text_contrast", "WCAG 1.4.6, large text"),
}


def is_large_text(font_px: float, bold: bool, policy: Policy) -> bool:
    """WCAG's "large scale" text with the policy's sizes (24 px, or 18.66 px bold)."""
    return font_px >= policy.large_text_px or (bold and font_px >= policy.large_bold_text_px)


def text_floor(font_px: float, bold: bool, enhanced: bool, policy: Policy) -> tuple[float, str]:
    """The contrast text of this size needs on a standard or enhanced palette, and why."""
    field, source = TEXT_FLOORS[is_large_text(font_px, bold, policy), enhanced]
    value: float = getattr(policy, field)
    return value, f"{source}, policy.{field}"


def colour_problem(
    name: str,
    colour: str,
    role: str,
    font_px: float,
    bold: bool,
    palette: LayoutPalette,
    palette_name: str,
    enhanced: bool,
    policy: Policy,
) -> str | None:
    """Why colour prop `name` fails on `palette`, or None when it reads well there."""
    if role == "ui":
        need, why = policy.ui_contrast, "WCAG 1.4.11, policy.ui_contrast"
    else:
        need, why = text_floor(font_px, bold, enhanced, policy)
    # (what it is measured against, that colour, foreground, background)
    if role == "background":
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


def enhanced_drops(
    props: Sequence[Mapping[str, object]],
    types: Sequence[ComponentType],
    fonts: Sequence[float],
    palette: LayoutPalette,
    policy: Policy,
) -> dict[int, tuple[str, ...]]:
    """By component index: the colour props not to serve on the enhanced `palette`."""
    drops: dict[int, tuple[str, ...]] = {}
    for i, (values, ctype) in enumerate(zip(props, types, strict=True)):
        bad = tuple(
            key
            for key, value in values.items()
            if (spec := ctype.props.get(key)) is not None
            and spec.type == "colour"
            and spec.colour_role is not None
            and isinstance(value, str)
            and colour_problem(
                key,
                value,
                spec.colour_role,
                fonts[i],
                ctype.bold_text,
                palette,
                "enhanced",
                True,
                policy,
            )
            is not None
        )
        if bad:
            drops[i] = bad
    return drops
